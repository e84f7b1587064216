"""The native backend: Spark's own Delta (Databricks, delta-spark, Spark Connect servers such as Sail).

Only the DataFrame API and SQL strings — no ``_jvm``, and no ``pyspark.sql.functions``
either (those bind to a classic SparkContext when one lives in the same process) — so
it works over Spark Connect / Databricks Connect.

Engines differ in how much of Delta's SQL they have. delta-spark and Databricks have
``DESCRIBE HISTORY`` and honour idempotent writes (``txnAppId``/``txnVersion`` writer
options, ``spark.databricks.delta.write.txn*`` confs for MERGE/DELETE). Engines that only
read and write Delta (Sail 0.7) reject ``DESCRIBE HISTORY`` and ignore both; there the
history and the version come from the commit files in ``_delta_log``, read through the
engine's ``binaryFile`` source, and idempotent appends/overwrites record their
``(app_id, version)`` in the commit's ``userMetadata``. Idempotent MERGE/DELETE cannot be
recorded on such an engine and raise :class:`UnsupportedOperation`.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
import weakref
from typing import TYPE_CHECKING, Any, Iterable

import attrs

from lakeport.api import SchemaMismatch, TableNotFound, UnsupportedOperation, quote_identifier

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, Row, SparkSession
    from pyspark.sql.types import StructType

log = logging.getLogger(__name__)

#: ``commitInfo.userMetadata`` of an idempotent write on an engine that ignores ``txnAppId``
TXN_MARKER = "lakeport.txn="
_TXN_CONFS = ("spark.databricks.delta.write.txnAppId", "spark.databricks.delta.write.txnVersion")
_PLAIN = re.compile(r"[\w.:/@+-]+")

#: per session: does the engine have Delta's SQL commands (DESCRIBE HISTORY)?
_delta_sql: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


@attrs.frozen
class NativeOutcome:
    """What a native write did. ``version`` is the table's version after it (None: no table).

    ``skipped``: an idempotent write (``txn``) that the table had already committed. Counts
    are Delta's operation metrics of the commit; None where the commit did not report them.
    """

    version: int | None
    skipped: bool = False
    num_rows: int | None = None
    inserted: int | None = None
    updated: int | None = None
    deleted: int | None = None


def _quote(name: str) -> str:
    return ".".join(f"`{part.strip('`')}`" for part in name.split("."))


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _metric(commit: dict | None, *names: str) -> int | None:
    """An operation metric of a commit (DESCRIBE HISTORY gives strings, the log numbers)."""
    metrics = (commit or {}).get("operationMetrics") or {}
    for name in names:
        if metrics.get(name) is not None:
            return int(metrics[name])
    return None


class NativeDelta:
    """One Delta table through ``format("delta")`` and SQL."""

    def __init__(self, spark: SparkSession, *, name: str | None, location: str | None, table: str | None = None,
                 comment: str | None = None) -> None:
        self.spark, self.name, self.location, self.comment = spark, name, location, comment
        self.table = table or name or location or "<unnamed>"

    @property
    def ref(self) -> str:
        return _quote(self.name) if self.name else "delta." + quote_identifier(self.location or "")

    # -- what the engine can do -----------------------------------------------------
    def _describe_history(self, limit: int | None) -> list[Row] | None:
        """DESCRIBE HISTORY rows, or None where the engine has no such statement."""
        from pyspark.errors import IllegalArgumentException, ParseException

        query = f"DESCRIBE HISTORY {self.ref}" + (f" LIMIT {int(limit)}" if limit else "")
        try:
            rows = self.spark.sql(query).collect()
        except (ParseException, IllegalArgumentException) as exc:
            if "HISTORY" not in str(exc).upper():
                raise
            _delta_sql[self.spark] = False
            return None
        _delta_sql[self.spark] = True
        return rows

    def has_delta_sql(self) -> bool:
        """True on delta-spark and Databricks; False on engines without DESCRIBE HISTORY (Sail)."""
        from pyspark.errors import AnalysisException

        if self.spark not in _delta_sql:
            try:
                self._describe_history(1)
            except AnalysisException:  # the statement parsed; the table is missing
                _delta_sql[self.spark] = True
        return _delta_sql[self.spark]

    def _unsupported(self, operation: str, hint: str) -> UnsupportedOperation:
        return UnsupportedOperation("delta", self.table, operation, hint)

    # -- the transaction log, for engines without DESCRIBE HISTORY --------------------
    def _table_location(self) -> str:
        if self.location:
            return self.location
        rows = self.spark.sql(f"DESCRIBE TABLE EXTENDED {self.ref}").collect()
        for row in rows:
            if row[0] == "Location":
                return str(row[1])
        raise TableNotFound(f"delta table {self.table!r}: the engine does not report the location of {self.ref}")

    def _commit_files(self) -> DataFrame:
        """``(version, content)`` of every commit file in ``_delta_log``, read by the engine."""
        return (
            self.spark.read.format("binaryFile").option("pathGlobFilter", "*.json")
            .load(self._table_location().rstrip("/") + "/_delta_log")
            .selectExpr("CAST(regexp_extract(path, '([0-9]{20})[.]json$', 1) AS BIGINT) AS version", "content")
            .where("version IS NOT NULL")
        )

    @staticmethod
    def _actions(content: Any) -> Iterable[dict]:
        for line in bytes(content).decode("utf-8").splitlines():
            if line.strip():
                yield json.loads(line)

    def _log_history(self, limit: int | None) -> list[dict]:
        files = self._commit_files().orderBy("version", ascending=False)
        if limit:
            files = files.limit(int(limit))
        history = []
        for row in files.collect():
            info: dict[str, Any] = next((a["commitInfo"] for a in self._actions(row["content"]) if "commitInfo" in a), {})
            history.append({"version": int(row["version"]), **info})
        return history

    def _logged_txn_version(self, app_id: str) -> int | None:
        """The newest version committed for ``app_id``: a ``txn`` action or a lakeport marker."""
        files = self._commit_files().where(
            "instr(CAST(content AS STRING), 'lakeport.txn') > 0 OR instr(CAST(content AS STRING), '\"txn\"') > 0"
        )
        if _PLAIN.fullmatch(app_id):  # appears verbatim in the JSON: let the engine skip other files
            files = files.where(f"instr(CAST(content AS STRING), {_literal(app_id)}) > 0")
        for row in files.orderBy("version", ascending=False).toLocalIterator():
            for action in self._actions(row["content"]):
                txn = action.get("txn") or {}
                if txn.get("appId") == app_id:
                    return int(txn["version"])
                marker = (action.get("commitInfo") or {}).get("userMetadata") or ""
                if marker.startswith(TXN_MARKER):
                    logged_app, version = json.loads(marker[len(TXN_MARKER):])
                    if logged_app == app_id:
                        return int(version)
        return None

    def _txn_done(self, txn: tuple[str, int]) -> bool:
        done = self._logged_txn_version(str(txn[0]))
        if done is not None and done >= int(txn[1]):
            log.info("delta table %s: app %r already committed version %s; skipped", self.table, txn[0], done)
            return True
        return False

    def _last_commit(self) -> dict | None:
        history = self.history(1)
        return history[0] if history else None

    def _version(self) -> int | None:
        commit = self._last_commit()
        return int(commit["version"]) if commit else None

    # -- reads ------------------------------------------------------------------------
    def read(self, version: int | None, timestamp: Any) -> DataFrame:
        reader = self.spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", version)
        if timestamp is not None:
            reader = reader.option("timestampAsOf", str(timestamp))
        return reader.table(self.name) if self.name else reader.load(self.location)

    def read_stream(self, *, starting_version: Any, starting_timestamp: Any, skip_change_commits: bool,
                    max_files_per_trigger: int | None) -> DataFrame:
        reader = self.spark.readStream.format("delta")
        for key, value in (("startingVersion", starting_version), ("startingTimestamp", starting_timestamp),
                           ("maxFilesPerTrigger", max_files_per_trigger)):
            if value is not None:
                reader = reader.option(key, value)
        if skip_change_commits:
            reader = reader.option("skipChangeCommits", "true")
        return reader.table(self.name) if self.name else reader.load(self.location)

    # -- writes -----------------------------------------------------------------------
    def write(self, df: DataFrame, *, mode: str, partition_by: tuple[str, ...] = (), merge_schema: bool = False,
              overwrite_schema: bool = False, txn: tuple[str, int] | None = None, properties: Any = None) -> NativeOutcome:
        writer = df.write.format("delta").mode(mode)
        if partition_by:
            writer = writer.partitionBy(*partition_by)
        if merge_schema:
            writer = writer.option("mergeSchema", "true")
        if overwrite_schema:
            writer = writer.option("overwriteSchema", "true")
        exists = self.exists()
        before = self._version() if exists else None
        if txn is not None:
            # Delta's own idempotent writes (delta-spark, Databricks: a `txn` action in the commit)
            writer = writer.option("txnAppId", str(txn[0])).option("txnVersion", str(int(txn[1])))
            if not self.has_delta_sql():  # engines that ignore txnAppId (Sail): a marker, checked here
                writer = writer.option("userMetadata", TXN_MARKER + json.dumps([str(txn[0]), int(txn[1])]))
                if exists and self._txn_done(txn):
                    return NativeOutcome(before, skipped=True)
        if self.name:
            if self.location:
                writer = writer.option("path", self.location)
            writer.saveAsTable(self.name)
        else:
            writer.save(self.location)
        commit = self._last_commit()
        after = int(commit["version"]) if commit else None
        skipped = txn is not None and after == before
        return NativeOutcome(after, skipped=skipped, num_rows=None if skipped else _metric(commit, "numOutputRows"))

    def upsert(self, df: DataFrame, keys: Iterable[str], *, sequence_by: str | None = None,
               txn: tuple[str, int] | None = None) -> NativeOutcome:
        """MERGE on ``keys``; source rows with a null key are dropped, duplicates reduced to one.

        The latest duplicate by ``sequence_by`` wins, else an arbitrary one. A missing table
        is created by appending the source.
        """
        keys = list(keys)
        columns = {c.lower(): c for c in df.columns}
        for name in keys + ([sequence_by] if sequence_by else []):
            if name.lower() not in columns:
                raise SchemaMismatch(
                    f"delta table {self.table!r}: upsert column {name!r} is not in the data ({', '.join(df.columns)})"
                )
        view = f"lakeport_upsert_{uuid.uuid4().hex}"
        df.createOrReplaceTempView(view)
        try:
            partition = ", ".join(quote_identifier(k) for k in keys)
            order = f"{quote_identifier(sequence_by)} DESC" if sequence_by else partition
            source = (
                f"SELECT {', '.join(quote_identifier(c) for c in df.columns)} FROM ("
                f"SELECT *, row_number() OVER (PARTITION BY {partition} ORDER BY {order}) AS `__lakeport_rank` "
                f"FROM {view} WHERE {' AND '.join(f'{quote_identifier(k)} IS NOT NULL' for k in keys)}"
                ") AS ranked WHERE `__lakeport_rank` = 1"
            )
            if not self.exists():
                outcome = self.write(self.spark.sql(source), mode="append", txn=txn)
                return NativeOutcome(outcome.version, outcome.skipped, inserted=outcome.num_rows, updated=0)
            on = " AND ".join(f"target.{quote_identifier(k)} = source.{quote_identifier(k)}" for k in keys)
            statement = (
                f"MERGE INTO {self.ref} AS target USING ({source}) AS source ON {on} "
                "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
            )
            before, commit = self._run_dml("upsert", statement, txn)
        finally:
            self.spark.catalog.dropTempView(view)
        if commit is None:  # nothing committed: a replay (txn), or nothing to merge
            return NativeOutcome(before, skipped=txn is not None, inserted=0, updated=0)
        merged = commit.get("operation") == "MERGE"
        return NativeOutcome(
            int(commit["version"]),
            inserted=_metric(commit, "numTargetRowsInserted") if merged else None,
            updated=_metric(commit, "numTargetRowsUpdated") if merged else None,
        )

    def delete(self, where: str, txn: tuple[str, int] | None = None) -> NativeOutcome:
        before, commit = self._run_dml("delete", f"DELETE FROM {self.ref} WHERE {where}", txn)
        if commit is None:  # nothing committed: a replay (txn), or no row matched
            return NativeOutcome(before, skipped=txn is not None, deleted=0)
        deleted = _metric(commit, "numDeletedRows") if commit.get("operation") == "DELETE" else None
        return NativeOutcome(int(commit["version"]), deleted=deleted)

    def _run_dml(self, operation: str, statement: str, txn: tuple[str, int] | None) -> tuple[int | None, dict | None]:
        """Run MERGE/DELETE, idempotently with ``txn``: (version before, the new commit or None)."""
        before = self._version()
        if txn is None:
            self.spark.sql(statement).collect()
            return before, self._new_commit(before)
        if not self.has_delta_sql():
            if self._txn_done(txn):
                return before, None
            raise self._unsupported(
                operation,
                f"idempotent writes (txn={txn!r}) of MERGE/DELETE need Delta's spark.databricks.delta.write.txnAppId "
                "support, which this engine lacks (it has no DESCRIBE HISTORY); write without txn, or use the "
                "embedded backend",
            )
        conf = self.spark.conf
        conf.set(_TXN_CONFS[0], str(txn[0]))
        conf.set(_TXN_CONFS[1], str(int(txn[1])))
        try:
            self.spark.sql(statement).collect()
        finally:
            for key in _TXN_CONFS:
                conf.unset(key)
        return before, self._new_commit(before)

    def _new_commit(self, before: int | None) -> dict | None:
        """The latest commit if it is newer than ``before`` (no commit: nothing matched, or skipped)."""
        commit = self._last_commit()
        return commit if commit is not None and int(commit["version"]) != before else None

    # -- management -------------------------------------------------------------------
    def truncate(self) -> None:
        self.spark.sql(f"DELETE FROM {self.ref}").collect()

    def drop(self) -> None:
        if self.name:
            self.spark.sql(f"DROP TABLE IF EXISTS {self.ref}").collect()
        else:
            self.drop_and_delete()

    def drop_and_delete(self) -> None:
        location = self.location
        if self.name and self.exists():
            location = self._table_location()
            self.spark.sql(f"DROP TABLE IF EXISTS {self.ref}").collect()
        if location and not location.startswith(("dbfs:", "abfss:", "s3:", "s3a:", "gs:")):
            import shutil

            shutil.rmtree(location.removeprefix("file:"), ignore_errors=True)

    def create(self, schema: StructType, *, partition_by: tuple[str, ...] = (), properties: Any = None) -> None:
        if self.exists():
            return
        name, location = self.ref, self.location if self.name else None
        scratch = not self.name and not self.has_delta_sql()
        if scratch:  # no `delta.`path`` in DDL here: an external table at the path, dropped again
            name, location = f"`lakeport_create_{uuid.uuid4().hex}`", self.location
        columns = ", ".join(f"{quote_identifier(f.name)} {f.dataType.simpleString()}" for f in schema.fields)
        statement = f"CREATE TABLE IF NOT EXISTS {name} ({columns}) USING DELTA"
        if partition_by:
            statement += " PARTITIONED BY (" + ", ".join(quote_identifier(c) for c in partition_by) + ")"
        if location:
            statement += f" LOCATION {_literal(location)}"
        if self.comment:
            statement += f" COMMENT {_literal(self.comment)}"
        if properties:
            statement += " TBLPROPERTIES (" + ", ".join(f"{_literal(k)} = {_literal(str(v))}" for k, v in properties.items()) + ")"
        try:
            self.spark.sql(statement).collect()
        finally:
            if scratch:
                self.spark.sql(f"DROP TABLE IF EXISTS {name}").collect()

    def exists(self) -> bool:
        from pyspark.errors import AnalysisException

        if self.name:
            return bool(self.spark.catalog.tableExists(self.name))
        try:
            self.spark.read.format("delta").load(self.location).schema  # noqa: B018 - analysis only
        except AnalysisException:
            return False
        return True

    def schema(self) -> StructType:
        if not self.exists():
            raise TableNotFound(f"delta table {self.table!r} does not exist at {self.location or self.name}")
        return self.read(None, None).schema

    def history(self, limit: int | None) -> list[dict]:
        """Commits, newest first: DESCRIBE HISTORY rows, else ``commitInfo`` + ``version`` from the log."""
        rows = self._describe_history(limit)
        if rows is not None:
            return [row.asDict(recursive=True) for row in rows]
        return self._log_history(limit)
