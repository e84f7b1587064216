"""``apply_changes`` (DLT's AUTO CDC) run locally: SCD type 1 and 2 on Delta.

Each micro-batch of change rows is appended, exactly once, to the flow's
change history (a Delta table beside the target); the target is then
recomputed from the whole history and overwritten. Recomputing is what makes
DLT's ordering semantics hold without special cases: events arriving out of
order, a late event that splits a closed SCD2 interval, deletes and truncates
all fall out of sorting the history by ``sequence_by``. It costs a read of the
history per batch, which suits the local engine's job (tests, development).

SCD1: per key, the latest change wins; a delete removes the key; a truncate
empties the table of everything sequenced before it; ``ignore_null_updates``
keeps a column's previous value where a change has null.
SCD2: each change starts a version ``[__START_AT, __END_AT)`` that the key's
next change (or delete) ends; both columns have ``sequence_by``'s type.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Iterable

from lakeport.api import LakeportError
from lakeport_dlt.lake import FlowReport, LocalLake
from lakeport_dlt.spec import ApplyChanges

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

log = logging.getLogger(__name__)

_SEQ, _DELETE, _TRUNCATE = "__lakeport_sequence", "__lakeport_delete", "__lakeport_truncate"
START_AT, END_AT = "__START_AT", "__END_AT"


def history_table(target: str) -> str:
    """The Delta table beside ``target`` that keeps its flows' change rows (reset with the target)."""
    return f"_apply_changes_history_{target}"


def apply_changes(lake: LocalLake, changes: DataFrame, spec: ApplyChanges, *, flow: str, report: FlowReport,
                  expectations: Iterable[dict[str, str]] = (), conditions: dict[str, Any] | None = None) -> None:
    """Stream ``changes`` into the history, recomputing ``spec.target`` after each batch.

    ``expectations`` apply to the change rows: a dropped row never enters the history.
    ``conditions`` may give ``apply_as_deletes``/``apply_as_truncates`` as Columns (the dlt API's form).
    """
    missing = [c for c in (*spec.keys, spec.sequence_by) if c not in changes.columns]
    if missing:
        raise LakeportError(
            f"apply_changes into {spec.target!r}: the change feed has no column(s) {', '.join(missing)} "
            f"(it has {', '.join(changes.columns)})"
        )
    marked = _mark(changes, spec, conditions or {})
    history = lake.handle(history_table(spec.target), expectations=expectations)
    target = lake.handle(spec.target)

    def recompute(_written: Any) -> None:
        full = history.read()
        result = scd2(full, spec) if spec.stored_as_scd_type == 2 else scd1(full, spec)
        target.overwrite(result)

    lake.stream_into(history, marked, flow, report, after_batch=recompute)


def _mark(changes: DataFrame, spec: ApplyChanges, conditions: dict[str, Any]) -> DataFrame:
    from pyspark.sql import functions as F

    def condition(key: str) -> Column:
        given = conditions.get(key, getattr(spec, key))
        if given is None:
            return F.lit(False)
        return F.coalesce(F.expr(given) if isinstance(given, str) else given, F.lit(False))

    return (changes.withColumn(_SEQ, F.col(spec.sequence_by))
            .withColumn(_DELETE, condition("apply_as_deletes"))
            .withColumn(_TRUNCATE, condition("apply_as_truncates")))


def _value_columns(history: DataFrame, spec: ApplyChanges) -> list[str]:
    internal = {_SEQ, _DELETE, _TRUNCATE}
    columns = [c for c in history.columns if c not in internal]
    if spec.column_list:
        columns = [c for c in columns if c in spec.column_list or c in spec.keys]
    if spec.except_column_list:
        columns = [c for c in columns if c not in spec.except_column_list or c in spec.keys]
    return columns


def scd1(history: DataFrame, spec: ApplyChanges) -> DataFrame:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    last_truncate = history.where(F.col(_TRUNCATE)).agg(F.max(_SEQ)).first()
    truncated_at = last_truncate[0] if last_truncate is not None else None
    events = history.where(~F.col(_TRUNCATE))
    if truncated_at is not None:
        events = events.where(F.col(_SEQ) > F.lit(truncated_at))
    keys = list(spec.keys)
    columns = _value_columns(history, spec)
    by_key = Window.partitionBy(*keys).orderBy(F.col(_SEQ))
    # changes after the key's last delete are the ones that build its row
    last_delete = F.max(F.when(F.col(_DELETE), F.col(_SEQ))).over(Window.partitionBy(*keys))
    live = events.withColumn("__last_delete", last_delete)
    live = live.where(F.col("__last_delete").isNull() | (F.col(_SEQ) > F.col("__last_delete")))
    if spec.ignore_null_updates:
        running = by_key.rowsBetween(Window.unboundedPreceding, Window.currentRow)
        for column in columns:
            if column not in keys:
                live = live.withColumn(column, F.last(column, ignorenulls=True).over(running))
    latest = F.row_number().over(Window.partitionBy(*keys).orderBy(F.col(_SEQ).desc()))
    return live.withColumn("__rank", latest).where("__rank = 1").select(*columns)


def _tracked_columns(columns: list[str], spec: ApplyChanges) -> list[str] | None:
    """The columns whose change starts a new SCD2 version; None: every column (no track_history_* list).

    Never ``sequence_by``: it changes with every event, so tracking it would make the lists meaningless.
    """
    values = [c for c in columns if c not in spec.keys and c != spec.sequence_by]
    if spec.track_history_column_list:
        return [c for c in values if c in spec.track_history_column_list]
    if spec.track_history_except_column_list:
        return [c for c in values if c not in spec.track_history_except_column_list]
    return None


def scd2(history: DataFrame, spec: ApplyChanges) -> DataFrame:
    """Versions ``[__START_AT, __END_AT)`` per key. With a track_history_* list, a change of only untracked
    columns starts no version: it updates the open one in place (its values are the latest; its start stays)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    keys = list(spec.keys)
    columns = _value_columns(history, spec)
    sequence_type = history.schema[_SEQ].dataType
    by_key = Window.partitionBy(*keys).orderBy(F.col(_SEQ))
    events = history.where(~F.col(_TRUNCATE))
    tracked = _tracked_columns(columns, spec)
    if tracked is not None:
        previous_delete = F.lag(_DELETE).over(by_key)
        changed = F.lit(False)
        for column in tracked:
            changed = changed | ~F.col(column).eqNullSafe(F.lag(column).over(by_key))
        starts = F.col(_DELETE) | F.coalesce(previous_delete, F.lit(True)) | changed
        running = by_key.rowsBetween(Window.unboundedPreceding, Window.currentRow)
        events = events.withColumn("__starts", starts.cast("int")).withColumn("__version", F.sum("__starts").over(running))
        version = Window.partitionBy(*keys, "__version")
        events = (events.withColumn("__first", F.min(_SEQ).over(version))
                  .withColumn("__rank", F.row_number().over(version.orderBy(F.col(_SEQ).desc())))
                  .where("__rank = 1")  # the version's latest values, from its first sequence on
                  .withColumn(_SEQ, F.col("__first")))
    events = events.withColumn("__next", F.lead(_SEQ).over(by_key))
    versions = events.where(~F.col(_DELETE))
    return versions.select(
        *columns,
        F.col(_SEQ).cast(sequence_type).alias(START_AT),
        F.col("__next").cast(sequence_type).alias(END_AT),
    )
