"""A 5-dataset dlt pipeline on 1M rows: ``lakeport run`` next to the same job by hand, and under ``spark-pipelines``.

The pipeline (2 views, 2 materialized views, 1 streaming table, 5 expectations)
over a parquet file of 1,000,000 generated events, read as a lakeport table of
kind ``files``:

- ``events``: streaming table, ``clean`` (upper-case country, an EUR column);
  expectations ``valid_id`` (drop), ``positive_amount`` (drop), ``has_country`` (allow);
- ``valid_events`` (view, amount < 900) -> ``by_country`` (materialized view,
  count and sum per country; ``has_events``, allow);
- ``big_events`` (view, amount >= 500) -> ``top_customers`` (materialized view,
  count and max per customer; ``known_customer``, drop).

Sides, each a fresh process per round:

- **lakeport**: ``lakeport run bench`` on the embedded Delta backend (each
  persisted dataset a Delta table, the streaming table through foreachBatch
  with a checkpoint, expectations through lakeport's one-pass engine).
- **by hand**: the same computation written in PySpark on the same backend, the
  way a person would without lakeport: ``spark.read.parquet``, the same
  functions, expectation counts with ``DataFrame.observe`` in the same pass,
  ``df.toArrow()`` into delta-rs ``write_deltalake``, the Delta table read back
  as its parquet files. Goal: lakeport / by hand, after Spark start, <= 1.3x.
- **spark-pipelines**: the same pipeline without expectations
  (``bench_plain``), rendered with ``lakeport dlt render --api pipelines
  --spec`` and run by Apache Spark's ``spark-pipelines run`` (Spark Connect,
  parquet tables). Its "after Spark start" is from "Creating dataflow graph" to
  "Run is COMPLETED" in its log (1 s resolution). Goal: lakeport faster.

The sides check each other: lakeport's and the hand-written tables have the
same row counts, and the expectation counts agree.

Measured on the shared 2-core machine (2 rounds, median; seconds after Spark
start / whole process): lakeport 25.0 / 35.4, by hand 13.3 / 23.0 (1.89x /
1.54x: the 1.3x goal is missed), spark-pipelines without expectations 16.0 /
30.8 (lakeport 1.56x / 1.15x: not faster). Where lakeport's seconds go (one
instrumented run): the streaming table's single micro-batch of 1M rows is
~15.5 s inside the Delta handle's write (more than 10,000 rows, so Spark's
Python data source writer: a planner, one writer task in a Python worker over
one input partition, a committer; after the 10,001-row look that decides
against the driver-side write), the streaming query's start ~2.3 s, the two
materialized views 2-4 s (each a Spark write job through the Python data
source, where the hand side writes 21 and 1,000 rows with delta-rs in the
driver), the event log append ~2 s (also a Python data source write job).
The hand-written side reads the whole input with Spark's parquet reader and
hands it to delta-rs as Arrow in the driver.

On a quiet machine (2026-12-03, one round): lakeport 14.4 s, by hand 7.6 s,
spark-pipelines 11.0 s (1.88x and 1.31x). The streaming table's micro-batch is
now written from the driver when its Arrow data fits 64 MiB (the flow: 11.3 s ->
7.7 s), but the session's first Spark write job through the Python data source
(~3.5 s of Python processes starting) then falls on the first materialized view
(1.1 s -> 4.6 s), so the whole stays at 16-17 s: 2.0x. What is left is that one
warm-up and the event log's write job; the materialized views' small results
would need the driver-side write for batch writes too, which costs a second
evaluation of any DataFrame that turns out big.

2026-12-04, on the shared machine while another session's test suite ran (load
average 1-4; 2 rounds each, medians, main and this branch back to back): before,
lakeport 23.3 s, by hand 13.9 s, spark-pipelines 19.5 s (1.67x and 1.19x); after,
lakeport 15.2 s, by hand 12.8 s, spark-pipelines 12.5 s (1.19x: the 1.3x goal is
met; 1.22x against spark-pipelines: not faster). A second pair, one round each and
the machine busier (load 3-5): before 32.3 / 20.3 / 19.0 s (1.59x, 1.70x), after
15.7 / 15.1 / 20.0 s (1.04x, 0.79x). Against spark-pipelines the ratio moves with
the load (its log has 1 s resolution): 0.8-1.2x. What changed: any append or
overwrite on the embedded backend whose optimized plan Spark estimates at most
32 MiB (``sizeInBytes`` of the plan's statistics: no job, ~0.05 s) is collected in
one pass and committed from the driver, so the materialized views (estimated ~8 MB
each: a grouped aggregate is scaled from its input) run no Spark write job; the
event log is built from Arrow, a LocalRelation that Spark sizes exactly (720
bytes), and takes the same path; the micro-batch (1M rows, estimated 13.7 MB) is
collected once instead of two looks; a batch read no longer registers the Python
data source it does not use (~1 s). No Python data source process starts in the
whole run. Where lakeport's seconds go now (one instrumented run, load ~3): the
streaming table 6.9 s (the files stream read 0.8 s, the query's start 0.3 s and
1.1 s to its first batch, expectations' analysis 0.3 s, the batch's collect 4.7 s,
which is the session's first job: warm, the same collect takes 0.7-1.3 s, and the
hand-written side pays that warm-up too; the driver-side write 0.3 s), the
materialized views 1.5 s and 0.7 s (their aggregates' collects), the event log
0.3 s. What is left against spark-pipelines is mostly that the streaming table's
rows travel to Python as Arrow (Spark Connect writes its parquet in the JVM) and
the streaming query's own start.

On a quiet machine with all of that (2026-12-04 20:37, load average 1.8-2.2, the
merged main; 2 rounds, medians after Spark start): lakeport 10.70 s, by hand 9.70 s,
spark-pipelines 13.50 s: **1.10x** (goal <= 1.3x: met) and **0.79x** against
spark-pipelines (goal: faster: met); whole process 18.6 / 17.3 / 26.2 s (1.08x, 0.71x).
The streaming table's flow took 8.6 s of lakeport's 10.7, the two materialized views
1.2 s and 0.6 s.

    python bench/bench_dlt.py [--rows 1000000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

SIDES = ("lakeport", "by_hand", "spark_pipelines")
RULES = {
    "events": [("valid_id", "id IS NOT NULL", "drop"), ("positive_amount", "amount > 0", "drop"),
               ("has_country", "country IS NOT NULL", "allow")],
    "by_country": [("has_events", "events > 0", "allow")],
    "top_customers": [("known_customer", "customer IS NOT NULL", "drop")],
}
# (name, kind, func, source); the same for the pipeline with and without expectations
DATASETS = [
    ("events", "streaming_table", "clean", "raw_events"),
    ("valid_events", "view", "valid", "events"),
    ("by_country", "materialized_view", "by_country", "valid_events"),
    ("big_events", "view", "big", "events"),
    ("top_customers", "materialized_view", "top_customers", "big_events"),
]
OUTPUTS = ("events", "by_country", "top_customers")

JOBS = '''
from pyspark.sql import functions as F


def clean(df):
    return df.withColumn("country", F.upper("country")).withColumn("amount_eur", F.round(F.col("amount") * 0.9, 2))


def valid(df):
    return df.where("amount < 900")


def by_country(df):
    return df.groupBy("country").agg(F.count("*").alias("events"), F.sum("amount").alias("total"))


def big(df):
    return df.where("amount >= 500")


def top_customers(df):
    return df.groupBy("customer").agg(F.count("*").alias("events"), F.max("amount").alias("largest"))
'''


def project_text(data: Path) -> str:
    lines = [
        "[lakeport]",
        'spark_conf = { "spark.sql.shuffle.partitions" = "4" }',
        "",
        "[tables.raw_events]",
        'kind = "files"',
        'format = "parquet"',
        f'path = "{data}"',
        # declared: spark-pipelines forbids the schema inference of a stream read inside a query function
        'schema = "id BIGINT, customer STRING, country STRING, amount DOUBLE"',
    ]
    for pipeline, with_rules in (("bench", True), ("bench_plain", False)):
        lines += ["", f"[pipelines.{pipeline}]", 'kind = "dlt"', 'code = "bench_jobs.py"', 'target_schema = "bench"']
        for name, kind, func, source in DATASETS:
            lines += ["", f"[[pipelines.{pipeline}.datasets]]", f'name = "{name}"', f'kind = "{kind}"',
                      f'func = "{func}"', f'source = "{source}"']
            rules = RULES.get(name, []) if with_rules else []
            if rules:
                items = ", ".join(f'{{ name = "{n}", constraint = "{c}", action = "{a}" }}' for n, c, a in rules)
                lines.append(f"expectations = [{items}]")
    return "\n".join(lines) + "\n"


def make_data(path: Path, rows: int) -> None:
    """1M events: ids (0.1% null), 1,000 customers (1% null), 20 countries (2% null), amounts -50..1000."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(7)
    ids = pa.array(np.arange(rows, dtype=np.int64), mask=rng.random(rows) < 0.001)
    customers = pa.array([f"c{n}" for n in rng.integers(0, 1000, rows)], mask=rng.random(rows) < 0.01)
    names = np.array(["no", "se", "dk", "fi", "de", "fr", "it", "es", "pt", "nl",
                      "be", "at", "ch", "pl", "cz", "ie", "uk", "us", "ca", "jp"])
    countries = pa.array(names[rng.integers(0, 20, rows)], mask=rng.random(rows) < 0.02)
    amounts = pa.array(np.round(rng.uniform(-50, 1000, rows), 2))
    path.mkdir(parents=True)
    table = pa.table({"id": ids, "customer": customers, "country": countries, "amount": amounts})
    pq.write_table(table, path / "events.parquet", row_group_size=250_000)


# -- the children -------------------------------------------------------------------------
def run_lakeport(folder: Path) -> dict:
    from lakeport import Project
    from lakeport.cli import main as lakeport

    project_file = folder / "lakeport.toml"
    spark = Project.from_file(project_file).spark()  # what the CLI would start, with the same settings
    started = time.perf_counter()
    code = lakeport(["run", "bench", "-c", str(project_file)])
    seconds = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"lakeport run failed with exit code {code}")
    from deltalake import DeltaTable

    counts = {name: DeltaTable(str(folder / "spark-warehouse" / "bench" / name)).count() for name in OUTPUTS}
    log = DeltaTable(str(folder / "spark-warehouse" / "bench" / "_event_log")).to_pyarrow_table().to_pylist()
    failed = {rule["name"]: rule["failed"] for row in log for rule in row["expectations"]}
    spark.stop()
    return {"after_spark": seconds, "counts": counts, "failed": failed}


def hand_session():
    """The settings lakeport's local session has (UI off, 4 shuffle partitions, 2 GB driver)."""
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master("local[*]")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.memory", "2g")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )


def run_by_hand(folder: Path, data: Path) -> dict:
    from deltalake import DeltaTable, write_deltalake
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    sys.path.insert(0, str(folder))
    import bench_jobs as jobs

    spark = hand_session()
    spark.sparkContext.setLogLevel("ERROR")
    started = time.perf_counter()
    failed: dict[str, int] = {}

    def checked(df, dataset):
        """The rules' failed counts in the same pass (observe); drop rules filter."""
        rules = RULES[dataset]
        observation = Observation(dataset)
        df = df.observe(observation, *[F.sum(F.when(F.coalesce(F.expr(c), F.lit(False)), 0).otherwise(1)).alias(n)
                                       for n, c, _ in rules])
        for _, constraint, action in rules:
            if action == "drop":
                df = df.where(F.coalesce(F.expr(constraint), F.lit(False)))
        return df, observation

    def write(df, dataset, mode):
        df, observation = checked(df, dataset)
        write_deltalake(str(folder / "out" / dataset), df.toArrow(), mode=mode)
        failed.update({k: int(v or 0) for k, v in observation.get.items()})

    def read(dataset):
        return spark.read.parquet(*DeltaTable(str(folder / "out" / dataset)).file_uris())

    write(jobs.clean(spark.read.parquet(str(data))), "events", "append")
    events = read("events")
    write(jobs.by_country(jobs.valid(events)), "by_country", "overwrite")
    write(jobs.top_customers(jobs.big(events)), "top_customers", "overwrite")
    seconds = time.perf_counter() - started
    counts = {name: DeltaTable(str(folder / "out" / name)).count() for name in OUTPUTS}
    spark.stop()
    return {"after_spark": seconds, "counts": counts, "failed": failed}


def child(side: str, folder: Path, data: Path) -> None:
    result = run_lakeport(folder) if side == "lakeport" else run_by_hand(folder, data)
    print("BENCH " + json.dumps(result), flush=True)


# -- the parent ---------------------------------------------------------------------------
def fresh_project(work: Path, side: str, data: Path) -> Path:
    folder = work / f"{side}-{time.monotonic_ns()}"
    folder.mkdir()
    (folder / "lakeport.toml").write_text(project_text(data))
    (folder / "bench_jobs.py").write_text(textwrap.dedent(JOBS))
    return folder


def run_spark_pipelines(folder: Path) -> dict:
    """Render ``bench_plain`` for spark-pipelines and run it; the seconds its log gives after Spark started."""
    from lakeport.cli import main as lakeport

    with contextlib.redirect_stdout(io.StringIO()):  # its "wrote ..." lines
        code = lakeport(["dlt", "render", "bench_plain", "-c", str(folder / "lakeport.toml"), "--api", "pipelines",
                         "--spec", "-o", str(folder / "sdp")])
    if code != 0:
        raise SystemExit("render failed")
    python = Path(sys.executable)
    env = {**os.environ, "PYSPARK_PYTHON": str(python), "PYSPARK_DRIVER_PYTHON": str(python),
           "PYTHONPATH": os.pathsep.join(p for p in [str(folder), os.environ.get("PYTHONPATH", "")] if p)}
    command = [str(python.parent / "spark-pipelines"), "run", "--spec", str(folder / "sdp" / "spark-pipeline.yml"),
               "--driver-memory", "2g", "--conf", f"spark.sql.warehouse.dir={folder / 'sdp-warehouse'}",
               "--conf", "spark.sql.shuffle.partitions=4", "--conf", "spark.ui.enabled=false",
               "--conf", "spark.ui.showConsoleProgress=false"]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=folder, capture_output=True, text=True)
    whole = time.perf_counter() - started
    output = done.stdout + done.stderr
    if done.returncode != 0 or "Run is COMPLETED" not in output:
        sys.stderr.write(output[-5000:])
        raise SystemExit(f"spark-pipelines: exit code {done.returncode}")

    def stamp(text: str) -> dt.datetime:
        found = re.search(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d): " + re.escape(text), output, re.MULTILINE)
        assert found is not None, text
        return dt.datetime.fromisoformat(found.group(1))

    after = (stamp("Run is COMPLETED") - stamp("Creating dataflow graph")).total_seconds()
    return {"whole": whole, "after_spark": after}


def measure(side: str, work: Path, data: Path) -> dict:
    folder = fresh_project(work, side, data)
    try:
        if side == "spark_pipelines":
            return run_spark_pipelines(folder)
        env = {**os.environ, "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", sys.executable)}
        started = time.perf_counter()
        done = subprocess.run([sys.executable, __file__, "--child", side, "--folder", str(folder), "--data", str(data)],
                              env=env, capture_output=True, text=True)
        whole = time.perf_counter() - started
        if done.returncode != 0:
            sys.stderr.write(done.stdout[-5000:] + done.stderr[-5000:])
            raise SystemExit(f"{side}: exit code {done.returncode}")
        line = next(x for x in done.stdout.splitlines() if x.startswith("BENCH "))
        flows = [x for x in done.stdout.splitlines() if " -> " in x]  # lakeport's line per flow
        return {"whole": whole, "flows": flows, **json.loads(line[len("BENCH "):])}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--child", choices=SIDES[:2])
    parser.add_argument("--folder", type=Path)
    parser.add_argument("--data", type=Path)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.folder, args.data)
        return
    work = Path(tempfile.mkdtemp(prefix="bench-dlt-"))
    try:
        data = work / "raw_events"
        make_data(data, args.rows)
        runs: dict[str, list[dict]] = {side: [] for side in SIDES}
        for index in range(args.rounds):
            order = SIDES if index % 2 == 0 else tuple(reversed(SIDES))  # alternate: no side always runs first
            for side in order:
                result = measure(side, work, data)
                runs[side].append(result)
                print(f"round {index + 1} {side:16} whole {result['whole']:6.1f} s   after Spark start "
                      f"{result['after_spark']:6.2f} s", flush=True)
                for flow in result.get("flows", []):
                    print(f"    {flow}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    lakeport, by_hand = runs["lakeport"][0], runs["by_hand"][0]
    if lakeport["counts"] != by_hand["counts"] or lakeport["failed"] != by_hand["failed"]:
        raise SystemExit(f"the sides disagree: lakeport {lakeport['counts']} {lakeport['failed']}, "
                         f"by hand {by_hand['counts']} {by_hand['failed']}")
    print(f"\nrows {lakeport['counts']}; failed per rule {lakeport['failed']} (the same on both sides)\n")

    def stat(side: str, key: str, how) -> float:
        return how([r[key] for r in runs[side]])

    print(f"{'':18}{'whole min':>10}{'median':>8}{'after Spark min':>17}{'median':>8}")
    for side in SIDES:
        print(f"{side:18}{stat(side, 'whole', min):10.1f}{stat(side, 'whole', statistics.median):8.1f}"
              f"{stat(side, 'after_spark', min):17.2f}{stat(side, 'after_spark', statistics.median):8.2f}")
    for against, goal in (("by_hand", " (goal <= 1.3x)"), ("spark_pipelines", " (goal < 1x)")):
        for key, label in (("after_spark", "after Spark start"), ("whole", "whole process")):
            ratio = stat("lakeport", key, statistics.median) / stat(against, key, statistics.median)
            print(f"ratio lakeport/{against} {label} (median): {ratio:.2f}x" + (goal if key == "after_spark" else ""))


if __name__ == "__main__":
    main()
