"""Expectations on the embedded backend: the writer counts and filters a rule mask, no ``observe``.

Every test checks what a user sees (rows in the table, per-rule counts) and that the
counts came from the writer (``WriteResult.rule_counts``), and compares them with the
``observe`` path of a files table given the same rows and rules.
"""

from __future__ import annotations

import pytest
from deltalake import DeltaTable

from lakeport.expectations import Expectation
from lakeport.expectations.mask import MASK_COLUMN, MAX_MASK_RULES
from lakeport.handles.files import FilesHandle
from lakeport_delta import DeltaHandle

SCHEMA = "id BIGINT, name STRING, age INT"
ROWS = [(1, "ada", 36), (2, "bob", 17), (3, None, 50), (4, "eve", None), (5, "kid", 9), (6, "cy", 70)]
RULES = (
    Expectation("adult", "age >= 18", "quarantine"),  # bob, kid; eve's NULL age fails it too
    Expectation("named", "name IS NOT NULL", "drop"),  # row 3
    Expectation("short_name", "length(name) <= 2", "allow"),  # ada, bob, eve, kid fail; NULL name fails
    Expectation("not_old", "age < 65", "drop"),  # cy; eve's NULL fails (quarantine wins)
)


def table_rows(path: str) -> list[tuple]:
    """The Delta table's rows, read with delta-rs rather than lakeport."""
    return sorted(tuple(r.values()) for r in DeltaTable(path).to_pyarrow_table().to_pylist())


def delta(tmp_lake, name, *rules, **kwargs) -> DeltaHandle:
    return DeltaHandle(location=str(tmp_lake / name), table=name, backend="embedded", expectations=rules, **kwargs)


def observed(tmp_lake, spark, rows, rules, mode="append"):
    """The same write on a files table, where counts come from DataFrame.observe."""
    quarantine = FilesHandle(str(tmp_lake / "files_q"), table="files_q")
    files = FilesHandle(str(tmp_lake / "files"), table="people", expectations=rules, quarantine_table=quarantine)
    result = files.write(spark.createDataFrame(rows, SCHEMA), mode)
    assert result.rule_counts is None
    return result.expectations


@pytest.fixture
def people(spark):
    return spark.createDataFrame(ROWS, SCHEMA).repartition(3)  # counts from several tasks are summed


@pytest.mark.parametrize("mode", ["append", "overwrite"])
@pytest.mark.parametrize("partition_by", [(), ("age",)], ids=["unpartitioned", "partitioned"])
def test_writer_counts_allow_drop_quarantine_and_nulls(tmp_lake, spark, people, mode, partition_by):
    quarantine = delta(tmp_lake, "held")
    target = delta(tmp_lake, "people", *RULES, quarantine_table=quarantine, partition_by=partition_by)
    target.append(spark.createDataFrame([(0, "zz", 30)], SCHEMA))

    result = target.write(people, mode)

    assert result.rule_counts is not None  # counted by the Delta writer, not by observe
    got = result.expectations
    assert {r.name: r.failed for r in got.rules} == {"adult": 3, "named": 1, "short_name": 5, "not_old": 2}
    assert (got.rows_in, got.rows_quarantined, got.rows_dropped, got.rows_written) == (6, 3, 2, 1)
    assert result.rows_written == 1
    kept = [(1, "ada", 36)] if mode == "overwrite" else [(0, "zz", 30), (1, "ada", 36)]
    assert sorted(r[:3] for r in table_rows(target.path)) == kept
    assert MASK_COLUMN not in [f.name for f in target.schema.fields]
    held = {r["id"]: r["_failed_rules"] for r in quarantine.read().collect()}
    assert held == {2: ["adult"], 4: ["adult"], 5: ["adult"]}  # quarantine wins over drop (eve)
    assert got.as_dict() == observed(tmp_lake, spark, ROWS, RULES, mode).as_dict()


def test_upsert_counts_on_the_driver(tmp_lake, spark, people):
    quarantine = delta(tmp_lake, "held")
    target = delta(tmp_lake, "people", *RULES, quarantine_table=quarantine)
    target.append(spark.createDataFrame([(1, "old", 40), (6, "old", 41)], SCHEMA))

    result = target.upsert(people, keys=["id"])

    assert result.rule_counts is not None
    got = result.expectations
    assert {r.name: r.failed for r in got.rules} == {"adult": 3, "named": 1, "short_name": 5, "not_old": 2}
    assert (got.rows_in, got.rows_quarantined, got.rows_dropped, got.rows_written) == (6, 3, 2, 1)
    assert (result.details["updated"], result.details["inserted"]) == (1, 0)
    assert table_rows(target.path) == [(1, "ada", 36), (6, "old", 41)]
    assert got.as_dict() == observed(tmp_lake, spark, ROWS, RULES).as_dict()


def test_fail_rule_alongside_counted_rules(tmp_lake, spark, people):
    target = delta(tmp_lake, "people", Expectation("has_id", "id IS NOT NULL", "fail"), *RULES[1:])
    result = target.append(people)
    assert result.rule_counts is not None
    assert {r.name: r.failed for r in result.expectations.rules} == {
        "has_id": 0, "named": 1, "short_name": 5, "not_old": 2,
    }
    assert sorted(r[0] for r in table_rows(target.path)) == [1, 2, 5]  # eve's NULL age fails not_old


def test_an_empty_write_counts_nothing(tmp_lake, spark):
    target = delta(tmp_lake, "people", *RULES[1:])
    result = target.append(spark.createDataFrame([], SCHEMA))
    assert result.rule_counts is not None
    assert result.expectations.rows_in == 0
    assert [r.failed for r in result.expectations.rules] == [0, 0, 0]


def test_more_rules_than_mask_bits_fall_back_to_observe(tmp_lake, spark, people):
    rules = [Expectation(f"r{i}", f"id <> {i}", "drop" if i in (1, 3) else "allow") for i in range(MAX_MASK_RULES + 1)]
    target = delta(tmp_lake, "people", *rules)
    result = target.append(people)
    assert result.rule_counts is None
    assert [result.expectations.failed(f"r{i}") for i in (1, 2, 6, 7, MAX_MASK_RULES)] == [1, 1, 1, 0, 0]
    assert result.expectations.rows_dropped == 2
    assert sorted(r[0] for r in table_rows(target.path)) == [2, 4, 5, 6]


def test_rules_add_no_spark_job_to_the_write(tmp_lake, spark, people):
    """Same check as core's test for observe: the mask is counted inside the write's own job."""
    tracker = spark.sparkContext.statusTracker()

    def jobs_for(target, group):
        spark.sparkContext.setJobGroup(group, group)
        result = target.append(people)
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)
        return len(tracker.getJobIdsForGroup(group)), result

    plain, _ = jobs_for(delta(tmp_lake, "plain"), "delta-plain-write")
    rules = [Expectation(f"r{i}", f"id <> {i}", "drop" if i % 2 else "allow") for i in range(20)]
    checked, result = jobs_for(delta(tmp_lake, "checked", *rules), "delta-checked-write")
    assert result.rule_counts is not None and result.expectations.rows_dropped == 3
    assert checked == plain


def test_counts_per_micro_batch_in_foreach_batch(tmp_lake, spark):
    source = FilesHandle(str(tmp_lake / "src"), table="src", schema=SCHEMA, format="json", max_files_per_trigger=1)
    source.append(spark.createDataFrame(ROWS[:3], SCHEMA).coalesce(1))  # one file, one micro-batch
    source.append(spark.createDataFrame(ROWS[3:], SCHEMA).coalesce(1))
    target = delta(tmp_lake, "people", Expectation("adult", "age >= 18", "drop"), Expectation("named", "name IS NOT NULL"))
    per_batch = []

    def write(batch, batch_id):
        result = target.append(batch, batch_id=batch_id)
        assert result.rule_counts is not None
        per_batch.append(result.expectations)

    query = (
        source.read_stream().writeStream.foreachBatch(write)
        .option("checkpointLocation", str(tmp_lake / "cp")).trigger(availableNow=True).start()
    )
    query.awaitTermination(120)
    assert sorted(r.batch_id for r in per_batch) == [0, 1]
    assert [r.rows_in for r in sorted(per_batch, key=lambda r: r.batch_id)] == [3, 3]
    assert sum(r.failed("adult") for r in per_batch) == 3  # bob, eve (NULL), kid
    assert sum(r.failed("named") for r in per_batch) == 1
    assert table_rows(target.path) == [(1, "ada", 36), (3, None, 50), (6, "cy", 70)]


@pytest.mark.parametrize("limit, budget, path", [
    (100, None, None),
    (3, None, "written from the driver"),
    (3, 1, "written by Spark tasks"),
], ids=["small: collected at the first look", "bigger, within the byte budget: second look", "over the budget: Spark tasks"])
def test_a_micro_batch_write_is_the_same_collected_or_written_by_tasks(
    tmp_lake, spark, people, limit, budget, path, monkeypatch, caplog,
):
    """Writes with a ``txn`` (micro-batches) are committed from the driver while their Arrow data is small."""
    from lakeport_delta import handle as delta_handle
    from lakeport_delta.embedded import ops

    monkeypatch.setattr(delta_handle, "SMALL_BATCH_ROWS", limit)
    if budget is not None:
        monkeypatch.setattr(ops, "DRIVER_WRITE_BYTES", budget)
    quarantine = delta(tmp_lake, "held")
    target = delta(tmp_lake, "people", *RULES, quarantine_table=quarantine)

    with caplog.at_level("DEBUG", logger="lakeport_delta.embedded.ops"):
        result = target.append(people, txn=("app", 0))
    said = [r.getMessage() for r in caplog.records if r.name == "lakeport_delta.embedded.ops"]
    assert any(path in m for m in said) if path else not any("written" in m for m in said), said

    assert result.rule_counts is not None and not result.skipped
    got = result.expectations
    assert {r.name: r.failed for r in got.rules} == {"adult": 3, "named": 1, "short_name": 5, "not_old": 2}
    assert (got.rows_in, got.rows_quarantined, got.rows_dropped, got.rows_written) == (6, 3, 2, 1)
    assert table_rows(target.path) == [(1, "ada", 36)]
    assert MASK_COLUMN not in [f.name for f in target.schema.fields]
    assert {r["id"] for r in quarantine.read().collect()} == {2, 4, 5}
    again = target.append(people, txn=("app", 0))  # a replayed batch
    assert again.skipped and table_rows(target.path) == [(1, "ada", 36)]
    assert not (tmp_lake / "people" / "_lakeport_staging").exists()  # no staged file left behind


@pytest.mark.parametrize("mode", ["append", "upsert"])
def test_native_backend_counts_the_same_with_observe(tmp_lake, spark, people, mode):
    """The native backend (delta-spark) has no rule mask: its counts come from ``observe``, and agree."""
    pytest.importorskip("delta", reason="needs delta-spark")
    from lakeport_delta.handle import session_has_delta

    if not session_has_delta(spark):
        pytest.skip("the shared session has no Delta jars")
    quarantine = DeltaHandle(location=str(tmp_lake / "held"), table="held", backend="native")
    target = DeltaHandle(location=str(tmp_lake / "people"), table="people", backend="native", expectations=RULES,
                         quarantine_table=quarantine)
    target.append(spark.createDataFrame([(1, "old", 40)], SCHEMA))

    result = target.upsert(people, keys=["id"]) if mode == "upsert" else target.append(people)

    assert result.rule_counts is None  # not counted by a writer
    got = result.expectations
    assert {r.name: r.failed for r in got.rules} == {"adult": 3, "named": 1, "short_name": 5, "not_old": 2}
    assert (got.rows_in, got.rows_quarantined, got.rows_dropped, got.rows_written) == (6, 3, 2, 1)
    kept = [(1, "ada", 36)] if mode == "upsert" else [(1, "ada", 36), (1, "old", 40)]
    assert table_rows(target.path) == kept
    assert {r["id"]: r["_failed_rules"] for r in quarantine.read().collect()} == {2: ["adult"], 4: ["adult"], 5: ["adult"]}


def local_people(spark):
    """ROWS as a LocalRelation (createDataFrame of an Arrow table): Spark knows its size exactly."""
    import pyarrow as pa

    schema = pa.schema([("id", pa.int64()), ("name", pa.string()), ("age", pa.int32())])
    return spark.createDataFrame(pa.Table.from_pylist([dict(zip(schema.names, r, strict=True)) for r in ROWS], schema=schema))


@pytest.mark.parametrize("mode", ["append", "overwrite"])
@pytest.mark.parametrize("data, budget, path", [
    ("local", None, "written from the driver"),
    ("local", 1, None),
    ("rdd", None, None),
], ids=["estimated small: the driver", "estimated over the budget: Spark tasks", "size unknown: Spark tasks"])
def test_a_batch_write_is_the_same_from_the_driver_or_from_spark_tasks(
    tmp_lake, spark, mode, data, budget, path, monkeypatch, caplog,
):
    """A batch write (no ``txn``) that Spark's plan estimate says is small is collected once and committed
    from the driver; the rows, the rule counts and the quarantine are those of Spark's writer."""
    from lakeport_delta.embedded import ops

    if budget is not None:
        monkeypatch.setattr(ops, "DRIVER_ESTIMATE_BYTES", budget)
    quarantine = delta(tmp_lake, "held")
    target = delta(tmp_lake, "people", *RULES, quarantine_table=quarantine)
    target.append(local_people(spark).limit(0))  # the table exists: overwrite replaces, append adds
    people = local_people(spark) if data == "local" else spark.createDataFrame(ROWS, SCHEMA).repartition(3)

    with caplog.at_level("DEBUG", logger="lakeport_delta.embedded.ops"):
        result = target.write(people, mode)
    said = [r.getMessage() for r in caplog.records if r.name == "lakeport_delta.embedded.ops" and "people" in r.getMessage()]
    assert any(path in m for m in said) if path else not any("written" in m for m in said), said

    assert result.rule_counts is not None and not result.skipped and result.version == 1
    got = result.expectations
    assert {r.name: r.failed for r in got.rules} == {"adult": 3, "named": 1, "short_name": 5, "not_old": 2}
    assert (got.rows_in, got.rows_quarantined, got.rows_dropped, got.rows_written) == (6, 3, 2, 1)
    assert table_rows(target.path) == [(1, "ada", 36)]
    assert {r["id"] for r in quarantine.read().collect()} == {2, 4, 5}
    assert not (tmp_lake / "people" / "_lakeport_staging").exists()


def test_a_fail_rule_on_a_write_from_the_driver_commits_nothing(tmp_lake, spark):
    from lakeport.errors import ExpectationFailed

    target = delta(tmp_lake, "people", Expectation("adult", "age >= 18", "fail"))
    target.append(local_people(spark).where("id = 1"))
    with pytest.raises(ExpectationFailed) as info:
        target.append(local_people(spark))
    assert (info.value.rule, info.value.failing_rows) == ("adult", 3)
    assert table_rows(target.path) == [(1, "ada", 36)] and DeltaTable(target.path).version() == 0


def test_the_estimate_is_none_without_a_jvm_plan_and_exact_for_local_data(spark):
    from lakeport_delta.embedded.ops import estimated_bytes

    class Remote:  # a Spark Connect DataFrame has no _jdf
        pass

    assert estimated_bytes(Remote()) is None
    assert 0 < estimated_bytes(local_people(spark)) < 1000
    assert estimated_bytes(spark.createDataFrame(ROWS, SCHEMA)) > 2**40  # an RDD: Spark's default, "big"


def test_a_plan_spark_underestimated_past_max_result_size_is_written_by_spark_tasks(tmp_lake, spark, monkeypatch, caplog):
    """A wrong guess costs a second evaluation, not a wrong table: the write goes to Spark's writer."""
    from pyspark.sql.classic.dataframe import DataFrame

    collected = DataFrame.toArrow

    def too_big(df):
        if MASK_COLUMN in df.columns:  # the write's collect, not the quarantine's or a test's
            raise RuntimeError("Total size of serialized results of 1 tasks is bigger than spark.driver.maxResultSize")
        return collected(df)

    monkeypatch.setattr(DataFrame, "toArrow", too_big)
    quarantine = delta(tmp_lake, "held")
    target = delta(tmp_lake, "people", *RULES, quarantine_table=quarantine)
    with caplog.at_level("INFO", logger="lakeport_delta.embedded.ops"):
        result = target.append(local_people(spark))
    assert any("over spark.driver.maxResultSize" in r.getMessage() for r in caplog.records)
    got = result.expectations
    assert {r.name: r.failed for r in got.rules} == {"adult": 3, "named": 1, "short_name": 5, "not_old": 2}
    assert (got.rows_in, got.rows_quarantined, got.rows_dropped, got.rows_written) == (6, 3, 2, 1)
    assert table_rows(target.path) == [(1, "ada", 36)]
