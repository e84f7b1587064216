"""The two Delta backends read and write each other's tables: the embedded backend writes real Delta.

Every table is written by one backend and read back by the other, by delta-spark itself
(``format("delta")``, ``DESCRIBE HISTORY``) and by delta-rs (``deltalake.DeltaTable``).
"""

from __future__ import annotations

import pytest

pytest.importorskip("delta", reason="the interop tests need delta-spark (pip install lakeport-delta[spark])")

from deltalake import DeltaTable  # noqa: E402

from lakeport import UnsupportedTableFeature  # noqa: E402
from lakeport_delta import DeltaHandle  # noqa: E402
from lakeport_delta.handle import session_has_delta  # noqa: E402

SCHEMA = "id BIGINT, name STRING, day STRING"


@pytest.fixture(autouse=True)
def _needs_delta_session(spark):
    if not session_has_delta(spark):
        pytest.skip("the shared session has no Delta jars (delta-spark not installed when it started)")


@pytest.fixture
def both(tmp_lake):
    """(embedded, native) handles on one table folder."""
    path = str(tmp_lake / "t")
    return (DeltaHandle(location=path, backend="embedded", partition_by=["day"]),
            DeltaHandle(location=path, backend="native", partition_by=["day"]))


def rows(df):
    return sorted(tuple(r) for r in df.collect())


def spark_rows(spark, path, version=None):
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return rows(reader.load(path).select("id", "name", "day"))


def spark_history(spark, path):
    return [(r["version"], r["operation"]) for r in spark.sql(f"DESCRIBE HISTORY delta.`{path}`").collect()]


def delta_rs_rows(path):
    return sorted((r["id"], r["name"], r["day"]) for r in DeltaTable(path).to_pyarrow_table().to_pylist())


def test_embedded_writes_are_read_by_delta_spark_with_history_time_travel_and_txn(spark, both):
    embedded, native = both
    path = embedded.path
    steps = [
        lambda: embedded.append(spark.createDataFrame([(1, "a", "mon"), (2, "b", "tue")], SCHEMA), txn=("app", 0)),
        lambda: embedded.overwrite(spark.createDataFrame([(1, "a", "mon"), (2, "b", "tue"), (3, "c", "mon")], SCHEMA)),
        lambda: embedded.upsert(spark.createDataFrame([(2, "B", "tue"), (4, "d", "wed")], SCHEMA), keys=["id"]),
        lambda: embedded.delete("id = 1"),
    ]
    snapshots = []
    for step in steps:
        step()
        snapshots.append(rows(embedded.read()))
        assert spark_rows(spark, path) == snapshots[-1]  # delta-spark sees the same rows after each commit
    assert snapshots[-1] == [(2, "B", "tue"), (3, "c", "mon"), (4, "d", "wed")]
    for version, expected in enumerate(snapshots):
        assert spark_rows(spark, path, version) == expected
    history = spark_history(spark, path)
    assert [v for v, _ in history] == [3, 2, 1, 0]
    assert history == [(c["version"], c["operation"]) for c in embedded.history()]
    # delta-rs commits the first append as CREATE TABLE (with its add actions)
    assert [op for _, op in history] == ["DELETE", "MERGE", "WRITE", "CREATE TABLE"]
    assert spark.sql(f"DESCRIBE DETAIL delta.`{path}`").collect()[0]["partitionColumns"] == ["day"]

    # txn committed by the embedded backend: skipped by delta-spark's txnAppId, and the next one is not
    assert native.append(spark.createDataFrame([(9, "x", "mon")], SCHEMA), txn=("app", 0)).skipped
    assert not native.append(spark.createDataFrame([(5, "e", "mon")], SCHEMA), txn=("app", 1)).skipped
    assert embedded.append(spark.createDataFrame([(9, "x", "mon")], SCHEMA), txn=("app", 1)).skipped
    assert native.upsert(spark.createDataFrame([(9, "x", "mon")], SCHEMA), keys=["id"], txn=("app", 1)).skipped
    assert spark_rows(spark, path) == [(2, "B", "tue"), (3, "c", "mon"), (4, "d", "wed"), (5, "e", "mon")]
    assert spark_history(spark, path)[0] == (4, "WRITE")


def test_native_writes_are_read_by_embedded_and_delta_rs_with_txn_and_streaming(spark, both, tmp_path):
    embedded, native = both
    path = native.path
    native.append(spark.createDataFrame([(1, "a", "mon"), (2, "b", "tue")], SCHEMA), txn=("job", 7))
    native.upsert(spark.createDataFrame([(2, "B", "tue"), (3, "c", "wed")], SCHEMA), keys=["id"], txn=("job", 8))
    native.delete("id = 1", txn=("job", 9))
    expected = [(2, "B", "tue"), (3, "c", "wed")]
    assert rows(embedded.read()) == expected == delta_rs_rows(path)
    assert rows(embedded.read(version=0)) == [(1, "a", "mon"), (2, "b", "tue")]
    table = DeltaTable(path)
    assert table.version() == 2 and table.metadata().partition_columns == ["day"]
    assert [c["operation"] for c in table.history()] == ["DELETE", "MERGE", "WRITE"]
    assert table.transaction_version("job") == 9
    # txn committed by delta-spark: the embedded backend skips it, and commits the next
    assert embedded.append(spark.createDataFrame([(8, "x", "mon")], SCHEMA), txn=("job", 9)).skipped
    assert embedded.upsert(spark.createDataFrame([(8, "x", "mon")], SCHEMA), keys=["id"], txn=("job", 8)).skipped
    assert not embedded.append(spark.createDataFrame([(4, "d", "mon")], SCHEMA), txn=("job", 10)).skipped

    seen = []
    query = (embedded.read_stream(starting_version=1, skip_change_commits=True).writeStream
             .foreachBatch(lambda batch, _id: seen.extend(tuple(r) for r in batch.select("id", "name", "day").collect()))
             .option("checkpointLocation", str(tmp_path / "cp")).trigger(availableNow=True).start())
    query.awaitTermination(120)
    assert query.exception() is None
    # version 1 (MERGE) and 2 (DELETE) change data and are skipped; version 3 appended one row
    assert sorted(seen) == [(4, "d", "mon")]


def test_alternating_writers_on_one_table(spark, both):
    embedded, native = both
    plan = [
        (native, "append", [(1, "a", "mon")], [(1, "a", "mon")]),
        (embedded, "append", [(2, "b", "tue")], [(1, "a", "mon"), (2, "b", "tue")]),
        (native, "upsert", [(2, "B", "tue"), (3, "c", "wed")], [(1, "a", "mon"), (2, "B", "tue"), (3, "c", "wed")]),
        (embedded, "upsert", [(1, "A", "mon"), (4, "d", "mon")], [(1, "A", "mon"), (2, "B", "tue"), (3, "c", "wed"), (4, "d", "mon")]),
        (native, "delete", "day = 'mon'", [(2, "B", "tue"), (3, "c", "wed")]),
        (embedded, "overwrite", [(5, "e", "thu")], [(5, "e", "thu")]),
        (native, "append", [(6, "f", "thu")], [(5, "e", "thu"), (6, "f", "thu")]),
        (embedded, "delete", "id = 5", [(6, "f", "thu")]),
    ]
    for version, (handle, operation, data, expected) in enumerate(plan):
        if operation == "delete":
            result = handle.delete(data)
        elif operation == "upsert":
            result = handle.upsert(spark.createDataFrame(data, SCHEMA), keys=["id"])
        else:
            result = handle.write(spark.createDataFrame(data, SCHEMA), operation)
        assert result.version == version, (handle.backend, operation)
        assert rows(embedded.read()) == expected == rows(native.read()) == delta_rs_rows(embedded.path)
    assert len(spark_history(spark, embedded.path)) == len(plan)


def test_embedded_refuses_a_delta_spark_table_with_deletion_vectors_naming_the_feature(spark, tmp_lake):
    path = str(tmp_lake / "dv")
    native = DeltaHandle(location=path, backend="native", schema="id BIGINT",
                         properties={"delta.enableDeletionVectors": "true"})
    native.create()
    native.append(spark.range(10))
    native.delete("id = 3")
    assert native.read().count() == 9
    with pytest.raises(UnsupportedTableFeature, match="deletion vectors.*Use the native Delta backend"):
        DeltaHandle(location=path, backend="embedded").read()


def test_embedded_reads_but_will_not_write_a_table_with_rules_only_delta_spark_evaluates(spark, tmp_lake):
    """Generated columns, CHECK constraints and row tracking: delta-spark's writer keeps them, the embedded one would not."""
    path = str(tmp_lake / "rules")
    spark.sql(f"CREATE TABLE delta.`{path}` (id BIGINT, twice BIGINT GENERATED ALWAYS AS (id * 2)) USING delta "
              "TBLPROPERTIES ('delta.enableRowTracking' = 'true')")
    spark.sql(f"ALTER TABLE delta.`{path}` ADD CONSTRAINT positive CHECK (id > 0)")
    native = DeltaHandle(location=path, backend="native")
    native.append(spark.range(1, 3))
    embedded = DeltaHandle(location=path, backend="embedded")
    versions = len(spark_history(spark, path))

    assert rows(embedded.read()) == [(1, 2), (2, 4)]
    with pytest.raises(UnsupportedTableFeature) as refused:
        embedded.append(spark.createDataFrame([(5, 7)], "id BIGINT, twice BIGINT"))
    message = str(refused.value)
    assert "'rowTracking'" in message and "CHECK constraints (positive)" in message
    assert "generated column 'twice'" in message and "Use the native Delta backend" in message
    assert len(spark_history(spark, path)) == versions and rows(native.read()) == [(1, 2), (2, 4)]
