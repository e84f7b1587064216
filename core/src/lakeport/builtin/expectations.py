"""Built-in plugin: applies a table's expectations to every write through the writer hooks."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from lakeport import hookimpl
from lakeport.errors import ConfigError

if TYPE_CHECKING:
    from lakeport.context import WriteContext, WriteResult
    from lakeport.expectations import ExpectationResults

log = logging.getLogger(__name__)


@hookimpl
def lakeport_before_write(write: WriteContext) -> None:
    handle = write.handle
    if not handle.expectations:
        return
    from lakeport.expectations.engine import ExpectationEngine

    engine = ExpectationEngine(handle.expectations, table=handle.table)
    quarantine_target = _quarantine_target(handle) if any(r.action == "quarantine" for r in engine.rules) else None
    source = write.df
    prepared = engine.prepare(source, rule_mask=handle.counts_rule_mask(write.mode))
    write.df = prepared.df
    if prepared.rule_mask is not None:  # the handle's writer filters and counts; see lakeport.expectations.mask
        write.options["rule_mask"] = prepared.rule_mask

    def explain_failure(exc: BaseException) -> None:
        failure = engine.failure(source, exc)
        if failure is not None:
            raise failure from None

    def record(result: WriteResult) -> None:
        if result.skipped:  # a replayed idempotent write never ran the plan
            return
        results = prepared.results(
            mode=write.mode, batch_id=write.batch_id, version=result.version, counts=result.rule_counts
        )
        result.expectations = results
        if quarantine_target is not None and results.rows_quarantined:
            quarantine_target.append(engine.quarantined_rows(source))
        custom = handle.hooks.expectation_actions()
        for rule in results.rules:
            if rule.action in custom:
                custom[rule.action](rule, results)
        _log_results(results)
        handle.hooks.expectation_results(results)
        _write_event_log(handle, results)

    write.on_failure(explain_failure)
    write.after_commit(record)


def _quarantine_target(handle: Any) -> Any:
    target = handle.quarantine_table
    if target is None:
        raise ConfigError(
            f"tables.{handle.table}.quarantine_table: a rule has action \"quarantine\" but the table names no "
            "quarantine_table"
        )
    if isinstance(target, str):
        if handle.project is None:
            raise ConfigError(f"{handle.table}: quarantine_table {target!r} needs a project; pass a handle instead")
        return handle.project.handle(target)
    return target


def _log_results(results: ExpectationResults) -> None:
    failing = ", ".join(f"{r.name}={r.failed}" for r in results.rules if r.failed)
    log.info(
        "%s: %d rows in, %d written, %d dropped, %d quarantined%s",
        results.table,
        results.rows_in,
        results.rows_written,
        results.rows_dropped,
        results.rows_quarantined,
        f" (failing: {failing})" if failing else "",
    )


def _write_event_log(handle: Any, results: ExpectationResults) -> None:
    project = handle.project
    if project is None or not project.config.settings.event_log:
        return
    event_log = project.handle(project.config.settings.event_log)
    rows = [
        (results.at, results.table, results.mode, results.batch_id, results.version, results.rows_in,
         results.rows_written, rule.name, rule.action, rule.constraint, rule.failed)
        for rule in results.rules
    ]
    schema = (
        "timestamp TIMESTAMP, table STRING, mode STRING, batch_id BIGINT, version BIGINT, rows_in BIGINT, "
        "rows_written BIGINT, rule STRING, action STRING, constraint STRING, failed BIGINT"
    )
    event_log.append(handle.spark.createDataFrame(rows, schema))
