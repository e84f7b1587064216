"""`lakeport dlt run-local code.py`: unchanged `import dlt` / `pyspark.pipelines` code, and our rendered source, run locally."""

from __future__ import annotations

import json
import re
import shutil
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest
from deltalake import DeltaTable

from lakeport.cli import main

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def delta_rows(path: Path, *columns: str) -> Counter:
    table = DeltaTable(str(path)).to_pyarrow_table(columns=list(columns)).to_pylist()
    return Counter(tuple(row[c] for c in columns) for row in table)


DATABRICKS_DOCS_STYLE = '''
import dlt
from pyspark.sql.functions import col, upper


@dlt.view
def raw_orders():
    landing = spark.conf.get("orders.landing")
    return spark.readStream.format("json").schema("id BIGINT, customer STRING, amount DOUBLE").load(landing)


@dlt.table(comment="Orders with a customer, in upper case")
@dlt.expect_or_drop("positive", "amount > 0")
@dlt.expect("has_customer", "customer IS NOT NULL")
def orders():
    return dlt.read_stream("raw_orders").withColumn("customer", upper(col("customer")))


@dlt.table
def revenue():
    return spark.read.table("orders").groupBy("customer").sum("amount").withColumnRenamed("sum(amount)", "total")
'''


def land(folder: Path, name: str, rows: list[dict]) -> None:
    folder.mkdir(exist_ok=True)
    (folder / name).write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_code_written_against_import_dlt_runs_unchanged_and_incrementally(spark, tmp_path, capsys):
    code = tmp_path / "orders_pipeline.py"
    code.write_text(textwrap.dedent(DATABRICKS_DOCS_STYLE))
    landing = tmp_path / "landing"
    land(landing, "1.json", [{"id": 1, "customer": "ada", "amount": 12.0}, {"id": 2, "customer": "bob", "amount": -1.0}])
    command = ["dlt", "run-local", str(code), "--conf", f"orders.landing={landing}", "--schema", "sales",
               "--warehouse", str(tmp_path / "wh")]
    assert main(command) == 0
    out = capsys.readouterr().out
    assert "orders -> orders (streaming table), 2 rows in, 1 written, 1 dropped by positive, 0 failed has_customer" in out
    table = [re.split(r"\s{2,}", line.strip()) for line in out.splitlines()[out.splitlines().index("") + 1:]]
    assert [row[:6] + row[7:] for row in table] == [  # the summary table after the lines; seconds vary
        ["flow", "dataset", "kind", "rows in", "written", "dropped", "failed expectations"],
        ["orders", "orders", "streaming table", "2", "1", "1", "positive: 1"],
        ["revenue", "revenue", "materialized view", "1", "1", "0", "-"],
    ]
    assert delta_rows(tmp_path / "wh" / "sales" / "orders", "id", "customer") == Counter({(1, "ADA"): 1})
    assert delta_rows(tmp_path / "wh" / "sales" / "revenue", "customer", "total") == Counter({("ADA", 12.0): 1})
    assert "dlt" not in sys.modules  # the stand-in modules are gone after the run

    land(landing, "2.json", [{"id": 3, "customer": "ada", "amount": 30.0}])
    assert main(command) == 0
    assert "orders -> orders (streaming table), 1 rows in, 1 written" in capsys.readouterr().out
    assert delta_rows(tmp_path / "wh" / "sales" / "revenue", "customer", "total") == Counter({("ADA", 42.0): 1})


@pytest.mark.parametrize("api", ["dlt", "pipelines"])
def test_the_rendered_seed_pipeline_run_locally_gives_the_direct_runs_table(spark, tmp_path, monkeypatch, capsys, api):
    folder = tmp_path / "streaming_append"
    shutil.copytree(EXAMPLES / "streaming_append", folder, ignore=shutil.ignore_patterns("spark-warehouse", "__pycache__"))
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, "streaming_append", raising=False)
    project_file = str(folder / "lakeport.toml")

    assert main(["run", "streaming_append", "-c", project_file]) == 0
    direct = delta_rows(folder / "spark-warehouse" / "queue_example" / "append_table_name", "name", "age", "gender")
    direct_line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("queue_example -> "))

    assert main(["dlt", "render", "streaming_append", "-c", project_file, "--api", api, "-o", str(folder / "rendered")]) == 0
    capsys.readouterr()
    rendered = folder / "rendered" / "streaming_append_pipeline.py"
    assert main(["dlt", "run-local", str(rendered), "-c", project_file, "--schema", "rendered",
                 "--warehouse", str(tmp_path / "wh")]) == 0
    out = capsys.readouterr().out
    via_render = delta_rows(tmp_path / "wh" / "rendered" / "append_table_name", "name", "age", "gender")
    assert via_render == direct and sum(direct.values()) > 0
    counts = direct_line.split(", ")[1:4]  # "1000 rows in", "<n> written", "<m> dropped by check_age"
    assert f"queue_example -> append_table_name (append flow), {', '.join(counts)}" in out
