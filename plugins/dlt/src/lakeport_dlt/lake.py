"""Where a dlt pipeline's datasets land locally, and how flows write them.

Each persisted dataset is a Delta table at ``WAREHOUSE/SCHEMA/NAME``, declared
to the project as a table of kind ``delta`` so it is written through the
handle (and its expectations) like any lakeport table. A streaming flow is a
foreachBatch query with its own checkpoint whose batches are idempotent
appends (``txn`` = the flow's app id and the batch id): exactly once, and a
rerun takes only new input.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

import attrs

from lakeport.api import LakeportError, active_session, describe_rule

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from lakeport.api import Handle, Project, WriteResult

log = logging.getLogger(__name__)

DEFAULT_SCHEMA = "default"
EVENT_LOG = "_event_log"
EVENT_LOG_SCHEMA = (
    "pipeline STRING, update_id STRING, timestamp TIMESTAMP, flow STRING, target STRING, flow_type STRING, "
    "status STRING, error STRING, batches INT, rows_in BIGINT, rows_written BIGINT, "
    "expectations ARRAY<STRUCT<name: STRING, action: STRING, passed: BIGINT, failed: BIGINT>>, seconds DOUBLE"
)


@attrs.define
class FlowReport:
    """What one flow (or one recomputed table) did in this run."""

    flow: str
    target: str
    kind: str
    batches: int = 0
    rows_in: int = 0
    rows_written: int = 0
    #: rule -> rows it failed; with the rule's action.
    failed: dict[str, int] = attrs.field(factory=dict)
    actions: dict[str, str] = attrs.field(factory=dict)
    version: int | None = None
    seconds: float = 0.0
    #: ``completed``, or ``failed`` with ``error``.
    status: str = "completed"
    error: str | None = None

    def add(self, result: WriteResult) -> None:
        self.batches += 1
        self.version = result.version if result.version is not None else self.version
        expectations = result.expectations
        if result.skipped:
            return
        if expectations is not None:
            self.rows_in += expectations.rows_in
            self.rows_written += expectations.rows_written
            for rule in expectations.rules:
                self.failed[rule.name] = self.failed.get(rule.name, 0) + rule.failed
                self.actions[rule.name] = rule.action
        elif result.rows_written is not None:
            self.rows_in += result.rows_written
            self.rows_written += result.rows_written

    def line(self) -> str:
        if self.status == "failed":
            return f"{self.flow} -> {self.target}: failed after {self.seconds:.1f} s: {self.error}"
        parts = [f"{self.flow} -> {self.target} ({self.kind})", f"{self.rows_in} rows in, {self.rows_written} written"]
        parts += [describe_rule(rule, self.actions[rule], count) for rule, count in self.failed.items()]
        if self.version is not None:
            parts.append(f"version {self.version}")
        parts.append(f"{self.seconds:.1f} s")
        return ", ".join(parts)


SUMMARY_COLUMNS = ("flow", "dataset", "kind", "rows in", "written", "dropped", "seconds", "failed expectations")


def summary_table(reports: Iterable[FlowReport]) -> list[str]:
    """One row per flow, aligned, for the end of a run: what each flow read, wrote and dropped."""
    rows = [SUMMARY_COLUMNS]
    for r in reports:
        if r.status == "failed":
            detail = f"FAILED: {r.error}"
            counts = ("-", "-", "-")
        else:
            detail = ", ".join(f"{rule}: {count}" for rule, count in r.failed.items() if count) or "-"
            counts = (str(r.rows_in), str(r.rows_written), str(r.rows_in - r.rows_written))
        rows.append((r.flow, r.target, r.kind, *counts, f"{r.seconds:.1f}", detail))
    widths = [max(len(row[i]) for row in rows) for i in range(len(SUMMARY_COLUMNS) - 1)]
    numeric = {3, 4, 5, 6}
    return [
        "  ".join(cell.rjust(w) if i in numeric else cell.ljust(w) for i, (cell, w) in enumerate(zip(row[:-1], widths, strict=True)))
        + "  " + row[-1]
        for row in rows
    ]


class LocalLake:
    """The Delta tables and checkpoints of one pipeline in the project's warehouse."""

    def __init__(self, project: Project, pipeline: str, schema: str | None) -> None:
        self.project = project
        self.pipeline = pipeline
        self.schema = schema or DEFAULT_SCHEMA
        self._handles: dict[str, Handle] = {}

    @property
    def root(self) -> Path:
        return Path(self.project.warehouse) / self.schema

    def location(self, dataset: str) -> Path:
        return self.root / dataset

    def checkpoint(self, flow: str) -> Path:
        return self.root / "_checkpoints" / self.pipeline / flow

    def reset(self, datasets: Iterable[str], flows: Iterable[str] | None = None) -> None:
        """A full refresh: the datasets and the checkpoints of ``flows`` (default: every flow of the pipeline) start empty."""
        folders = [self.location(name) for name in datasets]
        folders += [self.root / "_checkpoints" / self.pipeline] if flows is None else [self.checkpoint(f) for f in flows]
        for folder in folders:
            if folder.exists():
                log.info("full refresh: removing %s", folder)
                shutil.rmtree(folder)

    def handle(self, name: str, *, expectations: Iterable[dict[str, str]] = (), comment: str | None = None,
               schema: str | None = None, partition_by: Iterable[str] = ()) -> Handle:
        """The Delta table of dataset ``name`` (declared on first use)."""
        if name in self._handles:
            return self._handles[name]
        keys: dict[str, Any] = {"kind": "delta", "path": str(self.location(name))}
        rules = list(expectations)
        if rules:
            keys["expectations"] = rules
        if comment:
            keys["comment"] = comment
        if schema:
            keys["schema"] = schema
        if partition_by:
            keys["partition_by"] = list(partition_by)
        key = f"{self.pipeline}.{name}"
        self.project.add_table(key, keys)
        handle = self.project.handle(key)
        self._handles[name] = handle
        return handle

    def has(self, name: str) -> bool:
        return name in self._handles

    def stream_into(self, handle: Handle, df: DataFrame, flow: str, report: FlowReport,
                    after_batch: Callable[[WriteResult], None] | None = None) -> None:
        """foreachBatch with the flow's checkpoint; each batch an idempotent append (txn = app id, batch id).

        ``after_batch(result)`` runs after every batch's write, also a replayed (skipped) one.
        """
        from pyspark.errors import StreamingQueryException

        app_id = f"lakeport-dlt:{self.pipeline}:{flow}"
        failures: list[BaseException] = []

        def write_batch(batch: DataFrame, batch_id: int) -> None:
            try:
                with active_session(batch.sparkSession):
                    options = {"txn": (app_id, batch_id)} if handle.supports_txn else {}
                    result = handle.write(batch, "append", batch_id=batch_id, **options)
                    report.add(result)
                    if after_batch is not None:
                        after_batch(result)
            except BaseException as exc:
                failures.append(exc)
                raise

        checkpoint = self.checkpoint(flow)
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        query = (
            df.writeStream.foreachBatch(write_batch)
            .option("checkpointLocation", str(checkpoint))
            .trigger(availableNow=True)
            .queryName(f"{self.pipeline}.{flow}")
            .start()
        )
        try:
            query.awaitTermination()
        except StreamingQueryException as exc:
            if failures and isinstance(failures[0], LakeportError):
                raise failures[0] from None  # e.g. an expectation with action fail: its own message
            raise LakeportError(f"pipelines.{self.pipeline}: flow {flow!r} failed: {str(exc).splitlines()[0]}") from None

    def log_update(self, reports: Iterable[FlowReport]) -> str:
        """Append one row per flow of this update to the pipeline's event log (a Delta table, like DLT's)."""
        import datetime as dt
        import uuid

        update_id = uuid.uuid4().hex
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        rows = [
            {"pipeline": self.pipeline, "update_id": update_id, "timestamp": now, "flow": r.flow, "target": r.target,
             "flow_type": r.kind, "status": r.status, "error": r.error, "batches": r.batches, "rows_in": r.rows_in,
             "rows_written": r.rows_written,
             "expectations": [{"name": rule, "action": r.actions.get(rule, "allow"), "passed": r.rows_in - failed,
                               "failed": failed} for rule, failed in r.failed.items()],
             "seconds": round(r.seconds, 3)}
            for r in reports
        ]
        if rows:
            log_table = self.handle(EVENT_LOG, schema=EVENT_LOG_SCHEMA)
            log_table.append(_local_frame(self.project.spark(), rows, EVENT_LOG_SCHEMA))
        return update_id


def _local_frame(spark: Any, rows: list[dict[str, Any]], ddl: str) -> DataFrame:
    """``rows`` as a DataFrame built from Arrow: a LocalRelation, whose size Spark knows exactly.

    A handle that writes small data from the driver (the embedded Delta backend) then runs no
    Spark write job for the event log; ``createDataFrame`` of a list is an RDD of unknown size.
    """
    import pyarrow as pa

    from lakeport.api import parse_ddl, to_arrow

    struct = parse_ddl(ddl)
    return spark.createDataFrame(pa.Table.from_pylist(rows, schema=to_arrow(struct)), struct)
