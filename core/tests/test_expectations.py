"""Expectations: every action in batch and streaming writes, rule errors, one pass, results."""

from __future__ import annotations

import pytest

from lakeport import ConfigError, ExpectationFailed, hookimpl
from lakeport.expectations import Expectation
from lakeport.handles.files import FilesHandle

SCHEMA = "id BIGINT, name STRING, age INT"
ROWS = [(1, "ada", 36), (2, "bob", 17), (3, None, 50), (4, "eve", None)]


def rows(df):
    return sorted(tuple(r) for r in df.collect())


@pytest.fixture
def people(spark):
    return spark.createDataFrame(ROWS, SCHEMA)


def handle(tmp_lake, name, *rules, **kwargs):
    return FilesHandle(str(tmp_lake / name), table=name, schema=SCHEMA, expectations=rules, **kwargs)


def test_allow_keeps_rows_and_counts_failures(tmp_lake, people):
    target = handle(tmp_lake, "t", Expectation("adult", "age >= 18", "allow"))
    result = target.append(people)
    assert rows(target.read()) == sorted(ROWS, key=lambda r: r[0])
    # NULL does not pass a rule: eve (age NULL) and bob (17) fail it
    assert result.expectations.failed("adult") == 2
    assert (result.expectations.rows_in, result.expectations.rows_written) == (4, 4)


def test_drop_removes_failing_rows(tmp_lake, people):
    target = handle(tmp_lake, "t", Expectation("adult", "age >= 18", "drop"), Expectation("named", "name IS NOT NULL", "drop"))
    result = target.append(people)
    assert rows(target.read()) == [(1, "ada", 36)]
    assert result.expectations.failed("adult") == 2
    assert result.expectations.failed("named") == 1
    assert (result.expectations.rows_dropped, result.expectations.rows_written) == (3, 1)


def test_fail_raises_with_rule_count_and_samples_and_writes_nothing(tmp_lake, people, spark):
    target = handle(tmp_lake, "t", Expectation("named", "name IS NOT NULL", "fail"))
    target.append(spark.createDataFrame([(0, "zed", 30)], SCHEMA))
    before = sorted(p.name for p in (tmp_lake / "t").iterdir())
    with pytest.raises(ExpectationFailed) as info:
        target.append(people)
    error = info.value
    assert (error.table, error.rule, error.failing_rows) == ("t", "named", 1)
    assert "expectation 'named' on table 't' failed for 1 row(s)" in str(error)
    assert "'id': 3" in str(error) and "nothing was written" in str(error)
    assert rows(target.read()) == [(0, "zed", 30)]
    assert sorted(p.name for p in (tmp_lake / "t").iterdir()) == before


def test_quarantine_sends_failing_rows_to_the_quarantine_table(tmp_lake, people):
    quarantine = FilesHandle(str(tmp_lake / "q"), table="q")
    target = handle(
        tmp_lake, "t",
        Expectation("adult", "age >= 18", "quarantine"), Expectation("named", "name IS NOT NULL", "drop"),
        quarantine_table=quarantine,
    )
    result = target.append(people)
    assert rows(target.read()) == [(1, "ada", 36)]
    held = {r["id"]: r for r in quarantine.read().collect()}
    assert sorted(held) == [2, 4]  # quarantine wins over drop; id 3 is only dropped
    assert held[2]["_failed_rules"] == ["adult"]
    assert held[2]["_quarantined_at"] is not None
    assert (result.expectations.rows_quarantined, result.expectations.rows_dropped) == (2, 1)


def test_quarantine_without_a_quarantine_table_is_a_config_error(tmp_lake, people):
    target = handle(tmp_lake, "t", Expectation("adult", "age >= 18", "quarantine"))
    with pytest.raises(ConfigError, match="tables.t.quarantine_table: a rule has action \"quarantine\""):
        target.append(people)


@pytest.mark.parametrize(
    "constraint,fragment",
    [("age >", "'age >' is not valid here"), ("agee > 3", "'agee > 3' is not valid here")],
    ids=["does-not-parse", "missing-column"],
)
def test_bad_rule_fails_before_data_moves(tmp_lake, people, constraint, fragment):
    target = handle(tmp_lake, "t", Expectation("ok", "id > 0"), Expectation("broken", constraint, "drop"))
    with pytest.raises(ConfigError) as info:
        target.append(people)
    message = str(info.value)
    assert "tables.t.expectations[1] (broken).constraint" in message and fragment in message
    assert not (tmp_lake / "t").exists()


def test_rules_add_no_spark_job_to_the_write(tmp_lake, people, spark):
    """Counting happens inside the write's own job (observe), not in extra count() jobs."""
    tracker = spark.sparkContext.statusTracker()

    def jobs_for(target, group):
        spark.sparkContext.setJobGroup(group, group)
        target.append(people)
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)
        return len(tracker.getJobIdsForGroup(group))

    plain = jobs_for(handle(tmp_lake, "plain"), "plain-write")
    rules = [Expectation(f"r{i}", f"id <> {i}", "drop" if i % 2 else "allow") for i in range(20)]
    checked = jobs_for(handle(tmp_lake, "checked", *rules), "checked-write")
    assert checked == plain


class Recorder:
    def __init__(self):
        self.results = []

    @hookimpl
    def lakeport_expectation_results(self, results):
        self.results.append(results)

    @hookimpl
    def lakeport_register_expectation_actions(self, register):
        register("warn", lambda rule, results: self.results.append(("warn", rule.name, rule.failed)))


@pytest.mark.parametrize("extra", [0, 62], ids=["3-rules", "65-rules"])
def test_every_action_counted_in_one_write(tmp_lake, people, extra):
    quarantine = FilesHandle(str(tmp_lake / "q"), table="q")
    rules = [
        Expectation("adult", "age >= 18", "quarantine"),
        Expectation("named", "name IS NOT NULL", "drop"),
        Expectation("known_id", "id < 100", "fail"),
        *[Expectation(f"r{i}", f"id <> {i}", "allow") for i in range(extra)],
    ]
    target = handle(tmp_lake, "t", *rules, quarantine_table=quarantine)
    result = target.append(people)
    assert rows(target.read()) == [(1, "ada", 36)]
    assert sorted(r["id"] for r in quarantine.read().collect()) == [2, 4]
    counts = result.expectations
    assert [counts.failed(name) for name in ("adult", "named", "known_id")] == [2, 1, 0]
    assert (counts.rows_in, counts.rows_quarantined, counts.rows_dropped, counts.rows_written) == (4, 2, 1, 1)
    if extra:
        assert [counts.failed(f"r{i}") for i in (0, 1, 2, 5)] == [0, 1, 1, 0]


def test_results_reach_the_hook_and_custom_actions(lakeport_project, people, tmp_lake):
    recorder = Recorder()
    project = lakeport_project(
        f"""
        [tables.People]
        kind = "files"
        path = "{tmp_lake}/people"
        [[tables.People.expectations]]
        name = "adult"
        constraint = "age >= 18"
        action = "warn"
        """,
        plugins=[recorder],
    )
    project.handle("People").append(people)
    assert ("warn", "adult", 2) in recorder.results
    [results] = [r for r in recorder.results if not isinstance(r, tuple)]
    assert results.table == "People" and results.failed("adult") == 2


def test_event_log_stores_one_row_per_rule_and_write(lakeport_project, people, tmp_lake):
    project = lakeport_project(
        """
        [lakeport]
        event_log = "Events"
        [tables.Events]
        kind = "files"
        path = "{project_dir}/events"
        [tables.People]
        kind = "files"
        path = "{project_dir}/people"
        expectation_action = "drop"
        expectations = [{name = "adult", constraint = "age >= 18"}, {name = "named", constraint = "name IS NOT NULL"}]
        """
    )
    project.handle("People").append(people)
    project.handle("People").append(people.limit(1))
    events = project.handle("Events").read()
    got = sorted((r["rule"], r["rows_in"], r["failed"]) for r in events.collect())
    assert got == [("adult", 1, 0), ("adult", 4, 2), ("named", 1, 0), ("named", 4, 1)]


def test_expectations_apply_per_micro_batch_in_foreach_batch(tmp_lake, spark):
    source = FilesHandle(str(tmp_lake / "src"), table="src", schema=SCHEMA, format="json", max_files_per_trigger=1)
    source.append(spark.createDataFrame(ROWS[:2], SCHEMA))
    source.append(spark.createDataFrame(ROWS[2:], SCHEMA))
    target = handle(tmp_lake, "t", Expectation("adult", "age >= 18", "drop"))
    per_batch = []

    def write(batch, batch_id):
        per_batch.append(target.append(batch, batch_id=batch_id).expectations)

    query = (
        source.read_stream().writeStream.foreachBatch(write)
        .option("checkpointLocation", str(tmp_lake / "cp")).trigger(availableNow=True).start()
    )
    query.awaitTermination(120)
    assert len(per_batch) >= 2  # one file per trigger
    assert sorted(r.batch_id for r in per_batch) == list(range(len(per_batch)))
    assert sum(r.failed("adult") for r in per_batch) == 2
    assert rows(target.read()) == [(1, "ada", 36), (3, None, 50)]


def test_validate_checks_rules_against_the_declared_schema(tmp_lake, capsys):
    from lakeport.cli import main

    project_file = tmp_lake / "lakeport.toml"
    project_file.write_text(
        '[tables.P]\nkind = "files"\npath = "/tmp/p"\nschema = "id BIGINT, age INT"\n'
        '[[tables.P.expectations]]\nname = "adult"\nconstraint = "agee >= 18"\naction = "drop"\n'
    )
    assert main(["validate", "-c", str(project_file)]) == 2
    err = capsys.readouterr().err
    assert "tables.P.expectations[0] (adult).constraint: 'agee >= 18' is not valid here" in err
