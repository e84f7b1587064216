"""The native backend: Spark's own Delta (Databricks, delta-spark, Spark Connect servers).

Only the DataFrame API and SQL — no ``_jvm`` — so it also works over Spark
Connect / Databricks Connect.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from lakeport.errors import TableNotFound

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

log = logging.getLogger(__name__)


class _Outcome:
    def __init__(self, version: int | None, skipped: bool = False, **counts: Any) -> None:
        self.version, self.skipped = version, skipped
        self.__dict__.update(counts)


def _quote(name: str) -> str:
    return ".".join(f"`{part.strip('`')}`" for part in name.split("."))


class NativeDelta:
    """One Delta table through ``format("delta")`` and SQL."""

    def __init__(self, spark: SparkSession, *, name: str | None, location: str | None) -> None:
        self.spark, self.name, self.location = spark, name, location

    @property
    def ref(self) -> str:
        return _quote(self.name) if self.name else f"delta.`{self.location}`"

    def _version(self) -> int | None:
        rows = self.spark.sql(f"DESCRIBE HISTORY {self.ref} LIMIT 1").collect()
        return int(rows[0]["version"]) if rows else None

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

    def write(self, df: DataFrame, *, mode: str, partition_by: tuple[str, ...] = (), merge_schema: bool = False,
              overwrite_schema: bool = False, txn: tuple[str, int] | None = None, properties: Any = None) -> _Outcome:
        writer = df.write.format("delta").mode(mode)
        if partition_by:
            writer = writer.partitionBy(*partition_by)
        if merge_schema:
            writer = writer.option("mergeSchema", "true")
        if overwrite_schema:
            writer = writer.option("overwriteSchema", "true")
        if txn is not None:  # Delta's own idempotent writes
            writer = writer.option("txnAppId", txn[0]).option("txnVersion", str(txn[1]))
        before = self._version() if self.exists() else None
        if self.name:
            writer.saveAsTable(self.name)
        else:
            writer.save(self.location)
        after = self._version()
        return _Outcome(after, skipped=txn is not None and after == before)

    def upsert(self, df: DataFrame, keys: list[str] | tuple[str, ...], *, sequence_by: str | None = None,
               txn: tuple[str, int] | None = None) -> _Outcome:
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        keys = list(keys)
        not_null = F.lit(True)
        for key in keys:
            not_null = not_null & F.col(key).isNotNull()
        source = df.filter(not_null)
        order = F.col(sequence_by).desc() if sequence_by else F.lit(1)
        source = (
            source.withColumn("__lakeport_rank", F.row_number().over(Window.partitionBy(*keys).orderBy(order)))
            .filter("__lakeport_rank = 1").drop("__lakeport_rank")
        )
        view = f"lakeport_upsert_source_{abs(hash((self.ref, id(df))))}"
        source.createOrReplaceTempView(view)
        on = " AND ".join(f"target.`{k}` = source.`{k}`" for k in keys)
        self.spark.sql(
            f"MERGE INTO {self.ref} AS target USING {view} AS source ON {on} "
            "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
        )
        return _Outcome(self._version())

    def delete(self, where: str, txn: Any = None) -> _Outcome:
        self.spark.sql(f"DELETE FROM {self.ref} WHERE {where}")
        return _Outcome(self._version())

    def truncate(self) -> None:
        self.spark.sql(f"DELETE FROM {self.ref}")

    def drop(self) -> None:
        if self.name:
            self.spark.sql(f"DROP TABLE IF EXISTS {self.ref}")
        else:
            self.drop_and_delete()

    def drop_and_delete(self) -> None:
        location = self.location
        if self.name and self.exists():
            location = self.spark.sql(f"DESCRIBE DETAIL {self.ref}").collect()[0]["location"]
            self.spark.sql(f"DROP TABLE IF EXISTS {self.ref}")
        if location and not location.startswith(("dbfs:", "abfss:", "s3:", "gs:")):
            import shutil

            shutil.rmtree(location.removeprefix("file:"), ignore_errors=True)

    def create(self, schema: StructType, *, partition_by: tuple[str, ...] = (), properties: Any = None) -> None:
        columns = ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in schema.fields)
        statement = f"CREATE TABLE IF NOT EXISTS {self.ref} ({columns}) USING DELTA"
        if partition_by:
            statement += " PARTITIONED BY (" + ", ".join(f"`{c}`" for c in partition_by) + ")"
        if properties:
            statement += " TBLPROPERTIES (" + ", ".join(f"'{k}' = '{v}'" for k, v in properties.items()) + ")"
        if self.location and not self.name:
            statement = statement.replace(f"TABLE IF NOT EXISTS {self.ref}", f"TABLE IF NOT EXISTS delta.`{self.location}`")
        self.spark.sql(statement)

    def exists(self) -> bool:
        from pyspark.errors import AnalysisException

        try:
            self.spark.sql(f"DESCRIBE DETAIL {self.ref}").collect()
        except AnalysisException:
            return False
        return True

    def schema(self) -> StructType:
        if not self.exists():
            raise TableNotFound(f"delta table {self.ref} does not exist")
        return self.read(None, None).schema

    def history(self, limit: int | None) -> list[dict]:
        query = f"DESCRIBE HISTORY {self.ref}" + (f" LIMIT {int(limit)}" if limit else "")
        return [row.asDict(recursive=True) for row in self.spark.sql(query).collect()]
