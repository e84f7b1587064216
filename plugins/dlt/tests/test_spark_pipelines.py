"""The rendered `dp` source under Apache Spark's own `spark-pipelines run`: the same rows as `lakeport run`.

Spark's engine is an independent check of the renderer. Its tables are parquet in
its warehouse's default database (`WAREHOUSE/<name>`), read here with pyarrow;
lakeport's are Delta. One spark-pipelines run (its own JVMs, ~30 s) for the module.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from lakeport.cli import main

PIPELINE = """
[tables.raw_orders]
kind = "files"
format = "json"
path = "{project_dir}/landing"
schema = "id BIGINT, customer STRING, amount DOUBLE"

[pipelines.orders]
kind = "dlt"
code = "order_jobs.py"
target_schema = "sales"

[[pipelines.orders.datasets]]
name = "orders"
kind = "streaming_table"
func = "clean"
source = "raw_orders"

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
    return df.where("amount > 0").withColumn("customer", F.upper("customer"))


def big(df):
    return df.where("amount >= 10")


def revenue(df):
    return df.groupBy("customer").agg(F.sum("amount").alias("total"), F.count("*").alias("orders"))
'''

ROWS = [
    {"id": 1, "customer": "ada", "amount": 12.0}, {"id": 2, "customer": "bob", "amount": -1.0},
    {"id": 3, "customer": "ada", "amount": 30.0}, {"id": 4, "customer": "cy", "amount": 5.0},
    {"id": 5, "customer": "cy", "amount": 10.0}, {"id": 6, "customer": None, "amount": 20.0},
]
ORDERS = Counter({(1, "ADA", 12.0): 1, (3, "ADA", 30.0): 1, (4, "CY", 5.0): 1, (5, "CY", 10.0): 1, (6, None, 20.0): 1})
REVENUE = Counter({("ADA", 42.0, 2): 1, ("CY", 10.0, 1): 1, (None, 20.0, 1): 1})


def rows(table, *columns: str) -> Counter:
    return Counter(tuple(row[c] for c in columns) for row in table.select(list(columns)).to_pylist())


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "lakeport.toml").write_text(textwrap.dedent(PIPELINE))
    (tmp_path / "order_jobs.py").write_text(textwrap.dedent(JOBS))
    (tmp_path / "landing").mkdir()
    (tmp_path / "landing" / "1.json").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    monkeypatch.delitem(sys.modules, "order_jobs", raising=False)
    yield tmp_path
    sys.modules.pop("order_jobs", None)


def test_render_spec_writes_a_spark_pipelines_spec_beside_the_source(project, capsys):
    out = project / "sdp"
    assert main(["dlt", "render", "orders", "-c", str(project / "lakeport.toml"), "--api", "pipelines", "--spec",
                 "-o", str(out), "--env", "default"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"wrote {out / 'orders_pipeline.py'}", f"wrote {out / 'spark-pipeline.yml'}"]
    storage = (project / "spark-warehouse" / "_spark_pipelines" / "orders").as_uri()
    assert (out / "spark-pipeline.yml").read_text() == textwrap.dedent(f"""\
        # `spark-pipelines run --spec spark-pipeline.yml --conf spark.sql.warehouse.dir=DIR`, with the user code on PYTHONPATH
        name: "orders"
        storage: "{storage}"
        configuration:
          "lakeport.env": "default"
          "lakeport.project_file": "{project / 'lakeport.toml'}"
        libraries:
          - glob:
              include: "orders_pipeline.py"
        """)


def test_render_spec_needs_the_pipelines_api_and_a_folder(project, capsys):
    assert main(["dlt", "render", "orders", "-c", str(project / "lakeport.toml"), "--spec", "-o", str(project)]) == 2
    assert "render --spec" in capsys.readouterr().err and not (project / "spark-pipeline.yml").exists()


def test_spark_pipelines_run_of_the_rendered_source_gives_the_rows_of_lakeport_run(spark, project, capsys):
    project_file = str(project / "lakeport.toml")
    assert main(["run", "orders", "-c", project_file]) == 0
    lakeport_wh = project / "spark-warehouse" / "sales"
    assert rows(DeltaTable(str(lakeport_wh / "orders")).to_pyarrow_table(), "id", "customer", "amount") == ORDERS
    assert rows(DeltaTable(str(lakeport_wh / "revenue")).to_pyarrow_table(), "customer", "total", "orders") == REVENUE

    assert main(["dlt", "render", "orders", "-c", project_file, "--api", "pipelines", "--spec", "-o", str(project / "sdp")]) == 0
    capsys.readouterr()
    warehouse = project / "sdp-warehouse"
    python = Path(sys.executable)
    # SPARK_TESTING: the local Connect server on an ephemeral port (port 0), which the client then
    # asks for; without it both sides use 15002, and a second run on the machine would collide
    env = {**os.environ, "PYSPARK_PYTHON": str(python), "PYSPARK_DRIVER_PYTHON": str(python), "SPARK_TESTING": "1",
           "PYTHONPATH": os.pathsep.join([str(project), os.environ.get("PYTHONPATH", "")])}
    command = [str(python.parent / "spark-pipelines"), "run", "--spec", str(project / "sdp" / "spark-pipeline.yml"),
               "--conf", f"spark.sql.warehouse.dir={warehouse}", "--conf", "spark.connect.grpc.binding.port=0",
               "--conf", "spark.sql.shuffle.partitions=2"]
    with subprocess.Popen(command, env=env, cwd=project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          start_new_session=True) as process:
        try:
            output, _ = process.communicate(timeout=300)
        finally:  # its Python client and Connect server are grandchildren: end the whole group
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 0 and "Run is COMPLETED" in output, output[-4000:]

    tables = warehouse
    assert rows(pq.read_table(tables / "orders"), "id", "customer", "amount") == ORDERS
    assert rows(pq.read_table(tables / "revenue"), "customer", "total", "orders") == REVENUE
    assert sorted(p.name for p in tables.iterdir()) == ["orders", "revenue"]  # the view is not persisted, as in lakeport
