"""PostgresHandle: each table a folder of Parquet files under ``location`` (replace with your system)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from lakeport.api import ConfigError, Handle, TableNotFound, WriteResult, common_handle_kwargs

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.types import StructType

    from lakeport.api import Project


@attrs.frozen
class PostgresOptions:
    """The kind's own table keys; core checks them (unknown key, wrong type) with the key path."""

    location: str | None = None


class PostgresHandle(Handle):
    kind = "postgres"

    def __init__(self, *, location: str, **common: Any) -> None:
        super().__init__(**common)
        self.location = location

    @classmethod
    def from_config(cls, project: Project, table: str) -> PostgresHandle:
        options: PostgresOptions = project.table_options(table)
        if not options.location:
            raise ConfigError(f"tables.{table}.location: kind \"postgres\" needs a location", source=project.source)
        return cls(location=options.location, **common_handle_kwargs(project, table))

    def describe(self) -> str:
        return f"parquet folder {self.location}"

    # -- the operations this kind supports: override _<operation> -------------------
    def _read(self, **options: Any) -> DataFrame:
        if not self._exists():
            raise TableNotFound(f"postgres table {self.table!r} has no data at {self.location}")
        reader = self.spark.read.options(**options)
        declared = self.declared_struct()
        return (reader.schema(declared) if declared is not None else reader).parquet(self.location)

    def _append(self, df: DataFrame, **options: Any) -> WriteResult:
        return self._save(df, "append")

    def _overwrite(self, df: DataFrame, **options: Any) -> WriteResult:
        return self._save(df, "overwrite")

    def _exists(self) -> bool:
        folder = Path(self.location)
        return folder.is_dir() and any(folder.glob("*.parquet"))

    def _drop(self) -> None:
        shutil.rmtree(self.location, ignore_errors=True)

    def _create(self) -> None:
        declared = self.declared_struct()
        if declared is None:
            raise self.unsupported("create", "declare `schema = \"...\"` on the table")
        if not self._exists():
            self._save(self.spark.createDataFrame([], declared), "append")

    def _schema(self) -> StructType:
        declared = self.declared_struct()
        return declared if declared is not None else self._read().schema

    def _save(self, df: DataFrame, mode: str) -> WriteResult:
        df.write.mode(mode).parquet(self.location)
        return WriteResult(table=self.table, kind=self.kind, mode=mode)
