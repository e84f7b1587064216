"""The embedded Delta engine against real Delta logs on disk.

Results are checked by opening the tables with delta-rs (``deltalake.DeltaTable``), not
through the engine under test.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import threading
import time

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from lakeport.errors import LakeportError, SchemaMismatch, UnsupportedTableFeature, WriteConflict
from lakeport_delta.embedded import ops


def rows(path, *columns, version=None):
    """Table content as sorted tuples, read with delta-rs."""
    table = DeltaTable(str(path), version=version).to_pyarrow_table()
    names = columns or tuple(table.column_names)
    return sorted(tuple(r[c] for c in names) for r in table.to_pylist())


def data_files(path):
    found = []
    for folder, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if not d.startswith("_")]  # _delta_log, _lakeport_staging
        found += [os.path.join(folder, f) for f in files if f.endswith(".parquet")]
    return sorted(found)


@pytest.fixture
def people(spark):
    return spark.createDataFrame(
        [(1, "ann", "nl"), (2, "bob", "dk"), (3, "cid", "nl")], "id long, name string, country string"
    )


# ----------------------------------------------------------------------------- batch writes


def test_append_creates_table_then_appends_in_one_commit_each(spark, tmp_path, people):
    path = str(tmp_path / "t")
    first = ops.write(people, path)
    second = ops.write(people.where("id = 1"), path)

    assert (first.version, first.num_rows, first.skipped) == (0, 3, False)
    assert (second.version, second.num_rows) == (1, 1)
    assert rows(path, "id") == [(1,), (1,), (2,), (3,)]
    assert [h["operation"] for h in ops.history(path)] == ["WRITE", "CREATE TABLE"]
    assert not os.path.exists(os.path.join(path, "_lakeport_staging"))
    assert len(data_files(path)) == first.num_files + second.num_files


def test_writing_no_rows_creates_an_empty_table(spark, tmp_path, people):
    path = str(tmp_path / "t")
    outcome = ops.write(people.limit(0), path, partition_by=["country"])
    assert (outcome.version, outcome.num_files, outcome.num_rows) == (0, 0, 0)
    assert DeltaTable(path).metadata().partition_columns == ["country"]
    assert ops.read(spark, path).count() == 0


def test_overwrite_replaces_rows_and_keeps_history(spark, tmp_path, people):
    path = str(tmp_path / "t")
    ops.write(people, path)
    outcome = ops.write(people.where("id > 1"), path, mode="overwrite")

    assert outcome.version == 1
    assert rows(path, "id") == [(2,), (3,)]
    assert rows(path, "id", version=0) == [(1,), (2,), (3,)]


def test_read_with_time_travel_by_version_and_timestamp(spark, tmp_path, people):
    path = str(tmp_path / "t")
    ops.write(people, path)
    time.sleep(0.05)
    between = dt.datetime.now(dt.timezone.utc)
    time.sleep(0.05)
    ops.write(people.where("id = 1"), path, mode="overwrite")

    assert sorted(r.id for r in ops.read(spark, path).collect()) == [1]
    assert sorted(r.id for r in ops.read(spark, path, version=0).collect()) == [1, 2, 3]
    assert sorted(r.id for r in ops.read(spark, path, timestamp=between).collect()) == [1, 2, 3]
    with pytest.raises(LakeportError, match="version 7"):
        ops.read(spark, path, version=7)


def test_read_returns_typed_partition_values_including_nulls(spark, tmp_path):
    path = str(tmp_path / "t")
    df = spark.createDataFrame(
        [(1, 10, dt.date(2024, 1, 1), "a b/c"), (2, None, dt.date(2024, 1, 2), None), (3, 10, None, "")],
        "id long, bucket int, day date, tag string",
    )
    ops.write(df, path, partition_by=["bucket", "day", "tag"])

    read = ops.read(spark, path)
    assert read.schema.simpleString() == "struct<id:bigint,bucket:int,day:date,tag:string>"
    assert sorted(tuple(r) for r in read.collect()) == [
        (1, 10, dt.date(2024, 1, 1), "a b/c"),
        (2, None, dt.date(2024, 1, 2), None),
        (3, 10, None, None),  # empty partition strings are null, as in Spark
    ]
    assert rows(path, "id", "bucket", "tag") == [(1, 10, "a b/c"), (2, None, None), (3, 10, None)]


def test_partition_filters_prune_files(spark, tmp_path):
    path = str(tmp_path / "t")
    df = spark.range(60).selectExpr(
        "id", "cast(id % 3 as int) as part", "date_add(date'2024-01-01', cast(id % 3 as int)) as day"
    )
    ops.write(df.coalesce(1), path, partition_by=["part", "day"])

    everything = ops.read(spark, path, fast=False)  # the Python source's pruning (fast path: test_fast_read)
    one = everything.where("part = 1")
    two = everything.where("day >= date'2024-01-02' and part <> 2")
    assert everything.rdd.getNumPartitions() == 3
    assert one.rdd.getNumPartitions() == 1
    assert two.rdd.getNumPartitions() == 1
    assert sorted(r.id for r in one.collect()) == list(range(1, 60, 3))
    assert two.count() == 20
    plan = one._jdf.queryExecution().executedPlan().toString()
    assert not re.search(r"(^|[\s)-])Filter ", plan), plan  # pushed down and exact: no Filter node


def test_data_column_filters_skip_files_by_statistics(spark, tmp_path):
    path = str(tmp_path / "t")
    for start in (0, 100, 200):
        ops.write(spark.range(start, start + 10).coalesce(1), path)

    filtered = ops.read(spark, path, fast=False).where("id >= 205")  # the Python source's skipping
    assert filtered.rdd.getNumPartitions() == 1
    assert sorted(r.id for r in filtered.collect()) == [205, 206, 207, 208, 209]


# ----------------------------------------------------------------------------- schemas


def test_schema_mismatch_names_columns_and_writes_nothing(spark, tmp_path, people):
    path = str(tmp_path / "t")
    ops.write(people, path)
    before = data_files(path)
    bad = people.selectExpr("cast(id as string) as id", "name", "country", "1 as extra")

    with pytest.raises(SchemaMismatch) as info:
        ops.write(bad, path)

    message = str(info.value)
    assert path in message
    assert "extra" in message and "merge_schema=True" in message
    assert "id (table: bigint, data: string)" in message
    assert data_files(path) == before
    assert DeltaTable(path).version() == 0


def test_missing_nullable_column_is_written_as_null(spark, tmp_path, people):
    path = str(tmp_path / "t")
    ops.write(people, path)
    ops.write(spark.createDataFrame([(9, "dk")], "id long, country string"), path)
    assert (9, None, "dk") in rows(path, "id", "name", "country")


def test_merge_schema_adds_columns(spark, tmp_path, people):
    path = str(tmp_path / "t")
    ops.write(people, path)
    wider = spark.createDataFrame([(4, "dan", "se", 1.5)], "id long, name string, country string, score double")

    outcome = ops.write(wider, path, merge_schema=True)

    assert ops.schema(path).fieldNames() == ["id", "name", "country", "score"]
    assert rows(path, "id", "score") == [(1, None), (2, None), (3, None), (4, 1.5)]
    assert DeltaTable(path).history(1)[0]["lakeport.writeId"]
    assert outcome.version == DeltaTable(path).version()
    assert sorted((r.id, r.score) for r in ops.read(spark, path).collect())[-1] == (4, 1.5)


def test_overwrite_schema_replaces_schema_and_partitioning(spark, tmp_path, people):
    path = str(tmp_path / "t")
    ops.write(people, path)
    other = spark.createDataFrame([("x", 1)], "code string, n int")

    with pytest.raises(SchemaMismatch):
        ops.write(other, path, mode="overwrite")
    ops.write(other, path, mode="overwrite", overwrite_schema=True, partition_by=["n"])

    table = DeltaTable(path)
    assert ops.schema(path).simpleString() == "struct<code:string,n:int>"
    assert table.metadata().partition_columns == ["n"]
    assert rows(path) == [("x", 1)]


def test_not_null_column_rejects_nulls(spark, tmp_path):
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    path = str(tmp_path / "t")
    ops.create(path, StructType([StructField("id", LongType(), False), StructField("v", StringType())]))
    with pytest.raises(SchemaMismatch, match="'id' is NOT NULL"):
        ops.write(spark.createDataFrame([(None, "a")], "id long, v string"), path)
    assert DeltaTable(path).version() == 0
    assert data_files(path) == []


# ----------------------------------------------------------------------------- transactions


def test_txn_skips_an_already_committed_version(spark, tmp_path, people):
    path = str(tmp_path / "t")
    first = ops.write(people, path, txn=("loader", 5))
    again = ops.write(people, path, txn=("loader", 5))
    older = ops.write(people, path, txn=("loader", 4))
    newer = ops.write(people.limit(1), path, txn=("loader", 6))

    assert not first.skipped and again.skipped and older.skipped and not newer.skipped
    assert again.num_rows == 0 and again.version is None
    assert DeltaTable(path).transaction_version("loader") == 6
    assert len(rows(path)) == 4


def test_concurrent_appends_from_threads_both_commit(spark, tmp_path, people):
    path = str(tmp_path / "t")
    ops.write(people, path)
    outcomes, failures = [], []

    def append(value):
        try:
            outcomes.append(ops.write(people.where(f"id = {value}"), path))
        except Exception as e:  # noqa: BLE001 - reported below
            failures.append(e)

    threads = [threading.Thread(target=append, args=(i,)) for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert failures == []
    assert sorted(o.version for o in outcomes) == [1, 2]
    assert rows(path, "id") == [(1,), (1,), (2,), (2,), (3,)]


def test_conflicting_overwrite_raises_write_conflict_and_leaves_no_files(spark, tmp_path, people):
    from lakeport_delta.embedded.source import DeltaWriter, plan_write

    path = str(tmp_path / "t")
    ops.write(people, path)
    plan = plan_write(path, people.schema, mode="overwrite")  # planned at version 0 ...
    writer = DeltaWriter(plan)
    message = writer.write(iter(people.toArrow().to_batches()))
    ops.write(people.where("id = 2"), path, mode="overwrite")  # ... someone else commits v1
    before = data_files(path)

    with pytest.raises(WriteConflict, match="another writer committed first"):
        writer.commit([message])

    assert DeltaTable(path).version() == 1
    assert rows(path, "id") == [(2,)]
    assert data_files(path) == before
    assert not os.path.exists(os.path.join(path, "_lakeport_staging"))


def test_aborted_write_leaves_no_files(spark, tmp_path, people):
    path = str(tmp_path / "t")
    ops.write(people, path)
    before = data_files(path)
    boom = people.selectExpr("id", "name", "case when id = 3 then raise_error('boom') else country end as country")

    with pytest.raises(Exception, match="boom"):
        ops.write(boom.repartition(2), path)

    assert DeltaTable(path).version() == 0
    assert data_files(path) == before
    assert not os.path.exists(os.path.join(path, "_lakeport_staging"))


# ----------------------------------------------------------------------------- upsert


def test_upsert_dedupes_latest_by_sequence_and_drops_null_keys(spark, tmp_path, people):
    path = str(tmp_path / "t")
    ops.write(people, path)
    changes = spark.createDataFrame(
        [(2, "bob-old", "dk", 1), (2, "bob-new", "dk", 2), (4, "dan", "se", 1), (None, "ghost", "xx", 9)],
        "id long, name string, country string, seq int",
    )

    outcome = ops.upsert(changes, path, ["id"], sequence_by="seq")  # seq only orders, it is not written

    assert (outcome.updated, outcome.inserted) == (1, 1)
    assert (outcome.dropped_null_keys, outcome.deduplicated) == (1, 1)
    assert rows(path, "id", "name") == [(1, "ann"), (2, "bob-new"), (3, "cid"), (4, "dan")]
    assert ops.schema(path).fieldNames() == ["id", "name", "country"]
    assert outcome.version == 1 and DeltaTable(path).history(1)[0]["operation"] == "MERGE"


def test_upsert_without_sequence_picks_one_row_deterministically(spark, tmp_path, people):
    path = str(tmp_path / "t")
    ops.write(people, path)
    dupes = spark.createDataFrame([(1, "zed", "nl"), (1, "amy", "nl")], "id long, name string, country string")

    outcome = ops.upsert(dupes, path, "id")

    assert (outcome.updated, outcome.deduplicated) == (1, 1)
    assert rows(path, "id", "name")[0] == (1, "amy")  # ties: smallest other columns win


def test_upsert_insert_only_appends_without_merge(spark, tmp_path, people):
    path = str(tmp_path / "t")
    ops.write(people, path)
    schema = "id long, name string, country string"
    new = spark.createDataFrame([(10, "eve", "no"), (11, "fay", "no")], schema)
    scattered = spark.createDataFrame([(0, "gus", "no")], schema)
    same_id_other_country = spark.createDataFrame([(1, "ann", "se")], schema)

    beyond = ops.upsert(new, path, ["id"])  # beyond every file's max id: statistics decide
    inside = ops.upsert(scattered, path, ["id"])  # inside the range: the key column is checked
    compound = ops.upsert(same_id_other_country, path, ["id", "country"])  # id matches, the pair does not

    assert [(o.inserted, o.updated) for o in (beyond, inside, compound)] == [(2, 0), (1, 0), (1, 0)]
    assert [h["operation"] for h in ops.history(path)[:3]] == ["WRITE", "WRITE", "WRITE"]
    assert len(rows(path)) == 7

    matched = ops.upsert(spark.createDataFrame([(1, "ANN", "se")], schema), path, ["id", "country"])
    assert (matched.inserted, matched.updated) == (0, 1)
    assert ops.history(path, 1)[0]["operation"] == "MERGE"
    assert rows(path, "id", "name", "country")[:3] == [(0, "gus", "no"), (1, "ANN", "se"), (1, "ann", "nl")]


def test_upsert_with_txn_is_idempotent(spark, tmp_path, people):
    path = str(tmp_path / "t")
    ops.write(people, path)
    change = spark.createDataFrame([(1, "ann2", "nl")], "id long, name string, country string")

    first = ops.upsert(change, path, ["id"], txn=("cdc", 1))
    second = ops.upsert(change.selectExpr("id", "'other' as name", "country"), path, ["id"], txn=("cdc", 1))

    assert not first.skipped and second.skipped
    assert rows(path, "id", "name")[0] == (1, "ann2")
    assert DeltaTable(path).transaction_version("cdc") == 1


def test_upsert_creates_a_missing_table(spark, tmp_path, people):
    path = str(tmp_path / "t")
    outcome = ops.upsert(people, path, ["id"])
    assert (outcome.version, outcome.inserted) == (0, 3)
    assert rows(path, "id") == [(1,), (2,), (3,)]


# ----------------------------------------------------------------------------- delete & table ops


def test_delete_truncate_and_bad_predicates(spark, tmp_path, people):
    path = str(tmp_path / "t")
    ops.write(people, path)

    outcome = ops.delete(spark, path, "country = 'nl'")
    assert (outcome.version, outcome.deleted) == (1, 2)
    assert rows(path, "id") == [(2,)]
    with pytest.raises(LakeportError, match=r"cannot delete where 'nope = 1'.*nope"):
        ops.delete(spark, path, "nope = 1")
    with pytest.raises(LakeportError, match="cannot delete where 'id >>> 1'"):
        ops.delete(spark, path, "id >>> 1")
    assert ops.delete(spark, path, "id = 2", txn=("d", 1)).version == 2
    assert ops.delete(spark, path, "id = 2", txn=("d", 1)).skipped

    ops.write(people, path)
    assert ops.truncate(path) == 4
    assert rows(path) == [] and ops.schema(path).fieldNames() == ["id", "name", "country"]


def test_create_exists_schema_history_drop(spark, tmp_path):
    from pyspark.sql.types import DateType, LongType, StructField, StructType

    path = str(tmp_path / "t")
    schema = StructType([StructField("id", LongType()), StructField("day", DateType())])
    assert not ops.exists(path)
    assert (
        ops.create(path, schema, partition_by=["day"], table_name="events", properties={"delta.appendOnly": "false"})
        is True
    )
    assert ops.create(path, schema, partition_by=["day"]) is False  # same table: no-op
    with pytest.raises(SchemaMismatch, match="partitioned by"):
        ops.create(path, schema)

    table = DeltaTable(path)
    assert ops.exists(path) and table.metadata().name == "events"
    assert table.metadata().partition_columns == ["day"]
    assert ops.schema(path) == schema
    assert ops.history(path)[0]["operation"] == "CREATE TABLE"
    assert ops.read(spark, path).count() == 0

    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "keep.txt").write_text("x")
    with pytest.raises(LakeportError, match="not a Delta table"):
        ops.drop_and_delete(str(tmp_path / "plain"))
    ops.drop_and_delete(path)
    assert not os.path.exists(path) and not ops.exists(path)


# ----------------------------------------------------------------------------- unsupported tables


@pytest.mark.parametrize(
    "configuration, feature",
    [
        ({"delta.columnMapping.mode": "name"}, "column mapping"),
        ({"delta.enableDeletionVectors": "true"}, "deletion vectors"),
    ],
)
def test_tables_with_unsupported_features_are_refused(spark, tmp_path, configuration, feature):
    path = str(tmp_path / "t")
    DeltaTable.create(path, pa.schema([("id", pa.int64())]), configuration=configuration)

    with pytest.raises(UnsupportedTableFeature) as info:
        ops.read(spark, path)
    assert path in str(info.value) and feature in str(info.value)
    with pytest.raises(UnsupportedTableFeature, match=feature):
        ops.write(spark.range(1), path)


def test_a_feature_delta_rs_does_not_know_is_refused_naming_it(spark, tmp_path):
    """A newer protocol (a reader feature from the future): one error naming the feature, not a kernel trace."""
    import json

    path = str(tmp_path / "t")
    write_deltalake(path, pa.table({"id": [1, 2]}))
    first = os.path.join(path, "_delta_log", f"{0:020d}.json")
    actions = [json.loads(line) for line in open(first)]
    for action in actions:
        if "protocol" in action:
            action["protocol"] = {"minReaderVersion": 3, "minWriterVersion": 7,
                                  "readerFeatures": ["futureFeature"], "writerFeatures": ["futureFeature"]}
    with open(first, "w") as f:
        f.write("\n".join(json.dumps(a) for a in actions) + "\n")
    for attempt in (lambda: ops.read(spark, path), lambda: ops.write(spark.range(1), path)):
        with pytest.raises(UnsupportedTableFeature, match="futureFeature.*Use the native Delta backend"):
            attempt()
    assert len(open(first).read().splitlines()) == len(actions)  # nothing written


def test_check_constraints_refuse_writes_but_not_reads(spark, tmp_path):
    """The embedded writer commits files without evaluating CHECK constraints: it must not write at all."""
    path = str(tmp_path / "t")
    write_deltalake(path, pa.table({"id": [1, 2]}))
    DeltaTable(path).alter.add_constraint({"positive": "id > 0"})
    version = DeltaTable(path).version()

    assert sorted(r.id for r in ops.read(spark, path).collect()) == [1, 2]
    with pytest.raises(UnsupportedTableFeature, match=r"CHECK constraints \(positive\).*cannot write to"):
        ops.write(spark.range(-1, 0), path)
    with pytest.raises(UnsupportedTableFeature, match="CHECK constraints"):
        ops.delete(spark, path, "id = 1")
    assert DeltaTable(path).version() == version


def test_change_data_feed_allows_appends_and_refuses_row_rewrites(spark, tmp_path):
    path = str(tmp_path / "t")
    write_deltalake(path, pa.table({"id": pa.array([1, 2], pa.int64())}),
                    configuration={"delta.enableChangeDataFeed": "true"})

    ops.write(spark.range(3, 4), path)
    assert sorted(r.id for r in ops.read(spark, path).collect()) == [1, 2, 3]
    with pytest.raises(UnsupportedTableFeature, match=r"change data feed.*cannot delete from"):
        ops.delete(spark, path, "id = 1")
    assert sorted(r.id for r in ops.read(spark, path).collect()) == [1, 2, 3]


# ----------------------------------------------------------------------------- streaming


def _drain(stream, checkpoint, **trigger):
    """Run a stream with Trigger.AvailableNow; return the rows of each non-empty micro-batch."""
    batches = []

    def collect(batch, batch_id):
        got = sorted(tuple(r) for r in batch.collect())
        if got:
            batches.append(got)

    query = (
        stream.writeStream.foreachBatch(collect)
        .option("checkpointLocation", str(checkpoint))
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination(60)
    if query.exception() is not None:
        raise query.exception()
    return batches


def test_stream_reads_snapshot_then_only_new_commits(spark, tmp_path):
    path, checkpoint = str(tmp_path / "t"), tmp_path / "cp"

    def commit(ids, day):
        batch = pa.table({"id": pa.array(ids, pa.int64()), "day": pa.array([day] * len(ids), pa.date32())})
        write_deltalake(path, batch, mode="append", partition_by=["day"])

    commit([1, 2], dt.date(2024, 1, 1))
    commit([3], dt.date(2024, 1, 2))

    first = _drain(ops.read_stream(spark, path), checkpoint)
    commit([4, 5], dt.date(2024, 1, 3))
    second = _drain(ops.read_stream(spark, path), checkpoint)
    third = _drain(ops.read_stream(spark, path), checkpoint)

    jan = [dt.date(2024, 1, d) for d in (1, 2, 3)]
    assert first == [[(1, jan[0]), (2, jan[0]), (3, jan[1])]]
    assert second == [[(4, jan[2]), (5, jan[2])]]  # partition values parsed from the commit's log entry
    assert third == []


def test_stream_from_starting_version_with_max_files_per_trigger(spark, tmp_path):
    path = str(tmp_path / "t")
    for i in range(4):
        write_deltalake(path, pa.table({"id": pa.array([i], pa.int64())}), mode="append")

    batches = _drain(ops.read_stream(spark, path, starting_version=1, max_files_per_trigger=1), tmp_path / "cp")

    assert batches == [[(1,)], [(2,)], [(3,)]]


def test_change_commit_fails_the_stream_unless_skipped(spark, tmp_path):
    path = str(tmp_path / "t")
    write_deltalake(path, pa.table({"id": pa.array([1, 2], pa.int64())}))
    DeltaTable(path).delete("id = 1")  # v1 rewrites data
    write_deltalake(path, pa.table({"id": pa.array([3], pa.int64())}), mode="append")  # v2

    with pytest.raises(Exception) as info:
        _drain(ops.read_stream(spark, path, starting_version=0), tmp_path / "cp1")
    message = str(info.value)
    assert path in message and "version 1" in message and "skip_change_commits" in message

    batches = _drain(ops.read_stream(spark, path, starting_version=0, skip_change_commits=True), tmp_path / "cp2")
    assert [r for b in batches for r in b] == [(1,), (2,), (3,)]


def test_stream_offsets_walk_versions_and_split_commits_by_file_count(tmp_path):
    """The offset arithmetic alone, on the driver, without running a query."""
    from pyspark.sql.streaming.datasource import ReadAllAvailable, ReadMaxFiles
    from pyspark.sql.types import LongType, StructField, StructType

    from lakeport_delta.embedded.stream import DeltaStreamReader

    path = str(tmp_path / "t")
    write_deltalake(path, pa.table({"id": pa.array([0], pa.int64())}))
    time.sleep(0.05)
    middle = dt.datetime.now(dt.timezone.utc)
    time.sleep(0.05)
    for ids in ([1], [2, 3]):
        write_deltalake(path, pa.table({"id": pa.array(ids, pa.int64())}), mode="append")
    DeltaTable(path).optimize.compact()  # v3: rewrites files without changing data
    schema = StructType([StructField("id", LongType())])

    reader = DeltaStreamReader(path, {"startingTimestamp": middle.isoformat()}, schema)
    start = reader.initialOffset()
    assert start == {"version": 1, "index": 0, "snapshot": False}
    assert reader.latestOffset(start, ReadAllAvailable()) == {"version": 4, "index": 0, "snapshot": False}
    one = reader.latestOffset(start, ReadMaxFiles(1))
    assert one == {"version": 2, "index": 0, "snapshot": False}
    assert len(reader.partitions(start, one)) == 1

    snapshot = DeltaStreamReader(path, {"maxFilesPerTrigger": "1"}, schema)
    first = snapshot.initialOffset()
    assert first == {"version": 3, "index": 0, "snapshot": True}
    assert snapshot.getDefaultReadLimit() == ReadMaxFiles(1)
    snapshot.prepareForTriggerAvailableNow()
    end = snapshot.latestOffset(first, ReadAllAvailable())
    assert end == {"version": 4, "index": 0, "snapshot": False}  # the compaction commit adds no data
    assert snapshot.latestOffset(end, ReadAllAvailable()) == end


# ----------------------------------------------------------------------------- registration


def test_register_is_idempotent_and_works_from_new_threads(spark, tmp_path, people):
    path = str(tmp_path / "t")
    ops.register(spark)
    ops.register(spark)
    ops.write(people, path)
    result = {}

    def in_thread():
        result["count"] = ops.read(spark, path).count()
        result["write"] = ops.write(people, path)

    t = threading.Thread(target=in_thread)
    t.start()
    t.join()
    assert result["count"] == 3 and result["write"].version == 1
    assert spark.conf.get("spark.sql.python.filterPushdown.enabled") == "true"


def test_a_stream_on_a_pyspark_without_python_stream_rate_limits_is_refused_naming_versions(
    spark, tmp_path, people, monkeypatch
):
    """PySpark 4.1 would ignore maxFilesPerTrigger and stop available-now short; refuse it instead."""
    import sys

    path = str(tmp_path / "t")
    ops.write(people, path)
    monkeypatch.setitem(sys.modules, "pyspark.sql.streaming.datasource", None)  # as on PySpark 4.1
    with pytest.raises(LakeportError, match=r"Delta table at .*t: a streaming read on the embedded backend needs "
                                            r"PySpark 4\.2 or later .*; this is PySpark 4\."):
        ops.read_stream(spark, path)
