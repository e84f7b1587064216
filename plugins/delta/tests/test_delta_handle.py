"""DeltaHandle on the embedded backend: the handle contract, TOML options, names, idempotent writes."""

from __future__ import annotations

import pytest
from deltalake import DeltaTable

from lakeport import ConfigError, SchemaMismatch, TableNotFound
from lakeport.testing import HandleContract
from lakeport_delta import DeltaHandle

SCHEMA = "id BIGINT, name STRING"


class TestEmbeddedDeltaContract(HandleContract):
    @pytest.fixture
    def make_handle(self, tmp_lake):
        counter = iter(range(1000))

        def make(schema, expectations=()):
            return DeltaHandle(location=str(tmp_lake / f"d{next(counter)}"), schema=schema, expectations=expectations,
                               backend="embedded", table="people")

        return make


PROJECT = """
[env.dev.vars]
db = "shop"

[lakeport]
warehouse = "{project_dir}/warehouse"

[tables.Orders]
kind = "delta"
name = "{db}.orders"
schema = "id BIGINT, amount DOUBLE, day STRING"
partition_by = ["day"]
max_files_per_trigger = 1
sequence_by = "amount"
"""


def test_table_name_lives_under_the_warehouse_and_is_a_real_delta_table(lakeport_project, spark, tmp_lake):
    project = lakeport_project(PROJECT)
    orders = project.handle("Orders")
    assert orders.path == f"{tmp_lake}/warehouse/shop.db/orders"
    assert orders.max_files_per_trigger == 1 and orders.partition_by == ("day",)
    orders.append(spark.createDataFrame([(1, 9.5, "mon"), (2, 3.0, "tue")], "id BIGINT, amount DOUBLE, day STRING"))
    table = DeltaTable(orders.path)
    assert table.metadata().partition_columns == ["day"]
    assert sorted(table.to_pyarrow_table().to_pylist(), key=lambda r: r["id"]) == [
        {"id": 1, "amount": 9.5, "day": "mon"}, {"id": 2, "amount": 3.0, "day": "tue"},
    ]
    assert orders.history()[0]["version"] == 0


def test_upsert_uses_sequence_by_to_pick_the_latest_duplicate(lakeport_project, spark):
    orders = lakeport_project(PROJECT).handle("Orders")
    schema = "id BIGINT, amount DOUBLE, day STRING"
    orders.append(spark.createDataFrame([(1, 1.0, "mon")], schema))
    result = orders.upsert(spark.createDataFrame([(1, 5.0, "mon"), (1, 7.0, "mon"), (2, 2.0, "tue"), (None, 1.0, "x")], schema), keys=["id"])
    assert sorted(tuple(r) for r in orders.read().collect()) == [(1, 7.0, "mon"), (2, 2.0, "tue")]
    assert result.details["dropped_null_keys"] == 1


def test_txn_replay_is_skipped(tmp_lake, spark):
    handle = DeltaHandle(location=str(tmp_lake / "t"), backend="embedded")
    df = spark.createDataFrame([(1, "a")], SCHEMA)
    first = handle.append(df, txn=("app-1", 0))
    again = handle.append(df, txn=("app-1", 0))
    assert (first.skipped, again.skipped) == (False, True)
    assert handle.read().count() == 1
    assert DeltaTable(str(tmp_lake / "t")).version() == 0


def test_time_travel(tmp_lake, spark):
    handle = DeltaHandle(location=str(tmp_lake / "t"), backend="embedded")
    handle.append(spark.createDataFrame([(1, "a")], SCHEMA))
    handle.overwrite(spark.createDataFrame([(2, "b")], SCHEMA))
    assert [tuple(r) for r in handle.read(version=0).collect()] == [(1, "a")]
    assert [tuple(r) for r in handle.read().collect()] == [(2, "b")]


def test_append_with_wrong_schema_names_the_columns_and_writes_nothing(tmp_lake, spark):
    handle = DeltaHandle(location=str(tmp_lake / "t"), backend="embedded")
    handle.append(spark.createDataFrame([(1, "a")], SCHEMA))
    with pytest.raises(SchemaMismatch) as info:
        handle.append(spark.createDataFrame([(1, 2.5)], "id BIGINT, price DOUBLE"))
    assert "price" in str(info.value)
    assert DeltaTable(str(tmp_lake / "t")).version() == 0


def test_missing_table_errors(tmp_lake):
    handle = DeltaHandle(location=str(tmp_lake / "absent"), backend="embedded", table="absent")
    with pytest.raises(TableNotFound):
        handle.history()
    with pytest.raises(Exception, match="absent"):
        handle.read().collect()


def test_bad_option_name_in_toml(lakeport_project):
    with pytest.raises(ConfigError) as info:
        lakeport_project('[tables.T]\nkind = "delta"\npath = "/t"\nmax_file_per_trigger = 3\n')
    assert "tables.T" in str(info.value) and "unknown key(s) max_file_per_trigger" in str(info.value)


def test_handle_needs_a_name_or_a_location():
    with pytest.raises(ConfigError, match="needs a name"):
        DeltaHandle()


def test_plugins_command_shows_the_backend(capsys, tmp_path, monkeypatch):
    from lakeport.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "backend for kind delta: embedded (auto: a local session has no Delta jars)" in out
