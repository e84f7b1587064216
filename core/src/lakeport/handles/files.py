"""Built-in kind ``files``: a folder of parquet/json/csv/orc/text files.

Registered as a default plugin so the core alone is useful.
"""

from __future__ import annotations

import enum
import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import attrs

from lakeport.context import WriteResult
from lakeport.errors import TableNotFound
from lakeport.handles.base import Handle, common_handle_kwargs

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.types import StructType

    from lakeport.project import Project

log = logging.getLogger(__name__)


class FileFormat(str, enum.Enum):
    PARQUET = "parquet"
    JSON = "json"
    CSV = "csv"
    ORC = "orc"
    TEXT = "text"


@attrs.frozen
class FilesOptions:
    """Keys of a ``kind = "files"`` table besides the common ones."""

    format: FileFormat = FileFormat.PARQUET
    #: passed to Spark's reader and writer, e.g. ``{ header = "true" }`` for csv.
    options: Mapping[str, str] = attrs.field(factory=dict)
    partition_by: tuple[str, ...] = ()
    max_files_per_trigger: int | None = None


class FilesHandle(Handle):
    """Files under one path, read and written by Spark's file sources."""

    kind = "files"

    def __init__(
        self,
        path: str,
        *,
        format: str | FileFormat = FileFormat.PARQUET,
        options: Mapping[str, str] | None = None,
        partition_by: tuple[str, ...] = (),
        max_files_per_trigger: int | None = None,
        **common: Any,
    ) -> None:
        common.setdefault("table", path)
        super().__init__(**common)
        self.path = path
        self.format = FileFormat(format)
        self.options = dict(options or {})
        self.partition_by = tuple(partition_by)
        self.max_files_per_trigger = max_files_per_trigger

    def describe(self) -> str:
        return f"{self.format.value} files at {self.path}"

    @classmethod
    def from_config(cls, project: Project, table: str) -> FilesHandle:
        spec = project.table(table)
        opts: FilesOptions = project.table_options(table)
        if not spec.path:
            from lakeport.errors import ConfigError

            raise ConfigError(f"tables.{table}.path: kind \"files\" needs a path", source=project.source)
        return cls(
            spec.path,
            format=opts.format,
            options=opts.options,
            partition_by=opts.partition_by,
            max_files_per_trigger=opts.max_files_per_trigger,
            **common_handle_kwargs(project, table),
        )

    # -- helpers ----------------------------------------------------------------------
    def _local_dir(self) -> Path | None:
        if self.path.startswith("file:"):
            from urllib.parse import urlparse

            return Path(urlparse(self.path).path)
        if "://" in self.path:
            return None
        return Path(self.path)

    def _data_files(self) -> list[Path]:
        folder = self._local_dir()
        if folder is None or not folder.is_dir():
            return []
        return [p for p in folder.rglob("*") if p.is_file() and not p.name.startswith((".", "_"))]

    def _require_data(self) -> None:
        folder = self._local_dir()
        if folder is not None and not self._data_files():
            raise TableNotFound(f"files table {self.table!r} has no data at {self.path}")

    def _reader_schema(self) -> StructType | None:
        declared = self.declared_struct()
        if declared is not None or self.format in (FileFormat.PARQUET, FileFormat.ORC, FileFormat.TEXT):
            return declared
        return None

    # -- operations -------------------------------------------------------------------
    def _read(self, **options: Any) -> DataFrame:
        self._require_data()
        reader = self.spark.read.format(self.format.value).options(**self.options, **options)
        schema = self._reader_schema()
        if schema is not None and self.format is not FileFormat.TEXT:
            reader = reader.schema(schema)
        return reader.load(self.path)

    def _read_stream(self, **options: Any) -> DataFrame:
        schema = self.declared_struct()
        if schema is None:
            self._require_data()  # file streams need a schema: infer it once from what is there
            schema = self.spark.read.format(self.format.value).options(**self.options).load(self.path).schema
        reader = self.spark.readStream.format(self.format.value).options(**self.options, **options)
        if self.max_files_per_trigger:
            reader = reader.option("maxFilesPerTrigger", self.max_files_per_trigger)
        if self.format is not FileFormat.TEXT:
            reader = reader.schema(schema)
        return reader.load(self.path)

    def _save(self, df: DataFrame, mode: str, options: Mapping[str, Any]) -> WriteResult:
        writer = df.write.format(self.format.value).mode(mode).options(**self.options, **options)
        if self.partition_by:
            writer = writer.partitionBy(*self.partition_by)
        writer.save(self.path)
        return WriteResult(table=self.table, kind=self.kind, mode=mode)

    def _append(self, df: DataFrame, **options: Any) -> WriteResult:
        return self._save(df, "append", options)

    def _overwrite(self, df: DataFrame, **options: Any) -> WriteResult:
        return self._save(df, "overwrite", options)

    def _exists(self) -> bool:
        return bool(self._data_files()) if self._local_dir() is not None else self._remote_exists()

    def _remote_exists(self) -> bool:
        from pyspark.errors import AnalysisException

        try:
            self.spark.read.format(self.format.value).load(self.path).limit(0).collect()
        except AnalysisException:
            return False
        return True

    def _truncate(self) -> None:
        """Keep the table (and its schema), remove its rows."""
        schema = self._schema()
        self._save(self.spark.createDataFrame([], schema), "overwrite", {})

    def _drop(self) -> None:
        folder = self._local_folder_or_fail("drop")
        if folder.exists():
            shutil.rmtree(folder)

    def _create(self) -> None:
        schema = self.declared_struct()
        if schema is None:
            raise self.unsupported("create", "declare `schema = \"...\"` on the table")
        if not self._exists():
            self._save(self.spark.createDataFrame([], schema), "append", {})

    def _schema(self) -> StructType:
        declared = self.declared_struct()
        if declared is not None:
            return declared
        return self._read().schema

    def _local_folder_or_fail(self, operation: str) -> Path:
        folder = self._local_dir()
        if folder is None:
            raise self.unsupported(operation, f"only local paths are managed by kind files, not {self.path}")
        return folder
