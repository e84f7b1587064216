"""Expectations on Delta tables: a ``fail`` leaves the table's version and files as they were."""

from __future__ import annotations

import os

import pytest

from lakeport.errors import ExpectationFailed
from lakeport.expectations import Expectation
from lakeport_delta import DeltaHandle

SCHEMA = "id BIGINT, name STRING, age INT"


def delta_state(path: str, backend: str = "embedded") -> tuple[int, list[str], list[tuple]]:
    """Version, data files and rows, read with delta-rs (not through lakeport).

    Embedded: every parquet file on disk (a failed write leaves none). Native: the files in
    the table's snapshot; delta-spark's tasks write into the table folder, and a job aborted
    by a ``fail`` rule leaves its partial files there, unreferenced (``VACUUM`` removes them).
    """
    from deltalake import DeltaTable

    table = DeltaTable(path)
    if backend == "native":
        files = sorted(os.path.basename(uri) for uri in table.file_uris())
    else:
        files = sorted(f for f in os.listdir(path) if f.endswith(".parquet"))
    rows = sorted(table.to_pyarrow_table().to_pylist(), key=lambda r: r["id"])
    return table.version(), files, [tuple(r.values()) for r in rows]


@pytest.fixture(params=["embedded", "native"])
def backend(request, spark):
    """Both Delta backends; native needs the shared session to carry delta-spark's jars."""
    from lakeport_delta.handle import session_has_delta

    if request.param == "native" and not session_has_delta(spark):
        pytest.skip("the shared session has no Delta jars (delta-spark not installed)")
    return request.param


@pytest.fixture
def adults(tmp_lake, spark, backend):
    handle = DeltaHandle(location=str(tmp_lake / "adults"), table="adults", backend=backend,
                         expectations=[Expectation("adult", "age >= 18", "fail")])
    handle.append(spark.createDataFrame([(1, "ada", 36), (2, "bob", 41)], SCHEMA))
    return handle


@pytest.mark.parametrize("write", ["append", "overwrite", "upsert"])
def test_fail_leaves_the_delta_version_unchanged(adults, spark, write):
    before = delta_state(adults.path, adults.backend)
    batch = spark.createDataFrame([(2, "bob", 42), (3, "kid", 9), (4, "eve", 30)], SCHEMA)

    with pytest.raises(ExpectationFailed) as info:
        if write == "upsert":
            adults.upsert(batch, keys=["id"])
        else:
            adults.write(batch, write)

    assert (info.value.table, info.value.rule, info.value.failing_rows) == ("adults", "adult", 1)
    assert "'name': 'kid'" in str(info.value)
    assert delta_state(adults.path, adults.backend) == before
    assert before[0] == 0 and before[2] == [(1, "ada", 36), (2, "bob", 41)]


def test_fail_in_a_micro_batch_stops_the_stream_and_commits_nothing_of_it(adults, spark, tmp_lake):
    from lakeport.etl import SimpleLoader
    from lakeport_foreachbatch import StreamLoader

    source = DeltaHandle(location=str(tmp_lake / "incoming"), table="incoming", backend="embedded")
    source.append(spark.createDataFrame([(5, "cy", 50)], SCHEMA))
    source.append(spark.createDataFrame([(6, "tot", 3)], SCHEMA))
    before = delta_state(adults.path, adults.backend)
    loader = StreamLoader(SimpleLoader(adults, mode="append"), checkpoint_path=str(tmp_lake / "cp"))

    with pytest.raises(ExpectationFailed, match="expectation 'adult' on table 'adults' failed for 1 row"):
        loader.save(source.read_stream())
        loader.wait()

    assert delta_state(adults.path, adults.backend) == before


def test_fail_and_drop_rules_with_quotes_and_backslashes_in_one_mask(tmp_lake, spark):
    rules = [
        Expectation("named", "name IS NOT NULL", "drop"),
        # a NULL fails a rule: this one leaves NULLs to the drop rule
        Expectation("not_oneil", "name IS NULL OR (name <> 'o\\'neil' AND instr(name, '\\\\') = 0)", "fail"),
    ]
    handle = DeltaHandle(location=str(tmp_lake / "people"), table="people", expectations=rules, backend="embedded")

    result = handle.append(spark.createDataFrame([(1, "ada", 36), (2, None, 41)], SCHEMA))
    assert {r.name: r.failed for r in result.expectations.rules} == {"named": 1, "not_oneil": 0}
    before = delta_state(handle.path)
    assert before[2] == [(1, "ada", 36)]

    for bad in ("o'neil", "back\\slash"):
        with pytest.raises(ExpectationFailed) as info:
            handle.append(spark.createDataFrame([(3, "eve", 30), (4, bad, 50)], SCHEMA))
        assert (info.value.rule, info.value.failing_rows) == ("not_oneil", 1)
        assert f"'name': {bad!r}" in str(info.value)
    assert delta_state(handle.path) == before


def test_a_micro_batch_above_the_small_write_limit_reports_its_own_rows_in(spark, tmp_lake):
    """numInputRows also counts the rows the embedded writer's looks read (24,000 for 12,000 here):
    the batch line takes the write's own count (its expectations)."""
    from lakeport.etl import SimpleLoader
    from lakeport_foreachbatch import StreamLoader

    rows = 12_000  # above lakeport_delta.handle.SMALL_BATCH_ROWS: a second, bigger look before the write
    source = DeltaHandle(location=str(tmp_lake / "incoming"), table="incoming", backend="embedded")
    source.append(spark.range(rows).selectExpr("id", "concat('p', id) as name", "cast(id % 90 as int) as age"))
    target = DeltaHandle(location=str(tmp_lake / "grown"), table="grown", backend="embedded",
                         expectations=[Expectation("adult", "age >= 18", "drop")])
    loader = StreamLoader(SimpleLoader(target, mode="append"), checkpoint_path=str(tmp_lake / "cp"))
    loader.save(source.read_stream())
    loader.wait()

    adults = sum(1 for i in range(rows) if i % 90 >= 18)
    assert [(b.rows_in, b.rows_written, b.rows_dropped) for b in loader.batches] == [(rows, adults, rows - adults)]
    assert loader.summary_lines()[0].startswith(f"{loader.name}: 1 batch, {rows} rows in, {adults} written")
