"""DeltaHandle on the native backend against delta-spark, the reference implementation.

The shared classic session carries delta-spark's jars, extension and catalog (the repo-root
conftest builds it with ``lakeport_delta.spark_conf.delta_spark_conf()``). Every table
is checked with what delta-spark itself reports (``DESCRIBE HISTORY``, ``format("delta")``).
"""

from __future__ import annotations

import pytest

pytest.importorskip("delta", reason="the native backend tests need delta-spark (pip install lakeport-delta[spark])")

from lakeport.testing import HandleContract  # noqa: E402
from lakeport_delta import DeltaHandle  # noqa: E402
from lakeport_delta.handle import AUTO_BACKEND_ENV, session_has_delta  # noqa: E402

SCHEMA = "id BIGINT, name STRING"
TXN_CONFS = ("spark.databricks.delta.write.txnAppId", "spark.databricks.delta.write.txnVersion")


@pytest.fixture(autouse=True)
def _needs_delta_session(spark):
    if not session_has_delta(spark):
        pytest.skip("the shared session has no Delta jars (delta-spark not installed when it started)")


@pytest.fixture
def native(tmp_lake):
    """``native(folder, **kwargs)`` -> a native DeltaHandle at ``tmp_lake/folder``."""

    def make(folder="t", **kwargs):
        kwargs.setdefault("location", str(tmp_lake / folder))
        return DeltaHandle(backend="native", **kwargs)

    return make


def rows(df):
    return sorted(tuple(r) for r in df.collect())


def spark_history(spark, path):
    """(version, operation) newest first, as delta-spark's DESCRIBE HISTORY reports them."""
    return [(r["version"], r["operation"]) for r in spark.sql(f"DESCRIBE HISTORY delta.`{path}`").collect()]


class TestNativeDeltaSparkContract(HandleContract):
    @pytest.fixture
    def make_handle(self, tmp_lake):
        counter = iter(range(1000))

        def make(schema, expectations=()):
            return DeltaHandle(location=str(tmp_lake / f"d{next(counter)}"), schema=schema, expectations=expectations,
                               backend="native", table="people")

        return make


def test_auto_picks_native_on_a_session_with_delta_and_embedded_when_told(spark, tmp_lake, monkeypatch):
    monkeypatch.delenv(AUTO_BACKEND_ENV, raising=False)
    assert DeltaHandle(location=str(tmp_lake / "a")).backend == "native"
    assert DeltaHandle(location=str(tmp_lake / "b"), backend="embedded").backend == "embedded"
    monkeypatch.setenv(AUTO_BACKEND_ENV, "embedded")
    assert DeltaHandle(location=str(tmp_lake / "c")).backend == "embedded"
    assert DeltaHandle(location=str(tmp_lake / "d"), backend="native").backend == "native"


def test_writes_counts_history_and_time_travel(spark, native, tmp_lake):
    handle = native()
    first = handle.append(spark.createDataFrame([(1, "a"), (2, "b")], SCHEMA))
    handle.append(spark.createDataFrame([(3, "c")], SCHEMA))
    handle.overwrite(spark.createDataFrame([(1, "a"), (2, "b"), (3, "c")], SCHEMA))
    upserted = handle.upsert(spark.createDataFrame([(2, "B"), (4, "d")], SCHEMA), keys=["id"])
    deleted = handle.delete("id = 3")
    assert (first.version, first.rows_written) == (0, 2)
    assert (upserted.version, upserted.details["inserted"], upserted.details["updated"], upserted.rows_written) == (3, 1, 1, 2)
    assert (deleted.version, deleted.details["deleted"]) == (4, 1)
    assert rows(handle.read()) == [(1, "a"), (2, "B"), (4, "d")]
    expected = [(4, "DELETE"), (3, "MERGE"), (2, "WRITE"), (1, "WRITE"), (0, "WRITE")]
    assert spark_history(spark, tmp_lake / "t") == expected
    assert [(c["version"], c["operation"]) for c in handle.history()] == expected
    assert [c["version"] for c in handle.history(limit=2)] == [4, 3]
    assert rows(handle.read(version=1)) == [(1, "a"), (2, "b"), (3, "c")]
    assert rows(handle.read(version=0)) == [(1, "a"), (2, "b")]
    assert handle.delete("id = 99").details["deleted"] == 0


def test_upsert_dedupes_by_keys_and_sequence_by_and_creates_a_missing_table(spark, native):
    handle = native(sequence_by="seq")
    schema = "id BIGINT, name STRING, seq INT"
    created = handle.upsert(spark.createDataFrame([(1, "a", 1), (1, "c", 3), (1, "b", 2), (None, "n", 9)], schema),
                            keys="id")
    assert created.version == 0 and rows(handle.read()) == [(1, "c", 3)]
    merged = handle.upsert(spark.createDataFrame([(1, "z", 9), (1, "x", 5), (2, "b", 1), (2, "q", 4)], schema), keys="id")
    assert rows(handle.read()) == [(1, "z", 9), (2, "q", 4)]
    assert (merged.details["inserted"], merged.details["updated"]) == (1, 1)


def test_idempotent_writes_use_delta_txn_and_merge_confs_are_restored(spark, native, tmp_lake):
    handle = native()
    df = spark.createDataFrame([(1, "a")], SCHEMA)
    assert not handle.append(df, txn=("app", 0)).skipped
    assert handle.append(df, txn=("app", 0)).skipped
    assert handle.overwrite(df, txn=("app", 0)).skipped
    spark.conf.set("spark.databricks.delta.write.txnVersion.autoReset.enabled", "true")  # no effect on ours
    upsert = spark.createDataFrame([(1, "A"), (2, "b")], SCHEMA)
    assert not handle.upsert(upsert, keys=["id"], txn=("app", 1)).skipped
    assert handle.upsert(spark.createDataFrame([(1, "X")], SCHEMA), keys=["id"], txn=("app", 1)).skipped
    assert handle.delete("id = 2", txn=("app", 1)).skipped
    assert handle.delete("id = 2", txn=("app", 2)).details["deleted"] == 1
    assert rows(handle.read()) == [(1, "A")]
    assert spark_history(spark, tmp_lake / "t") == [(2, "DELETE"), (1, "MERGE"), (0, "WRITE")]
    for key in TXN_CONFS:  # set only for the statement
        assert spark.conf.get(key, None) is None
    spark.conf.unset("spark.databricks.delta.write.txnVersion.autoReset.enabled")


def test_create_with_schema_partitions_properties_and_comment(spark, native, tmp_lake):
    handle = native(schema="id BIGINT, name STRING, day STRING", partition_by=["day"], comment="people by day",
                    properties={"delta.appendOnly": "false", "team": "orders"})
    assert not handle.exists()
    handle.create()
    handle.create()  # a no-op when it exists
    detail = spark.sql(f"DESCRIBE DETAIL delta.`{tmp_lake / 't'}`").collect()[0]
    assert detail["partitionColumns"] == ["day"]
    assert detail["description"] == "people by day"
    assert {k: v for k, v in detail["properties"].items() if k in ("delta.appendOnly", "team")} == {
        "delta.appendOnly": "false", "team": "orders"}
    assert [(f.name, f.dataType.simpleString()) for f in handle.schema.fields] == [
        ("id", "bigint"), ("name", "string"), ("day", "string")]
    assert handle.history()[0]["operation"] == "CREATE TABLE"


def test_named_table_in_the_catalog(spark, native, tmp_lake):
    spark.sql("CREATE DATABASE IF NOT EXISTS native_shop").collect()
    handle = native(name="native_shop.orders", location=str(tmp_lake / "orders"), schema=SCHEMA)
    handle.create()
    assert handle.exists() and spark.catalog.tableExists("native_shop.orders")
    handle.append(spark.createDataFrame([(1, "a")], SCHEMA))
    handle.upsert(spark.createDataFrame([(1, "b")], SCHEMA), keys=["id"])
    assert rows(spark.read.table("native_shop.orders")) == [(1, "b")]
    assert [c["version"] for c in handle.history()] == [2, 1, 0]
    handle.drop()
    assert not handle.exists()


def collect_stream(handle, tmp_path, name, **options):
    seen = []
    query = (handle.read_stream(**options).writeStream
             .foreachBatch(lambda batch, batch_id: seen.append((batch_id, sorted(tuple(r) for r in batch.collect()))))
             .option("checkpointLocation", str(tmp_path / name)).trigger(availableNow=True).start())
    query.awaitTermination(120)
    return [b for b in seen if b[1]]


def test_stream_options_starting_version_timestamp_max_files_and_skip_change_commits(spark, native, tmp_path):
    handle = native()
    for i in range(3):  # versions 0, 1, 2: one file each
        handle.append(spark.createDataFrame([(i, f"r{i}")], SCHEMA).coalesce(1))
    assert [b[1] for b in collect_stream(handle, tmp_path, "v1", starting_version=1, max_files_per_trigger=1)] == [
        [(1, "r1")], [(2, "r2")]]
    ts = handle.history()[0]["timestamp"]  # version 2's commit time
    assert [r for b in collect_stream(handle, tmp_path, "ts", starting_timestamp=str(ts)) for r in b[1]] == [(2, "r2")]

    handle.delete("id = 0")  # version 3: a change commit
    handle.append(spark.createDataFrame([(5, "r5")], SCHEMA))  # version 4
    with pytest.raises(Exception, match="DELTA_SOURCE_IGNORE_DELETE"):
        collect_stream(handle, tmp_path, "changes", starting_version=3)
    assert [b[1] for b in collect_stream(handle, tmp_path, "skip", starting_version=3, skip_change_commits=True)] == [
        [(5, "r5")]]
