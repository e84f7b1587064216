"""apply_changes locally: SCD1 and SCD2 targets on exact rows, with out-of-order, late and delete events,
and a second incremental run."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest
from deltalake import DeltaTable

from lakeport.cli import main

PIPELINE = """
[tables.customer_changes]
kind = "files"
format = "json"
path = "{project_dir}/landing"
schema = "id BIGINT, name STRING, city STRING, op STRING, ts BIGINT"

[pipelines.customers]
kind = "dlt"
code = "jobs.py"
target_schema = "crm"

[[pipelines.customers.datasets]]
name = "changes"
kind = "view"
streaming = true
func = "feed"
source = "customer_changes"

[[pipelines.customers.datasets]]
name = "customers_flow"
func = "feed"
source = "changes"
apply_changes = { target = "customers", keys = ["id"], sequence_by = "ts", apply_as_deletes = "op = 'DELETE'", except_column_list = ["op", "ts"] }

[[pipelines.customers.datasets]]
name = "customers_history_flow"
func = "feed"
source = "changes"
apply_changes = { target = "customers_history", keys = ["id"], sequence_by = "ts", stored_as_scd_type = 2, apply_as_deletes = "op = 'DELETE'", except_column_list = ["op", "ts"] }
"""

FIRST = [
    {"id": 1, "name": "ada", "city": "oslo", "op": "INSERT", "ts": 1},
    {"id": 2, "name": "bob", "city": "rome", "op": "INSERT", "ts": 2},
    {"id": 1, "name": "ada", "city": "bergen", "op": "UPDATE", "ts": 5},
    {"id": 3, "name": "cy", "city": "paris", "op": "INSERT", "ts": 3},
    {"id": 3, "name": None, "city": None, "op": "DELETE", "ts": 4},
    {"id": 2, "name": "bob", "city": "milan", "op": "UPDATE", "ts": 3},
]
SECOND = [
    {"id": 1, "name": "ada", "city": "tromso", "op": "UPDATE", "ts": 4},  # late: before ts 5, after ts 1
    {"id": 2, "name": None, "city": None, "op": "DELETE", "ts": 6},
    {"id": 4, "name": "dee", "city": "lima", "op": "INSERT", "ts": 7},
]


def rows(path: Path, *columns: str) -> list[tuple]:
    return sorted(tuple(r[c] for c in columns) for r in DeltaTable(str(path)).to_pyarrow_table(columns=list(columns)).to_pylist())


@pytest.fixture
def cdc_project(tmp_path, monkeypatch):
    (tmp_path / "lakeport.toml").write_text(textwrap.dedent(PIPELINE))
    (tmp_path / "jobs.py").write_text("def feed(df):\n    return df\n")
    (tmp_path / "landing").mkdir()
    monkeypatch.delitem(sys.modules, "jobs", raising=False)

    def land(name: str, changes: list[dict]) -> None:
        (tmp_path / "landing" / name).write_text("".join(json.dumps(c) + "\n" for c in changes))

    yield tmp_path, land
    sys.modules.pop("jobs", None)  # the pipeline's code module; other tests have a jobs.py of their own


def test_scd1_and_scd2_targets_follow_the_sequence_not_the_arrival(spark, cdc_project, capsys):
    folder, land = cdc_project
    crm = folder / "spark-warehouse" / "crm"
    land("1.json", FIRST)
    assert main(["run", "customers", "-c", str(folder / "lakeport.toml")]) == 0
    out = capsys.readouterr().out
    assert "customers_flow -> customers (apply changes, SCD1), 6 rows in, 6 written" in out
    assert rows(crm / "customers", "id", "name", "city") == [(1, "ada", "bergen"), (2, "bob", "milan")]
    assert rows(crm / "customers_history", "id", "city", "__START_AT", "__END_AT") == [
        (1, "bergen", 5, None), (1, "oslo", 1, 5),
        (2, "milan", 3, None), (2, "rome", 2, 3),
        (3, "paris", 3, 4),
    ]
    schema = {f.name: f.type for f in DeltaTable(str(crm / "customers_history")).schema().fields}
    assert str(schema["__START_AT"]) == str(schema["__END_AT"]) == 'PrimitiveType("long")'  # typed like ts
    assert "op" not in schema and "ts" not in schema  # except_column_list

    land("2.json", SECOND)
    assert main(["run", "customers", "-c", str(folder / "lakeport.toml")]) == 0
    assert "customers_flow -> customers (apply changes, SCD1), 3 rows in, 3 written" in capsys.readouterr().out
    assert rows(crm / "customers", "id", "name", "city") == [(1, "ada", "bergen"), (4, "dee", "lima")]
    assert rows(crm / "customers_history", "id", "city", "__START_AT", "__END_AT") == [
        (1, "bergen", 5, None), (1, "oslo", 1, 4), (1, "tromso", 4, 5),  # the late event split [1, 5)
        (2, "milan", 3, 6), (2, "rome", 2, 3),  # the delete closed the open version
        (3, "paris", 3, 4),
        (4, "lima", 7, None),
    ]


def test_the_rendered_cdc_pipeline_run_locally_gives_the_same_targets(spark, cdc_project, capsys):
    folder, land = cdc_project
    land("1.json", FIRST)
    land("2.json", SECOND)
    project_file = str(folder / "lakeport.toml")
    assert main(["run", "customers", "-c", project_file]) == 0
    assert main(["dlt", "render", "customers", "-c", project_file, "--api", "pipelines", "-o", str(folder / "out")]) == 0
    capsys.readouterr()
    assert main(["dlt", "run-local", str(folder / "out" / "customers_pipeline.py"), "-c", project_file,
                 "--schema", "rendered"]) == 0
    assert "(apply changes, SCD2), 9 rows in, 9 written" in capsys.readouterr().out
    direct, rendered = folder / "spark-warehouse" / "crm", folder / "spark-warehouse" / "rendered"
    for target, columns in (("customers", ("id", "name", "city")), ("customers_history", ("id", "city", "__START_AT", "__END_AT"))):
        assert rows(rendered / target, *columns) == rows(direct / target, *columns)


def test_scd1_truncates_and_ignore_null_updates(spark):
    from lakeport_dlt.cdc import _mark, scd1
    from lakeport_dlt.spec import ApplyChanges

    spec = ApplyChanges(target="t", keys=("id",), sequence_by="ts", ignore_null_updates=True,
                        apply_as_truncates="op = 'TRUNCATE'", apply_as_deletes="op = 'DELETE'")
    changes = spark.createDataFrame([
        (1, "a", "x", "INSERT", 1), (2, "b", "y", "INSERT", 2),
        (None, None, None, "TRUNCATE", 3),
        (1, "a2", "x2", "INSERT", 4), (1, None, "x3", "UPDATE", 5),  # null name: keeps a2
        (3, "c", "z", "INSERT", 6), (3, None, None, "DELETE", 7), (3, "c2", None, "INSERT", 8),
    ], "id BIGINT, name STRING, city STRING, op STRING, ts BIGINT")
    result = scd1(_mark(changes, spec, {}), spec)
    assert sorted(tuple(r) for r in result.select("id", "name", "city").collect()) == [
        (1, "a2", "x3"),  # id 2 went with the truncate; id 1 came back after it
        (3, "c2", None),  # after its delete, a fresh row: nothing carried over
    ]


@pytest.mark.parametrize("lists", [{"track_history_column_list": ("city",)},
                                   {"track_history_except_column_list": ("name",)}])
def test_scd2_with_tracked_columns_starts_a_version_only_when_a_tracked_column_changes(spark, lists):
    from lakeport_dlt.cdc import _mark, scd2
    from lakeport_dlt.spec import ApplyChanges

    spec = ApplyChanges(target="t", keys=("id",), sequence_by="ts", stored_as_scd_type=2,
                        apply_as_deletes="op = 'DELETE'", except_column_list=("op",), **lists)
    changes = spark.createDataFrame([
        (1, "ada", "oslo", "INSERT", 1), (1, "ADA", "oslo", "UPDATE", 2),  # name only: the open version, updated
        (1, "Ada", "bergen", "UPDATE", 4), (1, "Ada B", "bergen", "UPDATE", 3),  # out of order: ts 3 goes first
        (2, "bob", "rome", "INSERT", 1), (2, None, None, "DELETE", 2), (2, "bob", "rome", "INSERT", 3),
        (3, "cy", None, "INSERT", 1), (3, "cyd", None, "UPDATE", 5),  # a null city that stays null: no new version
    ], "id BIGINT, name STRING, city STRING, op STRING, ts BIGINT")
    result = scd2(_mark(changes, spec, {}), spec)
    assert sorted(tuple(r) for r in result.select("id", "name", "city", "__START_AT", "__END_AT").collect()) == [
        (1, "ADA", "oslo", 1, 3), (1, "Ada", "bergen", 3, None),
        (2, "bob", "rome", 1, 2), (2, "bob", "rome", 3, None),  # the delete closed it; the insert after starts anew
        (3, "cyd", None, 1, None),
    ]
