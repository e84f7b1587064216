"""Batch reads through Spark's parquet reader equal reads through the Python data source."""

from __future__ import annotations

import datetime as dt
import logging
import time

import pytest

from lakeport_delta.embedded import ops


def assert_same(spark, path, **travel):
    """The fast read and the Python-source read agree on schema and rows; returns the fast one."""
    fast = ops.read(spark, path, **travel)
    slow = ops.read(spark, path, fast=False, **travel)
    assert "FileScan parquet" in plan(fast), "the fast path was not taken"
    assert "FileScan parquet" not in plan(slow)
    assert fast.schema == slow.schema
    got, want = fast.collect(), slow.collect()
    key = lambda r: tuple((v is None, str(v)) for v in r)  # noqa: E731 - sorts None too
    assert sorted(got, key=key) == sorted(want, key=key)
    return fast


def plan(df):
    return df._jdf.queryExecution().executedPlan().toString()


def test_unpartitioned_table_and_pruned_column_subset(spark, tmp_path):
    path = str(tmp_path / "t")
    df = spark.range(100).selectExpr("id", "cast(id % 7 as int) as key", "rand(3) as value", "'n' || id as name")
    ops.write(df.repartition(3), path)
    ops.write(df.limit(5), path)

    assert assert_same(spark, path).count() == 105
    one = ops.read(spark, path).select("value")
    text = plan(one)
    assert "FileScan parquet" in text and "ReadSchema: struct<value:double>" in text, text
    filtered = ops.read(spark, path).where("key = 3").select("name")
    assert "PushedFilters: [IsNotNull(key), EqualTo(key,3)]" in plan(filtered)
    assert filtered.count() == len([i for i in range(100) if i % 7 == 3]) + 1


def test_partitioned_table_with_awkward_values(spark, tmp_path):
    path = str(tmp_path / "t")
    rows = [
        (1, "plain", 10, dt.date(2024, 1, 1), True),
        (2, "a b", -3, dt.date(2024, 1, 2), False),
        (3, "x/y", 10, None, True),
        (4, "50%", None, dt.date(2024, 1, 1), None),
        (5, None, 7, dt.date(2024, 2, 29), True),
        (6, "007", 0, dt.date(1999, 12, 31), False),
        (7, "a=b#c?d*[e]", 1, dt.date(2024, 1, 1), True),
    ]
    df = spark.createDataFrame(rows, "id long, tag string, bucket int, day date, flag boolean")
    ops.write(df, path, partition_by=["tag", "bucket", "day"])

    read = assert_same(spark, path)
    assert read.schema.simpleString() == "struct<id:bigint,tag:string,bucket:int,day:date,flag:boolean>"
    assert sorted(tuple(r) for r in read.collect()) == sorted(rows)
    pruned = read.where("bucket = 10").select("id")
    assert "PartitionFilters: [isnotnull(bucket" in plan(pruned)
    assert sorted(r.id for r in pruned.collect()) == [1, 3]


def test_boolean_and_partition_columns_in_the_middle(spark, tmp_path):
    path = str(tmp_path / "t")
    df = spark.createDataFrame([(1, True, "a"), (2, False, "b")], "id long, flag boolean, name string")
    ops.write(df, path, partition_by=["flag"])
    assert [f.name for f in assert_same(spark, path).schema.fields] == ["id", "flag", "name"]


def test_schema_evolution_reads_new_columns_as_null(spark, tmp_path):
    path = str(tmp_path / "t")
    ops.write(spark.createDataFrame([(1, "a")], "id long, name string"), path)
    ops.write(spark.createDataFrame([(2, "b", 2.5)], "id long, name string, score double"), path, merge_schema=True)

    read = assert_same(spark, path)
    assert sorted(tuple(r) for r in read.collect()) == [(1, "a", None), (2, "b", 2.5)]


def test_time_travel_by_version_and_timestamp(spark, tmp_path):
    path = str(tmp_path / "t")
    people = spark.createDataFrame([(1, "a"), (2, "b")], "id long, name string")
    ops.write(people, path)
    time.sleep(0.05)
    middle = dt.datetime.now(dt.timezone.utc)
    time.sleep(0.05)
    ops.write(people.where("id = 2"), path, mode="overwrite")
    ops.write(people, path)

    assert sorted(r.id for r in assert_same(spark, path, version=0).collect()) == [1, 2]
    assert sorted(r.id for r in assert_same(spark, path, version=1).collect()) == [2]
    assert sorted(r.id for r in assert_same(spark, path, timestamp=middle).collect()) == [1, 2]
    assert sorted(r.id for r in assert_same(spark, path).collect()) == [1, 2, 2]


def test_timestamps_round_trip_identically(spark, tmp_path):
    path = str(tmp_path / "t")
    df = spark.sql(
        "select 1L as id, timestamp'2024-03-10 01:02:03.456789' as ts, "
        "timestamp_ntz'2024-03-10 01:02:03.456789' as ntz "
        "union all select 2L, null, null"
    )
    ops.write(df, path)
    read = assert_same(spark, path)
    assert read.schema.simpleString() == "struct<id:bigint,ts:timestamp,ntz:timestamp_ntz>"
    assert sorted(r.ntz for r in read.collect() if r.ntz) == [dt.datetime(2024, 3, 10, 1, 2, 3, 456789)]


def test_upserted_files_written_by_delta_rs_read_the_same(spark, tmp_path):
    path = str(tmp_path / "t")
    df = spark.sql("select 1L as id, timestamp'2024-03-10 01:02:03' as ts, timestamp_ntz'2024-03-10 01:02:03' as ntz")
    ops.write(df, path)
    ops.upsert(
        spark.sql("select 2L as id, timestamp'2025-01-01 00:00:00' as ts, cast(null as timestamp_ntz) as ntz"),
        path,
        ["id"],
    )
    assert assert_same(spark, path).count() == 2


def test_empty_table(spark, tmp_path):
    path = str(tmp_path / "t")
    ops.write(spark.createDataFrame([], "id long, day date"), path, partition_by=["day"])
    fast = ops.read(spark, path)
    slow = ops.read(spark, path, fast=False)
    assert fast.schema == slow.schema
    assert fast.collect() == slow.collect() == []


@pytest.mark.parametrize("name", ["with space", "odd #1 100% [x] {y} a=b", "ünï"])
def test_table_location_with_special_characters(spark, tmp_path, name):
    path = str(tmp_path / name / "t")
    df = spark.createDataFrame([(1, "a b"), (2, None)], "id long, part string")
    ops.write(df, path, partition_by=["part"])
    assert sorted(r.id for r in assert_same(spark, path).collect()) == [1, 2]
    assert sorted(r.id for r in assert_same(spark, (tmp_path / name / "t").as_uri()).collect()) == [1, 2]


def test_unsupported_layouts_fall_back_to_the_python_source(spark, tmp_path, caplog):
    path = str(tmp_path / "t")
    df = spark.sql("select 1L as id, timestamp'2024-01-01 00:00:00' as at")
    ops.write(df, path, partition_by=["at"])  # timestamp partitions: text form depends on time zones
    with caplog.at_level(logging.DEBUG, logger="lakeport_delta.embedded.fastread"):
        read = ops.read(spark, path)
    assert "FileScan parquet" not in plan(read)
    assert "partition column 'at' has type timestamp" in caplog.text
    assert read.collect() == ops.read(spark, path, fast=False).collect()


def test_not_null_columns_fall_back_to_keep_the_declared_schema(spark, tmp_path, caplog):
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    path = str(tmp_path / "t")
    schema = StructType([StructField("id", LongType(), False), StructField("name", StringType(), True)])
    ops.create(path, schema)
    ops.write(spark.createDataFrame([(1, "a")], schema), path)
    with caplog.at_level(logging.DEBUG, logger="lakeport_delta.embedded.fastread"):
        read = ops.read(spark, path)
    assert "FileScan parquet" not in plan(read)
    assert "column 'id' is NOT NULL" in caplog.text
    assert read.schema == schema
    assert [tuple(r) for r in read.collect()] == [(1, "a")]
