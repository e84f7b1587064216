"""DeltaHandle: spetlr's DeltaHandle, on an embedded (delta-rs) or a native backend."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any, Mapping

import attrs

from lakeport.api import ConfigError, Handle, TableNotFound, WriteResult, common_handle_kwargs
from lakeport_delta.settings import Backend, DeltaSettings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

    from lakeport.api import Project, RuleMask

log = logging.getLogger(__name__)

#: ``embedded`` or ``native``: what ``backend = "auto"`` picks regardless of the session
#: (an explicit backend always wins). For test suites and sessions that carry Delta's jars
#: but whose ``auto`` tables should stay embedded.
AUTO_BACKEND_ENV = "LAKEPORT_DELTA_AUTO_BACKEND"


@attrs.frozen
class DeltaOptions:
    """Keys of a ``kind = "delta"`` table besides the common ones (same names as the constructor)."""

    backend: Backend | None = None
    partition_by: tuple[str, ...] = ()
    properties: Mapping[str, str] = attrs.field(factory=dict)
    starting_version: int | None = None
    starting_timestamp: str | None = None
    skip_change_commits: bool = False
    max_files_per_trigger: int | None = None
    sequence_by: str | None = None
    #: appends and overwrites add the data's new columns to the table (Delta's ``mergeSchema``).
    merge_schema: bool = False


def name_to_path(name: str, warehouse: str) -> str:
    """``db.table`` -> ``<warehouse>/db.db/table``; ``catalog.db.table`` -> ``<warehouse>/catalog/db.db/table``."""
    parts = name.replace("`", "").split(".")
    if len(parts) == 1:
        return os.path.join(warehouse, parts[0])
    if len(parts) == 2:
        return os.path.join(warehouse, f"{parts[0]}.db", parts[1])
    if len(parts) == 3:
        return os.path.join(warehouse, parts[0], f"{parts[1]}.db", parts[2])
    raise ConfigError(f"table name {name!r} has more than three parts (catalog.db.table)")


class DeltaHandle(Handle):
    """A Delta table addressed by name (``db.table``) or location."""

    kind = "delta"
    supports_txn = True

    def __init__(
        self,
        name: str | None = None,
        location: str | None = None,
        schema: StructType | str | None = None,
        options: Mapping[str, Any] | None = None,
        *,
        backend: Backend | str | None = None,
        partition_by: tuple[str, ...] | list[str] = (),
        properties: Mapping[str, str] | None = None,
        starting_version: int | None = None,
        starting_timestamp: str | None = None,
        skip_change_commits: bool = False,
        max_files_per_trigger: int | None = None,
        sequence_by: str | None = None,
        merge_schema: bool = False,
        comment: str | None = None,
        **common: Any,
    ) -> None:
        if not name and not location:
            raise ConfigError("DeltaHandle needs a name (db.table) or a location (path)")
        common.setdefault("table", name or location)
        super().__init__(schema=schema, **common)
        self.name = name
        self.location = location
        self.options = dict(options or {})
        self.backend_setting = Backend(backend) if backend else None
        self.partition_by = tuple(partition_by)
        self.properties = dict(properties or {})
        self.starting_version = starting_version
        self.starting_timestamp = starting_timestamp
        self.skip_change_commits = skip_change_commits
        self.max_files_per_trigger = max_files_per_trigger
        self.sequence_by = sequence_by
        self.merge_schema = merge_schema
        #: the table's description in its Delta metadata, set when the table is created.
        self.comment = comment
        self._backend: str | None = None

    @classmethod
    def from_config(cls, project: Project, table: str) -> DeltaHandle:
        spec = project.table(table)
        opts: DeltaOptions = project.table_options(table) or DeltaOptions()
        if not spec.name and not spec.path:
            raise ConfigError(f"tables.{table}: kind \"delta\" needs a name (db.table) or a path", source=project.source)
        return cls(
            name=spec.name,
            location=spec.path,
            backend=opts.backend or project.plugin_settings(DeltaSettings).backend,
            comment=spec.comment,
            **{f.name: getattr(opts, f.name) for f in attrs.fields(DeltaOptions) if f.name != "backend"},
            **common_handle_kwargs(project, table),
        )

    # -- where and how --------------------------------------------------------------
    def describe(self) -> str:
        return f"delta table {self.name}" if self.name else f"delta table at {self.path}"

    @property
    def path(self) -> str:
        """The table's folder on the embedded backend."""
        if self.location:
            return self.location
        warehouse = self.project.warehouse if self.project is not None else os.path.abspath("spark-warehouse")
        return name_to_path(self.name or "", warehouse)

    @property
    def backend(self) -> str:
        """``embedded`` or ``native``; ``auto`` picks native only when the session has Delta.

        The session has Delta on Databricks and where delta-spark's extension is configured
        (a session lakeport built with ``[plugins.delta] jars = true``); ``$LAKEPORT_DELTA_AUTO_BACKEND``
        overrides what ``auto`` picks.
        """
        if self._backend is None:
            choice = (self.backend_setting or Backend.AUTO).value
            if choice == "auto":
                choice = auto_backend(self.spark)
            self._backend = choice
            log.debug("%s: delta backend %s", self.table, choice)
        return self._backend

    def _ops(self) -> Any:
        if self.backend == "native":
            from lakeport_delta import native

            return native.NativeDelta(self.spark, name=self.name, location=self.location, table=self.table,
                                      comment=self.comment)
        from lakeport_delta.embedded import ops

        return _EmbeddedDelta(ops, self.spark, self.path, self.name, self.comment)

    def counts_rule_mask(self, mode: str) -> bool:
        """The embedded backend's writers see every row in Python: they count and filter a rule mask.

        Appends and overwrites count in the Spark tasks that write the files, or on the
        driver when the write is small enough to be collected; upserts on the driver,
        where the rows are collected for delta-rs's MERGE. The native
        backend's writers are Spark's own: expectations use ``observe`` there.
        """
        return self.backend == "embedded"

    @staticmethod
    def _mask_option(rule_mask: RuleMask | None) -> dict[str, Any]:
        return {} if rule_mask is None else {"rule_mask": rule_mask}

    def _result(self, mode: str, outcome: Any, rows: int | None = None, **details: Any) -> WriteResult:
        return WriteResult(
            table=self.table, kind=self.kind, mode=mode, version=outcome.version, skipped=outcome.skipped,
            rows_written=rows, rule_counts=getattr(outcome, "rule_counts", None), details=details,
        )

    # -- operations -----------------------------------------------------------------
    def _read(self, version: int | None = None, timestamp: Any = None, **options: Any) -> DataFrame:
        return self._ops().read(version=version, timestamp=timestamp)

    def _read_stream(self, **overrides: Any) -> DataFrame:
        settings = {
            "starting_version": self.starting_version,
            "starting_timestamp": self.starting_timestamp,
            "skip_change_commits": self.skip_change_commits,
            "max_files_per_trigger": self.max_files_per_trigger,
        }
        unknown = set(overrides) - set(settings)
        if unknown:
            raise ConfigError(f"{self.table}: unknown read_stream option(s) {', '.join(sorted(unknown))}; valid: {', '.join(settings)}")
        settings.update(overrides)
        return self._ops().read_stream(**settings)

    def _append(
        self, df: DataFrame, merge_schema: bool = False, txn: tuple[str, int] | None = None,
        rule_mask: RuleMask | None = None,
    ) -> WriteResult:
        outcome = self._ops().write(df, mode="append", partition_by=self.partition_by,
                                    merge_schema=merge_schema or self.merge_schema,
                                    txn=txn, properties=self.properties, **self._mask_option(rule_mask))
        return self._result("append", outcome, getattr(outcome, "num_rows", None))

    def _overwrite(
        self, df: DataFrame, merge_schema: bool = False, overwrite_schema: bool = False, txn: tuple[str, int] | None = None,
        rule_mask: RuleMask | None = None,
    ) -> WriteResult:
        outcome = self._ops().write(df, mode="overwrite", partition_by=self.partition_by,
                                    merge_schema=merge_schema or self.merge_schema,
                                    overwrite_schema=overwrite_schema, txn=txn, properties=self.properties,
                                    **self._mask_option(rule_mask))
        return self._result("overwrite", outcome, getattr(outcome, "num_rows", None))

    def _upsert(
        self, df: DataFrame, keys: tuple[str, ...], sequence_by: str | None = None, txn: tuple[str, int] | None = None,
        rule_mask: RuleMask | None = None,
    ) -> WriteResult:
        outcome = self._ops().upsert(df, keys, sequence_by=sequence_by or self.sequence_by, txn=txn,
                                     **self._mask_option(rule_mask))
        inserted, updated = getattr(outcome, "inserted", None), getattr(outcome, "updated", None)
        rows = None if inserted is None or updated is None else inserted + updated
        return self._result(
            "upsert", outcome, rows, inserted=inserted, updated=updated,
            dropped_null_keys=getattr(outcome, "dropped_null_keys", None), deduplicated=getattr(outcome, "deduplicated", None),
        )

    def _delete(self, where: str, txn: tuple[str, int] | None = None) -> WriteResult:
        outcome = self._ops().delete(where, txn=txn)
        return self._result("delete", outcome, deleted=getattr(outcome, "deleted", None))

    def _truncate(self) -> None:
        self._require()
        self._ops().truncate()

    def _drop(self) -> None:
        self._ops().drop()

    def drop_and_delete(self) -> None:
        """Drop the table and delete its files."""
        self._ops().drop_and_delete()

    def _create(self) -> None:
        schema = self.declared_struct()
        if schema is None:
            raise self.unsupported("create", "declare `schema = \"...\"` on the table")
        if not self._exists():
            self._ops().create(schema, partition_by=self.partition_by, properties=self.properties)

    def _exists(self) -> bool:
        return self._ops().exists()

    def _schema(self) -> StructType:
        if self._exists():
            return self._ops().schema()
        return super()._schema()

    def history(self, limit: int | None = None) -> list[dict]:
        """Commits, newest first, as Delta's DESCRIBE HISTORY reports them."""
        self._require()
        return self._ops().history(limit)

    def _require(self) -> None:
        if not self._exists():
            raise TableNotFound(f"delta table {self.table!r} does not exist at {self.location or self.name}")


#: appends and overwrites with an application transaction (``txn``, as StreamLoader's micro-batches
#: have) of at most this many rows are written and committed from the driver (see ``ops.write``);
#: so is any append or overwrite that Spark's plan estimate says is small (``collect_estimated``).
SMALL_BATCH_ROWS = 10_000


class _EmbeddedDelta:
    """Binds the embedded engine's functions to one table."""

    def __init__(self, ops: Any, spark: SparkSession, path: str, name: str | None, comment: str | None) -> None:
        self.ops, self.spark, self.path, self.name, self.comment = ops, spark, path, name, comment

    def read(self, version: int | None, timestamp: Any) -> DataFrame:
        return self.ops.read(self.spark, self.path, version=version, timestamp=timestamp)

    def read_stream(self, **settings: Any) -> DataFrame:
        return self.ops.read_stream(self.spark, self.path, **settings)

    def write(self, df: DataFrame, **kwargs: Any) -> Any:
        # a small result (as Spark's plan estimate says) skips the Spark write job's Python processes
        kwargs.setdefault("collect_estimated", True)
        if kwargs.get("txn") is not None:  # a micro-batch (foreachBatch): usually small
            kwargs.setdefault("collect_max_rows", SMALL_BATCH_ROWS)
        return self.ops.write(df, self.path, table_name=self.name, description=self.comment, **kwargs)

    def upsert(self, df: DataFrame, keys: tuple[str, ...], **kwargs: Any) -> Any:
        return self.ops.upsert(df, self.path, list(keys), **kwargs)

    def delete(self, where: str, txn: Any) -> Any:
        return self.ops.delete(self.spark, self.path, where, txn=txn)

    def truncate(self) -> None:
        self.ops.truncate(self.path)

    def drop(self) -> None:
        self.ops.drop_and_delete(self.path)

    drop_and_delete = drop

    def create(self, schema: StructType, **kwargs: Any) -> None:
        self.ops.create(self.path, schema, table_name=self.name, description=self.comment, **kwargs)

    def exists(self) -> bool:
        return self.ops.exists(self.path)

    def schema(self) -> StructType:
        return self.ops.schema(self.path)

    def history(self, limit: int | None) -> list[dict]:
        return self.ops.history(self.path, limit)


def auto_backend(spark: SparkSession) -> str:
    """What ``backend = "auto"`` means for ``spark``."""
    forced = os.environ.get(AUTO_BACKEND_ENV, "").strip().lower()
    if forced:
        if forced not in ("embedded", "native"):
            raise ConfigError(f"${AUTO_BACKEND_ENV}={forced!r}: expected embedded or native")
        return forced
    return "native" if session_has_delta(spark) else "embedded"


def session_has_delta(spark: SparkSession) -> bool:
    """True on Databricks and where delta-spark's extension is configured."""
    if os.environ.get("DATABRICKS_RUNTIME_VERSION"):
        return True
    try:
        extensions = spark.conf.get("spark.sql.extensions", "") or ""
    except Exception:  # noqa: BLE001 - Connect servers may refuse to show static conf
        extensions = ""
    return "io.delta" in extensions
