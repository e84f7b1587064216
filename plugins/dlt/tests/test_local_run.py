"""`lakeport run` of a dlt pipeline: datasets in order on Delta, incremental streaming tables, DLT's expectations."""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest
from deltalake import DeltaTable

from lakeport import Project
from lakeport.cli import main

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def delta_rows(path: Path, *columns: str) -> Counter:
    table = DeltaTable(str(path)).to_pyarrow_table(columns=list(columns)).to_pylist()
    return Counter(tuple(row[c] for c in columns) for row in table)


def test_the_seed_pipeline_runs_locally_with_the_rows_of_the_etl_demo(spark, tmp_path, monkeypatch, capsys):
    folder = tmp_path / "streaming_append"
    shutil.copytree(EXAMPLES / "streaming_append", folder, ignore=shutil.ignore_patterns("spark-warehouse", "__pycache__"))
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, "streaming_append", raising=False)

    assert main(["run", "streaming_append", "-c", str(folder / "lakeport.toml")]) == 0

    from streaming_append import make_people_objects

    expected = Counter(tuple(p) for p in make_people_objects(1000) if 25 <= p.age <= 45)
    kept = sum(expected.values())
    out = capsys.readouterr().out
    assert f"queue_example -> append_table_name (append flow), 1000 rows in, {kept} written, {1000 - kept} dropped by check_age" in out
    target = folder / "spark-warehouse" / "queue_example" / "append_table_name"
    assert delta_rows(target, "name", "age", "gender") == expected

    assert main(["run", "queue_example", "-c", str(folder / "lakeport.toml")]) == 0  # the etl pipeline, same rows
    etl = Project.from_file(folder / "lakeport.toml").handle("people").read().collect()
    assert Counter((r["name"], r["age"], r["gender"]) for r in etl) == expected


PIPELINE = """
[tables.raw_orders]
kind = "files"
format = "json"
path = "{project_dir}/landing"
schema = "id BIGINT, customer STRING, amount DOUBLE"

[pipelines.orders]
kind = "dlt"
code = "jobs.py"
target_schema = "sales"

[[pipelines.orders.datasets]]
name = "orders"
kind = "streaming_table"
func = "clean"
source = "raw_orders"
expectations = [{ name = "positive", constraint = "amount > 0", action = "drop" },
                { name = "has_customer", constraint = "customer IS NOT NULL" }]

[[pipelines.orders.datasets]]
name = "big_orders"
kind = "view"
func = "big"
source = "orders"

[[pipelines.orders.datasets]]
name = "revenue"
kind = "materialized_view"
func = "revenue"
source = "big_orders"
"""

JOBS = '''
from pyspark.sql import functions as F


def clean(df):
    return df.withColumn("customer", F.upper("customer"))


def big(df):
    return df.where("amount >= 10")


def revenue(df):
    return df.groupBy("customer").agg(F.sum("amount").alias("total"))
'''


@pytest.fixture
def orders_project(tmp_path, monkeypatch):
    (tmp_path / "lakeport.toml").write_text(textwrap.dedent(PIPELINE))
    (tmp_path / "jobs.py").write_text(textwrap.dedent(JOBS))
    (tmp_path / "landing").mkdir()
    monkeypatch.delitem(sys.modules, "jobs", raising=False)

    def land(name: str, rows: list[dict]) -> None:
        (tmp_path / "landing" / name).write_text("".join(json.dumps(r) + "\n" for r in rows))

    yield tmp_path, land
    sys.modules.pop("jobs", None)  # the pipeline's code module; other tests have a jobs.py of their own


def test_streaming_tables_take_only_new_input_and_materialized_views_are_recomputed(spark, orders_project, capsys):
    folder, land = orders_project
    land("1.json", [{"id": 1, "customer": "ada", "amount": 12.0}, {"id": 2, "customer": "bob", "amount": -1.0},
                    {"id": 3, "customer": None, "amount": 5.0}])
    assert main(["run", "orders", "-c", str(folder / "lakeport.toml")]) == 0
    out = capsys.readouterr().out
    assert "orders -> orders (streaming table), 3 rows in, 2 written, 1 dropped by positive, 1 failed has_customer, version 0" in out
    assert "revenue -> revenue (materialized_view), 1 rows in, 1 written" in out
    warehouse = folder / "spark-warehouse" / "sales"
    assert delta_rows(warehouse / "orders", "id", "customer") == Counter({(1, "ADA"): 1, (3, None): 1})
    assert delta_rows(warehouse / "revenue", "customer", "total") == Counter({("ADA", 12.0): 1})
    assert not (warehouse / "big_orders").exists()  # a view is not persisted
    log = DeltaTable(str(warehouse / "_event_log")).to_pyarrow_table().to_pylist()
    assert [(e["flow"], e["status"], e["rows_in"], e["rows_written"]) for e in log] == [
        ("orders", "completed", 3, 2), ("revenue", "completed", 1, 1)]
    assert sorted((x["name"], x["action"], x["passed"], x["failed"]) for x in log[0]["expectations"]) == [
        ("has_customer", "allow", 2, 1), ("positive", "drop", 2, 1)]
    assert len({e["update_id"] for e in log}) == 1

    land("2.json", [{"id": 4, "customer": "ada", "amount": 30.0}, {"id": 5, "customer": "cy", "amount": 10.0}])
    assert main(["run", "orders", "-c", str(folder / "lakeport.toml")]) == 0
    out = capsys.readouterr().out
    assert "orders -> orders (streaming table), 2 rows in, 2 written" in out  # only the new file
    assert delta_rows(warehouse / "orders", "id") == Counter({(1,): 1, (3,): 1, (4,): 1, (5,): 1})
    assert delta_rows(warehouse / "revenue", "customer", "total") == Counter({("ADA", 42.0): 1, ("CY", 10.0): 1})


TOTALS = """
[[pipelines.orders.datasets]]
name = "totals"
kind = "materialized_view"
func = "totals"
source = "orders"
expectations = [{ name = "some_orders", constraint = "orders > 1", action = "allow" }]
"""


def test_a_small_materialized_view_is_written_from_the_driver_and_a_big_one_by_spark_tasks(
    spark, orders_project, capsys, caplog, monkeypatch,
):
    """Which writer a materialized view gets follows Spark's estimate of its plan; the rows and the
    expectation counts in the event log are the same either way."""
    from lakeport_delta.embedded import ops

    folder, land = orders_project
    (folder / "lakeport.toml").write_text((folder / "lakeport.toml").read_text() + TOTALS)
    (folder / "jobs.py").write_text(textwrap.dedent(JOBS) + textwrap.dedent('''

        def totals(df):
            return df.agg(F.count("*").alias("orders"), F.sum("amount").alias("amount"))
        '''))
    # between a one-row aggregate's estimate (tens of bytes) and a grouped one over the table's files
    monkeypatch.setattr(ops, "DRIVER_ESTIMATE_BYTES", 200)
    land("1.json", [{"id": 1, "customer": "ada", "amount": 12.0}, {"id": 2, "customer": "bob", "amount": -1.0},
                    {"id": 3, "customer": None, "amount": 15.0}, {"id": 4, "customer": "ada", "amount": 30.0}])

    with caplog.at_level("DEBUG", logger="lakeport_delta.embedded.ops"):
        assert main(["-vv", "run", "orders", "-c", str(folder / "lakeport.toml")]) == 0
    out = capsys.readouterr().out
    from_driver = {Path(m.split("'")[1]).name for m in (r.getMessage() for r in caplog.records)
                   if "written from the driver" in m}
    assert "totals" in from_driver and "revenue" not in from_driver, from_driver
    assert "totals -> totals (materialized_view), 1 rows in, 1 written, 0 failed some_orders" in out
    assert "revenue -> revenue (materialized_view), 2 rows in, 2 written" in out
    warehouse = folder / "spark-warehouse" / "sales"
    assert delta_rows(warehouse / "totals", "orders", "amount") == Counter({(3, 57.0): 1})
    assert delta_rows(warehouse / "revenue", "customer", "total") == Counter({("ADA", 42.0): 1, (None, 15.0): 1})
    log = {e["flow"]: e for e in DeltaTable(str(warehouse / "_event_log")).to_pyarrow_table().to_pylist()}
    assert sorted((e["flow"], e["status"], e["rows_in"], e["rows_written"]) for e in log.values()) == [
        ("orders", "completed", 4, 3), ("revenue", "completed", 2, 2), ("totals", "completed", 1, 1)]
    assert [(x["name"], x["passed"], x["failed"]) for x in log["totals"]["expectations"]] == [("some_orders", 1, 0)]
    assert sorted((x["name"], x["passed"], x["failed"]) for x in log["orders"]["expectations"]) == [
        ("has_customer", 3, 1), ("positive", 3, 1)]


def test_an_expectation_that_fails_stops_the_run_and_leaves_the_table_as_it_was(spark, orders_project, capsys):
    folder, land = orders_project
    land("1.json", [{"id": 1, "customer": "ada", "amount": 12.0}])
    assert main(["run", "orders", "-c", str(folder / "lakeport.toml")]) == 0
    version = DeltaTable(str(folder / "spark-warehouse" / "sales" / "orders")).version()
    text = (folder / "lakeport.toml").read_text().replace('constraint = "customer IS NOT NULL" }',
                                                         'constraint = "customer IS NOT NULL", action = "fail" }')
    (folder / "lakeport.toml").write_text(text)
    land("2.json", [{"id": 2, "customer": None, "amount": 3.0}])
    assert main(["run", "orders", "-c", str(folder / "lakeport.toml")]) == 1
    err = capsys.readouterr().err
    assert "has_customer" in err and "Traceback" not in err
    assert DeltaTable(str(folder / "spark-warehouse" / "sales" / "orders")).version() == version
    log = DeltaTable(str(folder / "spark-warehouse" / "sales" / "_event_log")).to_pyarrow_table().to_pylist()
    failed = [e for e in log if e["status"] == "failed"]
    assert [e["flow"] for e in failed] == ["orders"] and "has_customer" in failed[0]["error"]


def test_a_missing_function_names_the_dataset_key(spark, orders_project, capsys):
    folder, land = orders_project
    (folder / "jobs.py").write_text(textwrap.dedent(JOBS).replace("def big(", "def large("))
    assert main(["run", "orders", "-c", str(folder / "lakeport.toml")]) == 2
    assert "pipelines.orders.datasets[1].func: 'jobs.py' has no function 'big'" in capsys.readouterr().err


def test_full_refresh_of_chosen_datasets_resets_only_their_tables_and_checkpoints(spark, orders_project, capsys):
    folder, land = orders_project
    text = (folder / "lakeport.toml").read_text()
    text = text.replace('name = "big_orders"', 'name = "audit"\nkind = "streaming_table"\nfunc = "clean"\nsource = "raw_orders"\n'
                        '\n[[pipelines.orders.datasets]]\nname = "big_orders"')
    (folder / "lakeport.toml").write_text(text)
    command = ["dlt", "run-local", "orders", "-c", str(folder / "lakeport.toml")]
    land("1.json", [{"id": 1, "customer": "ada", "amount": 12.0}])
    assert main(command) == 0
    capsys.readouterr()

    # the code changes; a full refresh of orders alone recomputes it from all input, audit keeps its rows
    (folder / "jobs.py").write_text(textwrap.dedent(JOBS).replace('F.upper("customer")', 'F.initcap("customer")'))
    sys.modules.pop("jobs", None)
    land("2.json", [{"id": 2, "customer": "bob", "amount": 3.0}])
    assert main([*command, "--full-refresh", "orders"]) == 0
    out = capsys.readouterr().out
    assert "orders -> orders (streaming table), 2 rows in, 2 written, 0 dropped by positive, 0 failed has_customer, version 0" in out
    assert "audit -> audit (streaming table), 1 rows in, 1 written" in out
    warehouse = folder / "spark-warehouse" / "sales"
    assert delta_rows(warehouse / "orders", "id", "customer") == Counter({(1, "Ada"): 1, (2, "Bob"): 1})
    assert delta_rows(warehouse / "audit", "id", "customer") == Counter({(1, "ADA"): 1, (2, "Bob"): 1})

    assert main([*command, "--full-refresh", "orders,nope"]) == 2
    assert "--full-refresh: 'nope' is not a dataset of pipeline 'orders' (its tables: audit, orders, revenue)" in capsys.readouterr().err
    assert main([*command, "--full-refresh", "big_orders"]) == 2
    assert "'big_orders' is a view of pipeline 'orders'" in capsys.readouterr().err
    assert delta_rows(warehouse / "orders", "id") == Counter({(1,): 1, (2,): 1})  # a refused refresh removes nothing
