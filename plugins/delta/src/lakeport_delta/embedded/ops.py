"""Public operations of the embedded Delta engine (no Delta jars: Spark data source + delta-rs).

Batch reads and appends/overwrites go through Spark (the ``lakeport_delta`` data
source), except small writes, which are collected and committed from the driver (see
``write``); MERGE, delete and table management go through delta-rs on the driver.
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
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import attrs

from lakeport import api as _errors
from lakeport.api import LakeportError, SchemaMismatch, WriteConflict

from . import SOURCE_NAME
from .merge import short_error, upsert
from .outcomes import DeleteOutcome, UpsertOutcome, WriteOutcome
from .session import PUSHDOWN_CONF, activate, parallelism, register
from .session import table_root as _root

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

    from lakeport.api import RuleMask

logger = logging.getLogger(__name__)

__all__ = [
    "PUSHDOWN_CONF",
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

    root = _root(path)
    dt = dlog.load_table(root, version=version, timestamp=timestamp)
    dlog.check_supported(dt, root, "read")
    if fast:
        from .fastread import read_snapshot

        df = read_snapshot(spark, root, dt)
        if df is not None:
            return df
    register(spark)  # only the Python source needs it (the first registration in a session costs ~1 s)
    pushdown = str(spark.conf.get(PUSHDOWN_CONF, "false")).lower() == "true"
    return (
        spark.read.format(SOURCE_NAME)
        .schema(dlog.spark_schema(dt))
        .option("versionAsOf", str(dt.version()))
        .option("minPartitions", str(parallelism(spark)))
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
        .option("minPartitions", str(parallelism(spark)))
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
    collect_max_rows: int | None = None,
    collect_estimated: bool = False,
) -> WriteOutcome:
    """Append or overwrite through Spark tasks; one Delta commit at the end.

    The schema is checked before any file is written. With ``txn=(app_id, version)`` the
    write is skipped when that application already committed ``version`` or later. With
    ``rule_mask`` the tasks count and filter by the mask column (not written) and the
    outcome carries the summed ``rule_counts``.

    With ``collect_max_rows`` a DataFrame of at most that many rows, or of more whose Arrow
    data fits ``DRIVER_WRITE_BYTES`` (see ``_collect_if_small``), is collected to the driver
    and its files are written and committed from there: no Spark write job, so no Python
    worker processes for planning, writing and committing it (seconds each). A bigger one
    is written by Spark tasks as usual, after the looks.

    With ``collect_estimated`` a DataFrame whose optimized plan Spark sizes at most
    ``DRIVER_ESTIMATE_BYTES`` (no job: see ``estimated_bytes``) is collected in one pass and
    written from the driver the same way; the looks then only run for plans Spark cannot size.
    """
    from lakeport.api import RuleCounts

    from .write_plan import plan_write

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
    collected = _collect_if_estimated_small(df, root) if collect_estimated else None
    if collected is None and collect_max_rows:
        collected = _collect_if_small(df, collect_max_rows, root)
    if collected is not None:
        return _write_in_driver(plan, collected)
    register(df.sparkSession)  # only Spark's write needs the data source (registering costs a JVM round trip)
    with tempfile.TemporaryDirectory(prefix="lakeport-delta-") as tmp:
        outcome_path = os.path.join(tmp, "outcome.json")
        plan = attrs.evolve(plan, outcome=outcome_path)
        try:
            (df.write.format(SOURCE_NAME).mode(mode).option("lakeport.plan", plan.to_json()).save(root))
        except Exception as e:
            _raise_lakeport_error(_read_outcome(outcome_path), e)
            raise
        outcome = _read_outcome(outcome_path)
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


#: a micro-batch bigger than ``collect_max_rows`` is still written from the driver when its Arrow
#: data, estimated from the first look's rows, fits this budget (and it has at most DRIVER_MAX_ROWS).
DRIVER_WRITE_BYTES = 64 * 1024 * 1024
DRIVER_MAX_ROWS = 2_000_000


def _collect_if_small(df: DataFrame, first_look: int, root: str) -> Any:
    """The DataFrame as one Arrow table if it is small enough to write from the driver, else None.

    Two looks: ``first_look + 1`` rows (cheap, and the whole batch for most micro-batches);
    if there are more, their bytes per row bound a second look of up to DRIVER_WRITE_BYTES.
    Spark's write job costs seconds of Python processes (planner, writer, committer), which a
    driver-side write of a million narrow rows (~1 s) does not; a batch over the budget pays
    the looks and goes to Spark's tasks.
    """
    collected = df.limit(first_look + 1).toArrow()
    if collected.num_rows <= first_look:
        return collected
    row_bytes = max(collected.nbytes / collected.num_rows, 1.0)
    budget_rows = min(int(DRIVER_WRITE_BYTES / row_bytes), DRIVER_MAX_ROWS)
    if budget_rows > first_look:
        collected = df.limit(budget_rows + 1).toArrow()
        if collected.num_rows <= budget_rows:
            logger.debug("Delta table %r: %d rows (~%.0f bytes each), written from the driver",
                         root, collected.num_rows, row_bytes)
            return collected
    logger.debug("Delta table %r: more than %d rows, written by Spark tasks", root, max(budget_rows, first_look))
    return None


#: a write whose plan Spark estimates at most this big is collected in one pass and written from the
#: driver. A file scan's estimate is its files' size on disk, which understates their Arrow size (about
#: 2x for the bench's parquet): half of DRIVER_WRITE_BYTES.
DRIVER_ESTIMATE_BYTES = DRIVER_WRITE_BYTES // 2


def estimated_bytes(df: DataFrame) -> int | None:
    """Spark's size estimate of ``df``'s optimized plan, computed without a job; None where there is none.

    Exact for local data (``createDataFrame`` of an Arrow table is a LocalRelation), the
    files' size for a file scan, scaled by row width through projections and aggregates.
    Plans Spark cannot size (RDDs, Python data sources) report ``spark.sql.defaultSizeInBytes``
    (Long.MaxValue unless set), i.e. "big". Spark Connect DataFrames have no JVM plan here: None.
    The plan is optimized once: the collect or the write that follows reuses it.
    """
    jdf = getattr(df, "_jdf", None)
    if jdf is None:
        return None
    from py4j.protocol import Py4JError

    try:
        size = jdf.queryExecution().optimizedPlan().stats().sizeInBytes()
    except Py4JError as exc:  # a plan that does not analyse: the write itself reports it
        logger.debug("no size estimate: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        return None
    return int(str(size))  # a Scala BigInt: py4j gives an int or a JavaObject


def _collect_if_estimated_small(df: DataFrame, root: str) -> Any:
    """The whole DataFrame as one Arrow table when Spark estimates it small, else None (no job run).

    One pass, no limit (a limit over several partitions adds a shuffle): the collect is the
    write's only evaluation, so rule masks and observations count every row once. A plan
    Spark underestimated past ``spark.driver.maxResultSize`` is written by Spark tasks instead,
    after a second evaluation.
    """
    size = estimated_bytes(df)
    if size is None or size > DRIVER_ESTIMATE_BYTES:
        return None
    try:
        collected = df.toArrow()
    except Exception as exc:  # noqa: BLE001 - only the result-size limit is ours to handle
        if "maxResultSize" not in str(exc):
            raise
        logger.info("Delta table %r: estimated at %d bytes but over spark.driver.maxResultSize; "
                    "written by Spark tasks", root, size)
        return None
    logger.debug("Delta table %r: %d rows (Spark estimated %d bytes), written from the driver",
                 root, collected.num_rows, size)
    return collected


def _write_in_driver(plan: Any, table: Any) -> WriteOutcome:
    """The small write: the task writer's files and the commit, both in this process."""
    from .commit import commit_files
    from .task_writer import write_batches
    from .write_plan import remove_staging

    try:
        written, counts = write_batches(plan, table.to_batches())
        outcome = commit_files(plan, written)
    finally:
        remove_staging(plan)
    return WriteOutcome(
        version=outcome["version"],
        skipped=bool(outcome["skipped"]),
        num_files=int(outcome["num_files"]),
        num_rows=int(outcome["num_rows"]),
        rule_counts=counts,
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


# =========================================================================== delete & co


def delete(spark: SparkSession, path: str, where: str, *, txn: tuple[str, int] | None = None) -> DeleteOutcome:
    """Delete the rows matching the SQL predicate ``where`` (delta-rs rewrites their files)."""
    from deltalake import CommitProperties, Transaction
    from deltalake.exceptions import CommitFailedError

    from . import log as dlog

    activate(spark)
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
        raise LakeportError(f"Delta table {root!r}: cannot delete where {where!r}: {short_error(e)}") from e
    version = dlog.find_commit(root, read_version, dlog.WRITE_ID_KEY, write_id)
    deleted = metrics.get("num_deleted_rows")
    return DeleteOutcome(version, False, None if deleted is None else int(deleted))

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
