"""Public operations of the embedded Delta engine (no Delta jars: Spark data source + delta-rs).

Batch reads and appends/overwrites go through Spark (the ``lakeport_delta`` data
source); MERGE, delete and table management go through delta-rs on the driver.
Every function takes a local table *path*; errors name it.

Return values: ``write`` -> :class:`WriteOutcome`, ``upsert`` -> :class:`UpsertOutcome`,
``delete`` -> :class:`DeleteOutcome`, ``truncate`` -> the new version, ``create`` ->
whether it created the table (an identical existing table is fine).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from lakeport import api as _errors
from lakeport.api import LakeportError, SchemaMismatch, TableNotFound, WriteConflict, register_data_source, to_arrow

from . import SOURCE_NAME

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

    from lakeport.api import RuleCounts, RuleMask

logger = logging.getLogger(__name__)

PUSHDOWN_CONF = "spark.sql.python.filterPushdown.enabled"

__all__ = [
    "DeleteOutcome",
    "UpsertOutcome",
    "WriteOutcome",
    "create",
    "delete",
    "drop_and_delete",
    "exists",
    "history",
    "read",
    "read_stream",
    "register",
    "schema",
    "truncate",
    "upsert",
    "write",
]


@dataclass(frozen=True)
class WriteOutcome:
    """What an append/overwrite did. ``version`` is None when nothing was committed.

    ``rule_counts`` is set when the write was given a ``rule_mask``.
    """

    version: int | None
    skipped: bool
    num_files: int
    num_rows: int
    rule_counts: RuleCounts | None = None


@dataclass(frozen=True)
class UpsertOutcome:
    """What an upsert did; ``deduplicated`` counts source rows dropped as key duplicates.

    ``rule_counts`` is set when the upsert was given a ``rule_mask``; the other counts
    are of the rows the mask let through.
    """

    version: int | None
    skipped: bool
    inserted: int
    updated: int
    dropped_null_keys: int
    deduplicated: int
    rule_counts: RuleCounts | None = None


@dataclass(frozen=True)
class DeleteOutcome:
    """What a delete did; ``deleted`` is None when delta-rs could not count the rows."""

    version: int | None
    skipped: bool
    deleted: int | None


# =========================================================================== session

def register(spark: SparkSession) -> None:
    """Register the ``lakeport_delta`` data source on ``spark`` (once per session).

    Also makes ``spark`` the active session of the calling thread: Spark looks Python
    data sources up through the thread's active session, which a new thread lacks.
    Turns on ``spark.sql.python.filterPushdown.enabled`` so that reads prune partitions.
    """
    from .source import DeltaDataSource

    _activate(spark)
    if not register_data_source(spark, DeltaDataSource):
        return
    try:
        if str(spark.conf.get(PUSHDOWN_CONF, "false")).lower() != "true":
            spark.conf.set(PUSHDOWN_CONF, "true")
    except Exception as e:  # noqa: BLE001 - a read-only conf only costs pruning
        logger.warning("could not enable %s (%s); Delta reads will not prune files", PUSHDOWN_CONF, e)
    logger.debug("registered data source %r on %r", SOURCE_NAME, spark)


def _activate(spark: SparkSession) -> None:
    """Make ``spark`` the JVM-side active session of this thread (classic Spark only).

    Only the JVM's thread-local: PySpark's own ``SparkSession._activeSession`` is
    shared by all threads, and setting it from a foreachBatch function would leak
    the batch's cloned session into the caller's code.
    """
    jsession = getattr(spark, "_jsparkSession", None)
    jvm = getattr(spark, "_jvm", None)
    if jsession is None or jvm is None:
        return  # Spark Connect: the server resolves the session itself
    from pyspark.sql import SparkSession

    jclass = getattr(SparkSession, "_get_j_spark_session_class", None)
    if jclass is not None:
        jclass(jvm).setActiveSession(jsession)


def _parallelism(spark: SparkSession) -> int:
    try:
        return int(spark.sparkContext.defaultParallelism)
    except Exception:  # noqa: BLE001 - Spark Connect has no SparkContext
        return int(spark.conf.get("spark.sql.shuffle.partitions", "2") or 2)


def _root(path: str | os.PathLike) -> str:
    from . import log as dlog

    return dlog.table_root(path)


# =========================================================================== reads


def read(
    spark: SparkSession, path: str, *, version: int | None = None, timestamp: Any = None, fast: bool = True
) -> DataFrame:
    """Batch read of the table at ``path``, optionally as of a version or a timestamp.

    Spark's parquet reader reads the snapshot's files when it can (column pruning,
    predicate pushdown; see :mod:`.fastread`), else the ``lakeport_delta`` Python source
    does; ``fast=False`` forces the latter.
    """
    from . import log as dlog

    register(spark)
    root = _root(path)
    dt = dlog.load_table(root, version=version, timestamp=timestamp)
    dlog.check_supported(dt, root, "read")
    if fast:
        from .fastread import read_snapshot

        df = read_snapshot(spark, root, dt)
        if df is not None:
            return df
    pushdown = str(spark.conf.get(PUSHDOWN_CONF, "false")).lower() == "true"
    return (
        spark.read.format(SOURCE_NAME)
        .schema(dlog.spark_schema(dt))
        .option("versionAsOf", str(dt.version()))
        .option("minPartitions", str(_parallelism(spark)))
        .option("filterPushdown", "true" if pushdown else "false")
        .load(root)
    )


def read_stream(
    spark: SparkSession,
    path: str,
    *,
    starting_version: int | str | None = None,
    starting_timestamp: Any = None,
    skip_change_commits: bool = False,
    max_files_per_trigger: int | None = None,
) -> DataFrame:
    """Streaming read: the current snapshot first (unless a start is given), then new commits."""
    from lakeport.api import python_streams_unsupported

    from . import log as dlog

    root = _root(path)
    why = python_streams_unsupported()
    if why:
        raise LakeportError(f"Delta table at {root}: a streaming read on the embedded backend {why}")
    register(spark)
    dt = dlog.load_table(root)
    dlog.check_supported(dt, root, "stream from")
    reader = (
        spark.readStream.format(SOURCE_NAME)
        .schema(dlog.spark_schema(dt))
        .option("skipChangeCommits", "true" if skip_change_commits else "false")
        .option("minPartitions", str(_parallelism(spark)))
    )
    if starting_version is not None:
        reader = reader.option("startingVersion", str(starting_version))
    if starting_timestamp is not None:
        reader = reader.option("startingTimestamp", _timestamp_text(starting_timestamp))
    if max_files_per_trigger is not None:
        reader = reader.option("maxFilesPerTrigger", str(int(max_files_per_trigger)))
    return reader.load(root)


def _timestamp_text(value: Any) -> str:
    isoformat = getattr(value, "isoformat", None)
    return isoformat() if isoformat is not None else str(value)


# =========================================================================== writes


def write(
    df: DataFrame,
    path: str,
    *,
    mode: str = "append",
    partition_by: Sequence[str] | None = None,
    merge_schema: bool = False,
    overwrite_schema: bool = False,
    txn: tuple[str, int] | None = None,
    table_name: str | None = None,
    description: str | None = None,
    properties: dict[str, str] | None = None,
    rule_mask: RuleMask | None = None,
) -> WriteOutcome:
    """Append or overwrite through Spark tasks; one Delta commit at the end.

    The schema is checked before any file is written. With ``txn=(app_id, version)`` the
    write is skipped when that application already committed ``version`` or later. With
    ``rule_mask`` the tasks count and filter by the mask column (not written) and the
    outcome carries the summed ``rule_counts``.
    """
    from lakeport.api import RuleCounts

    from .source import plan_write

    spark = df.sparkSession
    register(spark)
    root = _root(path)
    plan = plan_write(
        root,
        df.schema,
        mode=mode,
        partition_by=list(partition_by) if partition_by is not None else None,
        merge_schema=merge_schema,
        overwrite_schema=overwrite_schema,
        txn=txn,
        table_name=table_name,
        description=description,
        properties=properties,
        rule_mask=rule_mask,
    )
    if plan is None:
        return WriteOutcome(version=None, skipped=True, num_files=0, num_rows=0)
    with tempfile.TemporaryDirectory(prefix="lakeport-delta-") as tmp:
        plan["outcome"] = os.path.join(tmp, "outcome.json")
        try:
            (df.write.format(SOURCE_NAME).mode(mode).option("lakeport.plan", json.dumps(plan)).save(root))
        except Exception as e:
            _raise_lakeport_error(_read_outcome(plan["outcome"]), e)
            raise
        outcome = _read_outcome(plan["outcome"])
    if outcome is None:
        raise LakeportError(f"Delta table {root!r}: the write finished without reporting its commit")
    counts = outcome.get("ruleCounts")
    return WriteOutcome(
        version=outcome["version"],
        skipped=bool(outcome["skipped"]),
        num_files=int(outcome["num_files"]),
        num_rows=int(outcome["num_rows"]),
        rule_counts=RuleCounts.from_dict(counts) if counts is not None else None,
    )


def _read_outcome(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        return None


_ERROR_LINE = re.compile(r"lakeport\.errors\.(\w+): (.+)")


def _raise_lakeport_error(outcome: dict | None, error: BaseException) -> None:
    """Re-raise a lakeport error that happened inside Spark as itself, not as a Spark error."""
    name, message = None, None
    if outcome and outcome.get("error"):
        name, message = outcome["error"], outcome["message"]
    else:
        match = _ERROR_LINE.search(str(error))
        if match:
            name, message = match.group(1), match.group(2).strip()
    cls = getattr(_errors, name, None) if name else None
    if isinstance(cls, type) and issubclass(cls, LakeportError):
        try:
            exc = cls(message)
        except TypeError:  # errors with structured constructors
            exc = LakeportError(message)
        raise exc from error


# =========================================================================== upsert


def upsert(
    df: DataFrame,
    path: str,
    keys: str | Sequence[str],
    *,
    sequence_by: str | None = None,
    txn: tuple[str, int] | None = None,
    rule_mask: RuleMask | None = None,
) -> UpsertOutcome:
    """MERGE ``df`` into the table on ``keys`` (update matches, insert the rest) with delta-rs.

    Source rows with a null key are dropped; duplicate keys are reduced to one row (the
    latest by ``sequence_by``, else a deterministic pick) because delta-rs would insert
    every duplicate. When no source key exists in the table, the rows are simply appended.
    With ``rule_mask`` the rows collected on the driver are counted and filtered by the
    mask column (not written) before all that.
    """
    from deltalake import CommitProperties, Transaction, write_deltalake
    from deltalake.exceptions import CommitFailedError, DeltaError
    from pyspark.sql.types import StructType

    from . import log as dlog
    from . import schemas

    register(df.sparkSession)
    root = _root(path)
    keys = [keys] if isinstance(keys, str) else list(keys)
    if not keys:
        raise LakeportError(f"Delta table {root!r}: upsert needs at least one key column")
    data_schema = df.schema
    if rule_mask is not None:
        data_schema = rule_mask.written_schema(data_schema)
    data_names = {f.name.lower(): f.name for f in data_schema.fields}
    for name in keys + ([sequence_by] if sequence_by else []):
        if name.lower() not in data_names:
            raise SchemaMismatch(
                f"Delta table {root!r}: upsert column {name!r} is not in the data ({', '.join(data_schema.fieldNames())})"
            )

    try:
        dt = dlog.load_table(root)
    except TableNotFound:
        dt = None  # the upsert creates it
    if dt is not None:
        dlog.check_supported(dt, root, "upsert into")
        if txn is not None:
            done = dt.transaction_version(str(txn[0]))
            if done is not None and done >= int(txn[1]):
                logger.info("Delta table %s: upsert skipped, app %r already at %s", root, txn[0], done)
                return UpsertOutcome(None, True, 0, 0, 0, 0)
    table_schema = dlog.spark_schema(dt) if dt is not None else None
    sequence_data = data_names[sequence_by.lower()] if sequence_by else None
    sequence_outside = bool(sequence_by) and (
        table_schema is None or sequence_by.lower() not in {f.name.lower() for f in table_schema.fields}
    )
    if sequence_outside and table_schema is not None:  # ordering only: not written
        data_schema = StructType([f for f in data_schema.fields if f.name != sequence_data])
    checked = schemas.check_write_schema(table_schema, data_schema, table=root, replace=dt is None)
    to_table = dict(checked.data_columns)
    keys = [to_table[data_names[k.lower()]] for k in keys]

    collected = df.toArrow()
    counts = None
    if rule_mask is not None:
        collected, counts = rule_mask.apply(collected)
    source = _conform(collected, checked, to_arrow(checked.table))
    sequence = None
    if sequence_by and sequence_data in to_table:
        sequence = to_table[sequence_data]
    elif sequence_by:
        sequence = "__lakeport_sequence"
        source = source.append_column(sequence, collected.column(sequence_data))
    total = source.num_rows
    source = _drop_null_keys(source, keys)
    dropped = total - source.num_rows
    deduped = _dedupe(source, keys, sequence)
    duplicates = source.num_rows - deduped.num_rows
    if sequence == "__lakeport_sequence":
        deduped = deduped.drop_columns([sequence])
    if dropped or duplicates:
        logger.info("Delta upsert into %s: dropped %d rows with null keys, %d duplicates", root, dropped, duplicates)
    if deduped.num_rows == 0:
        return UpsertOutcome(None, False, 0, 0, dropped, duplicates, counts)

    write_id = uuid.uuid4().hex
    props = CommitProperties(
        custom_metadata={dlog.WRITE_ID_KEY: write_id},
        app_transactions=[Transaction(str(txn[0]), int(txn[1]))] if txn is not None else None,
    )
    read_version = dt.version() if dt is not None else -1
    try:
        # The append path is a blind append: take it only if nobody committed since the check.
        if dt is None or (
            _no_key_in_table(dt, deduped, keys) and dlog.latest_version(root, read_version) == read_version
        ):
            full = _with_all_columns(deduped, to_arrow(checked.table))
            write_deltalake(dt if dt is not None else root, full, mode="append", commit_properties=props)
            inserted, updated = deduped.num_rows, 0
        else:
            predicate = " AND ".join(f"t.`{k}` = s.`{k}`" for k in keys)
            metrics = (
                dt.merge(
                    deduped, predicate, source_alias="s", target_alias="t", streamed_exec=False, commit_properties=props
                )
                .when_matched_update_all()
                .when_not_matched_insert_all()
                .execute()
            )
            inserted = int(metrics.get("num_target_rows_inserted", 0))
            updated = int(metrics.get("num_target_rows_updated", 0))
    except CommitFailedError as e:
        if txn is not None and dlog.transaction_done(root, txn):
            return UpsertOutcome(None, True, 0, 0, dropped, duplicates, counts)
        raise WriteConflict(
            f"Delta table {root!r}: another writer committed first ({_short(e)}); "
            "nothing of this upsert was committed, retry it"
        ) from e
    except DeltaError as e:
        raise LakeportError(f"Delta table {root!r}: upsert on {keys} failed: {_short(e)}") from e
    version = dlog.find_commit(root, read_version, dlog.WRITE_ID_KEY, write_id)
    return UpsertOutcome(version, False, inserted, updated, dropped, duplicates, counts)


def _conform(table: pa.Table, checked: Any, target: pa.Schema) -> pa.Table:
    """Source columns renamed to the table's spelling and cast to the table's types."""
    import pyarrow as pa

    arrays, fields = [], []
    for data_name, table_name in checked.data_columns:
        column = table.column(data_name)
        field = target.field(table_name)
        if not column.type.equals(field.type):
            column = column.cast(field.type)
        arrays.append(column)
        fields.append(pa.field(table_name, field.type, True))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _with_all_columns(table: pa.Table, target: pa.Schema) -> pa.Table:
    """Append needs every table column: nulls for the ones the source lacks."""
    import pyarrow as pa

    arrays = [
        table.column(f.name) if f.name in table.column_names else pa.nulls(table.num_rows, f.type) for f in target
    ]
    return pa.Table.from_arrays(arrays, schema=target)


def _drop_null_keys(table: pa.Table, keys: list[str]) -> pa.Table:
    import pyarrow.compute as pc

    if not any(table.column(k).null_count for k in keys):
        return table
    mask = None
    for k in keys:
        valid = pc.is_valid(table.column(k))
        mask = valid if mask is None else pc.and_(mask, valid)
    return table.filter(mask)


def _sort_indices_nulls_last(table: Any, sort_keys: list[tuple[str, str]]) -> Any:
    """``pc.sort_indices`` with nulls last, in the form the installed pyarrow wants (per key from 25 on)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if int(pa.__version__.split(".")[0]) >= 25:
        return pc.sort_indices(table, sort_keys=[(name, order, "at_end") for name, order in sort_keys])
    return pc.sort_indices(table, sort_keys=sort_keys, null_placement="at_end")


def _sortable(dtype: Any) -> bool:
    import pyarrow.types as pt

    return not (pt.is_nested(dtype) or pt.is_dictionary(dtype) or pt.is_null(dtype))


def _dedupe(table: pa.Table, keys: list[str], sequence: str | None) -> pa.Table:
    """One row per key: the latest by ``sequence`` (nulls oldest), ties broken by the other columns."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n = table.num_rows
    if n <= 1:
        return table
    if table.group_by(keys, use_threads=False).aggregate([]).num_rows == n:
        return table
    sort_keys = [(k, "ascending") for k in keys]
    if sequence:
        sort_keys.append((sequence, "descending"))
    sort_keys += [
        (f.name, "ascending") for f in table.schema if f.name not in keys and f.name != sequence and _sortable(f.type)
    ]
    ordered = table.take(_sort_indices_nulls_last(table, sort_keys))
    first = np.zeros(n, dtype=bool)
    first[0] = True
    for k in keys:
        column = ordered.column(k)
        changed = pc.not_equal(column.slice(1), column.slice(0, n - 1))
        first[1:] |= changed.to_numpy(zero_copy_only=False).astype(bool)
    return ordered.filter(pa.array(first))


def _no_key_in_table(dt: Any, source: pa.Table, keys: list[str]) -> bool:
    """True when surely no source key is in the table: then an append does the upsert.

    First the files' range of the first key (partition values, or min/max statistics for
    integer and date keys, whose statistics are exact); the key columns of the files that
    may match are then read and semi-joined with the source keys.
    """
    from urllib.parse import unquote

    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from . import log as dlog

    actions = pa.table(dt.get_add_actions(flatten=True))
    if actions.num_rows == 0:
        return True
    key = keys[0]
    key_type = source.column(key).type
    partitioned = set(dt.metadata().partition_columns)
    names = set(actions.column_names)
    lo = hi = None
    if key in partitioned:
        lo = hi = actions.column(f"partition.{key}")
    elif (pa.types.is_integer(key_type) or pa.types.is_date(key_type)) and {f"min.{key}", f"max.{key}"} <= names:
        lo, hi = actions.column(f"min.{key}"), actions.column(f"max.{key}")
    candidates = np.ones(actions.num_rows, dtype=bool)
    if lo is not None and not lo.null_count and not hi.null_count:
        if pa.types.is_integer(key_type) and pa.types.is_integer(lo.type):
            values = np.sort(source.column(key).to_numpy())
            lows, highs = lo.to_numpy(), hi.to_numpy()
        else:
            values = np.sort(np.asarray(source.column(key).to_pylist(), dtype=object))
            lows = np.asarray(lo.to_pylist(), dtype=object)
            highs = np.asarray(hi.to_pylist(), dtype=object)
        candidates = np.searchsorted(values, lows, "left") < np.searchsorted(values, highs, "right")
        if not candidates.any():
            return True
    if any(k in partitioned for k in keys):
        return False  # key values live in the log, not in the files: let MERGE decide
    root = dlog.table_root(dt.table_uri)
    first = pc.unique(source.column(key).combine_chunks())
    source_keys = source.select(keys)
    for path, hit in zip(actions.column("path").to_pylist(), candidates, strict=True):
        if not hit:
            continue
        # batch by batch: when keys match, the first batches usually show it
        parquet = pq.ParquetFile(dlog.file_path(root, unquote(path)))
        for batch in parquet.iter_batches(batch_size=65_536, columns=keys, use_threads=False):
            column = batch.column(key)
            if not column.type.equals(first.type):
                column = column.cast(first.type)
            mask = pc.is_in(column, value_set=first)
            if not pc.any(mask).as_py():
                continue
            if len(keys) == 1:
                return False
            matches = pa.Table.from_batches([batch.filter(mask)]).cast(source_keys.schema)
            if source_keys.join(matches, keys=keys, join_type="left semi").num_rows:
                return False
    return True


# =========================================================================== delete & co


def delete(spark: SparkSession, path: str, where: str, *, txn: tuple[str, int] | None = None) -> DeleteOutcome:
    """Delete the rows matching the SQL predicate ``where`` (delta-rs rewrites their files)."""
    from deltalake import CommitProperties, Transaction
    from deltalake.exceptions import CommitFailedError

    from . import log as dlog

    _activate(spark)
    root = _root(path)
    if not where or not str(where).strip():
        raise LakeportError(f"Delta table {root!r}: delete needs a predicate; use truncate() to delete all rows")
    dt = dlog.load_table(root)
    dlog.check_supported(dt, root, "delete from")
    if txn is not None:
        done = dt.transaction_version(str(txn[0]))
        if done is not None and done >= int(txn[1]):
            return DeleteOutcome(None, True, 0)
    write_id = uuid.uuid4().hex
    props = CommitProperties(
        custom_metadata={dlog.WRITE_ID_KEY: write_id},
        app_transactions=[Transaction(str(txn[0]), int(txn[1]))] if txn is not None else None,
    )
    read_version = dt.version()
    try:
        metrics = dt.delete(where, commit_properties=props)
    except CommitFailedError as e:
        if txn is not None and dlog.transaction_done(root, txn):
            return DeleteOutcome(None, True, 0)
        raise WriteConflict(
            f"Delta table {root!r}: another writer committed first while deleting where {where!r} "
            f"({str(e).splitlines()[0]}); nothing was deleted, retry it"
        ) from e
    except Exception as e:  # delta-rs raises DeltaError or a bare Exception for bad SQL
        raise LakeportError(f"Delta table {root!r}: cannot delete where {where!r}: {_short(e)}") from e
    version = dlog.find_commit(root, read_version, dlog.WRITE_ID_KEY, write_id)
    deleted = metrics.get("num_deleted_rows")
    return DeleteOutcome(version, False, None if deleted is None else int(deleted))


def _short(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text[:500] or type(error).__name__


def truncate(path: str) -> int | None:
    """Remove every row in one commit; the schema and the history stay. Returns the version."""
    from deltalake import CommitProperties

    from . import log as dlog

    root = _root(path)
    dt = dlog.load_table(root)
    dlog.check_supported(dt, root, "truncate")
    write_id = uuid.uuid4().hex
    read_version = dt.version()
    dt.delete(None, commit_properties=CommitProperties(custom_metadata={dlog.WRITE_ID_KEY: write_id}))
    return dlog.find_commit(root, read_version, dlog.WRITE_ID_KEY, write_id)


def exists(path: str) -> bool:
    from . import log as dlog

    return dlog.is_delta_table(_root(path))


def schema(path: str) -> StructType:
    from . import log as dlog

    return dlog.spark_schema(dlog.load_table(_root(path)))


def history(path: str, limit: int | None = None) -> list[dict]:
    """Commit infos, newest first, each with its ``version``."""
    from . import log as dlog

    return dlog.load_table(_root(path)).history(limit)


def create(
    path: str,
    schema: StructType,
    *,
    partition_by: Iterable[str] = (),
    properties: dict[str, str] | None = None,
    table_name: str | None = None,
    description: str | None = None,
) -> bool:
    """Create an empty table; a no-op when it exists with this schema and partitioning.

    Returns True when the table was created. An existing table with another schema or
    partitioning raises :class:`SchemaMismatch`.
    """
    from deltalake import DeltaTable
    from deltalake.schema import Schema

    from . import log as dlog
    from . import schemas

    root = _root(path)
    parts = schemas.check_partition_columns(schema, list(partition_by), root)
    if dlog.is_delta_table(root):
        dt = dlog.load_table(root)
        current, current_parts = dlog.spark_schema(dt), list(dt.metadata().partition_columns)
        if schemas.relaxed(current) != schemas.relaxed(schema) or current_parts != parts:
            raise SchemaMismatch(
                f"Delta table {root!r} exists with schema {current.simpleString()} partitioned by "
                f"{current_parts or 'nothing'}; asked for {schema.simpleString()} partitioned by "
                f"{parts or 'nothing'}"
            )
        return False
    DeltaTable.create(
        root,
        Schema.from_json(schema.json()),
        mode="error",
        partition_by=parts or None,
        name=table_name,
        description=description,
        configuration=dict(properties) if properties else None,
    )
    return True


def drop_and_delete(path: str) -> None:
    """Delete the table's directory. Refuses directories that are not Delta tables."""
    from . import log as dlog

    root = _root(path)
    if not os.path.exists(root):
        return
    if not dlog.is_delta_table(root) and os.listdir(root):
        raise LakeportError(f"refusing to delete {root!r}: it is not a Delta table")
    shutil.rmtree(root)
    logger.info("deleted Delta table %s", root)
