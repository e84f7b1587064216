"""``AutoloaderHandle``: spetlr's Auto Loader handle, on Databricks and off it.

On Databricks it is ``spark.readStream.format("cloudFiles")`` with the options
passed through unchanged. Elsewhere the same call runs against lakeport's
``cloudFiles`` Python data source (:mod:`lakeport_autoloader.source`), which the
handle registers on the session first: one code path, two engines.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any, Mapping

import attrs

from lakeport.api import ConfigError, Handle, common_handle_kwargs

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

    from lakeport.api import Project

log = logging.getLogger(__name__)


def on_databricks() -> bool:
    """The Databricks Runtime sets ``DATABRICKS_RUNTIME_VERSION`` in every driver and worker."""
    return bool(os.environ.get("DATABRICKS_RUNTIME_VERSION"))


def register_cloud_files(spark: SparkSession) -> bool:
    """Make ``format("cloudFiles")`` work on ``spark`` (off Databricks); True if this call registered it.

    Unchanged Databricks code needs only this one line before its ``readStream``.
    """
    if on_databricks():
        return False
    from lakeport.api import register_data_source
    from lakeport_autoloader.source import CloudFilesDataSource

    return register_data_source(spark, CloudFilesDataSource)


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


@attrs.frozen
class AutoloaderOptions:
    """Keys of a ``kind = "autoloader"`` table besides the common ones (``path`` is required)."""

    #: cloudFiles.format: json, csv, parquet, avro, orc, text or binaryFile.
    format: str
    #: cloudFiles.schemaLocation: where the inferred schema (and, locally, the file log) is kept.
    schema_location: str | None = None
    #: further options as Databricks spells them: ``cloudFiles.*`` and the format's own.
    options: dict[str, Any] = attrs.field(factory=dict)


class AutoloaderHandle(Handle):
    """Files landing in a folder, read incrementally (``read_stream``) or all at once (``read``)."""

    kind = "autoloader"

    def __init__(
        self,
        *,
        path: str,
        format: str,  # noqa: A002 - Databricks' name
        schema_location: str | None = None,
        schema: StructType | str | None = None,
        options: Mapping[str, Any] | None = None,
        _where: str | None = None,
        **common: Any,
    ) -> None:
        from lakeport_autoloader.options import CloudFilesOptions

        super().__init__(schema=schema, **common)
        self.path = str(path)
        self.format = format
        self.schema_location = str(schema_location) if schema_location is not None else None
        self.options = {str(k): _text(v) for k, v in (options or {}).items()}
        try:
            CloudFilesOptions.from_options({"path": self.path, **self.cloud_files_options()})
        except ConfigError as exc:
            raise ConfigError(f"{_where or f'autoloader table {self.table!r}'}: {exc}") from None

    @classmethod
    def from_config(cls, project: Project, table: str) -> AutoloaderHandle:
        spec = project.table(table)
        opts: AutoloaderOptions = project.table_options(table)
        if not spec.path:
            raise ConfigError(f'tables.{table}.path: kind "autoloader" needs the folder files land in',
                              source=project.source)
        try:
            return cls(path=spec.path, format=opts.format, schema_location=opts.schema_location,
                       options=opts.options, _where=f"tables.{table}", **common_handle_kwargs(project, table))
        except ConfigError as exc:
            raise ConfigError(str(exc), source=project.source) from None

    def describe(self) -> str:
        where = f"; schema at {self.schema_location}" if self.schema_location else ""
        engine = "Databricks cloudFiles" if on_databricks() else "lakeport's cloudFiles source"
        return f"{self.format} files under {self.path} ({engine}{where})"

    def cloud_files_options(self, **extra: Any) -> dict[str, str]:
        """The options ``format("cloudFiles")`` gets, as Databricks spells them."""
        options = {"cloudFiles.format": self.format}
        if self.schema_location:
            options["cloudFiles.schemaLocation"] = self.schema_location
        options.update(self.options)
        options.update({str(k): _text(v) for k, v in extra.items()})
        if on_databricks():  # lakeport's own options mean nothing to Databricks
            options = {k: v for k, v in options.items() if not k.lower().startswith("lakeport.")}
        return options

    def _given_schema(self, options: Mapping[str, str]) -> StructType | None:
        """The declared schema, plus the rescued-data column (``rescuedDataColumn``) and ``_metadata`` if asked for."""
        from pyspark.sql.types import StringType, StructField, StructType

        declared = self.declared_struct()
        if declared is None:
            return None
        lowered = {k.lower(): v for k, v in options.items()}
        rescue = lowered.get("rescueddatacolumn")
        if rescue and rescue not in declared.fieldNames():
            declared = StructType([*declared.fields, StructField(rescue, StringType())])
        if lowered.get("lakeport.includemetadata", "").lower() == "true" and "_metadata" not in declared.fieldNames():
            from lakeport_autoloader.options import metadata_type

            declared = StructType([*declared.fields, StructField("_metadata", metadata_type())])
        return declared

    def _reader(self, spark: SparkSession, reader: Any, options: Mapping[str, str]) -> Any:
        from lakeport.api import UnsupportedOperation, python_streams_unsupported

        if not on_databricks():
            why = python_streams_unsupported()
            if why:
                raise UnsupportedOperation(self.kind, self.table, "read_stream", why)
            register_cloud_files(spark)
        reader = reader.format("cloudFiles").options(**options)
        schema = self._given_schema(options)
        return reader.schema(schema) if schema is not None else reader

    def _read_stream(self, **options: Any) -> DataFrame:
        spark = self.spark
        merged = self.cloud_files_options(**options)
        return self._reader(spark, spark.readStream, merged).load(self.path)

    def _read(self, **options: Any) -> DataFrame:
        spark = self.spark
        merged = self.cloud_files_options(**options)
        if on_databricks():  # cloudFiles is streaming-only there: the format's own batch reader
            reader = spark.read.format(self.format).options(
                **{k: v for k, v in merged.items() if not k.lower().startswith("cloudfiles.")})
            schema = self._given_schema(merged) or self._stored_schema()
            return (reader.schema(schema) if schema is not None else reader).load(self.path)
        return self._reader(spark, spark.read, merged).load(self.path)

    def _stored_schema(self) -> StructType | None:
        if not self.schema_location:
            return None
        from lakeport_autoloader.schema_store import SchemaStore

        return SchemaStore(self.schema_location).latest()

    def _schema(self) -> StructType:
        schema = self.declared_struct() or self._stored_schema()
        if schema is None:
            raise self.unsupported("schema", "no schema is declared and none was inferred yet (read it once)")
        return schema

    def _exists(self) -> bool:
        return os.path.isdir(self.path.removeprefix("file:"))
