"""The README demo (``lakeport run queue_example``) next to the same job written by hand.

Both sides, each in its own fresh Python process, per round:

- **lakeport**: ``examples/streaming_append`` copied to a fresh folder, then
  ``lakeport.cli.main(["run", "queue_example", ...])``: 1,000 generated people
  through a ``queue.Queue`` (queue plugin), the cast transform, the
  ``check_age`` expectation (drop), an exactly-once embedded-Delta append
  through the foreachBatch plugin's StreamLoader.
- **by hand**: the same 1,000 people through ``spark.createDataFrame`` (a list
  of namedtuples), the same cast and filter, ``df.toArrow()`` and a delta-rs
  ``write_deltalake`` append.
- **by hand, Arrow** (printed as well): the same, but the people go to Spark as
  a ``pyarrow.Table`` (``createDataFrame(table)``), which needs no Python worker.

Measured: the whole process (parent's wall clock around the child: interpreter,
imports, Spark start, the job, ``spark.stop()``, exit) and, inside the child,
the job after Spark has started (the lakeport child starts Spark first with the
project's own settings, ``project.spark()``, which the CLI then reuses).
Goal: lakeport / by hand after Spark start at most 1.3x.

Where the time goes (timestamps in the processes plus a log of every Python
process Spark starts, via a ``PYSPARK_PYTHON`` wrapper; a 2-core machine shared
with other Spark jobs, so seconds are loaded-machine seconds):

- Both sides first pay Spark's own warm-up after ``getOrCreate()``: the session
  state is built lazily on the first SQL use (by hand in ``createDataFrame``,
  3.0-3.4 s; lakeport in ``spark.dataSource.register``, 2.9 s), the first
  analysis of the cast (0.6-1.0 s), and the first Spark job (toArrow: 2.9 s
  for the Arrow input).
- By hand, rows: ``createDataFrame(list)`` ships pickled rows, so the job
  starts a Python worker (``pyspark.daemon`` + fork, imports pyspark, pyarrow,
  numpy): toArrow 7.6 s against 2.9 s with a ``pyarrow.Table`` input, which
  needs no Python worker. ``write_deltalake`` of 442 rows: 0.1-0.2 s.
- lakeport, before: 6 Python processes, each 2-5 s here (~1 s of imports on a
  quiet machine): ``create_data_source`` (query start), the streaming source
  runner, ``plan_data_source_read`` (the batch's read function), and for the
  one micro-batch the Delta writer's ``write_into_data_source`` planner, the
  executor ``pyspark.worker`` (reading the queue partition and writing
  parquet) and ``commit_data_source_write``. The micro-batch took 12.5-14 s
  for 1,000 rows; the query start-up (source, runner, first planning) ~10 s.
- lakeport, now: the queue's batches of one partition are prefetched by the
  source runner and kept by Spark as Arrow (no worker reads them), and the
  Delta append of a micro-batch of <= 10,000 rows is collected as Arrow and
  written and committed by delta-rs in the driver, like the hand-written job:
  3 Python processes, all Spark's price for a Python streaming source; the
  micro-batch takes 2.7-3.2 s (the session's first Spark job, like the hand
  side's toArrow). Those processes also no longer import ``http.server``,
  ``email`` and ``ssl`` with the source (139 ms -> 4 ms each). What is left
  above the hand-written job: the query start (checkpoint, ``writer.start``,
  ~1 s), the source's two processes at start (~2-4 s) and the first batch's
  planning with ``plan_data_source_read`` (~3-7 s).

Measured on that loaded machine (3 rounds, min / median, after Spark start):
before, lakeport 35.5 s against 13.7 s by hand (2.6x, one round); now lakeport
18.7 / 19.0 s, by hand 7.3 / 10.8 s, by hand with Arrow 7.1 / 8.8 s (1.75x
median against rows by hand; not yet the 1.3x goal: the three Python
processes of a Python streaming source cost more the busier the machine is).

On a quieter machine (2026-12-03, load average ~2, min / median of 3 rounds):
lakeport 6.25 / 6.47 s after Spark start, by hand 3.07 / 3.12 s, by hand with
Arrow 2.18 / 2.21 s: **2.03x** (goal 1.3x, not met); whole process 12.8 / 13.1 s
against 9.7 / 11.4 s (1.32x / 1.15x). A profile of the lakeport side (5.1 s in
that run): registering the Python data source 0.8 s (JVM side), the cast's
analysis 0.3 s, and 3.6 s in the query, of which the micro-batch (Arrow to the
driver, delta-rs write and commit) is 0.5-1.0 s and the rest is the source's
Python processes, each a fresh interpreter importing pyspark: the source
(``create_data_source``, 0.7 s), the source runner (1.6 s to its first offset)
and the batch's ``plan_data_source_read`` (0.8 s). That ~3 s is Spark's price
for any Python streaming source and no lakeport code runs in it; within 1.3x
needs a source that runs in the JVM (e.g. the queue spooled to files that
Spark's own file source streams), which is the next step.

Now (2026-12-04), with ``delivery = "files"`` in the example (the queue
spooled to parquet files that Spark's own file source streams, see the queue
plugin's README), no Python process starts in Spark at all (checked with a
logging ``PYSPARK_PYTHON`` wrapper: it was never called). On the shared machine
(load average 4-5, other sessions' Spark tests running; min / median of 3
rounds): lakeport 6.13 / 7.73 s after Spark start, by hand 5.87 / 6.06 s, by
hand with Arrow 3.84 / 4.30 s: **1.05x / 1.28x** (goal 1.3x: met); whole process
16.4 / 19.7 s against 14.3 / 19.2 s (1.15x / 1.03x). An earlier 2-round run the
same day: 0.94x / 0.96x. What lakeport still pays over the hand-written job is
the streaming query's own start (checkpoint files, the file source's listing:
~1.5-2 s); the micro-batch (one parquet file read in the JVM, the cast, the
expectation, Arrow to the driver, delta-rs write and commit) is 2.7-3.0 s, the
session's first Spark job on both sides.

On a quiet machine (2026-12-04 20:35, load average 0.5-1.8; min / median of 3
rounds): lakeport 4.39 / 4.65 s after Spark start, by hand 3.70 / 4.32 s, by hand
with Arrow 2.67 / 2.81 s: **1.19x / 1.07x** (goal 1.3x: met; it was 2.03x on
2026-12-03 with the Python streaming source); whole process 12.0 / 13.1 s against
11.4 / 13.3 s (1.05x / 0.99x).

    python bench/bench_demo.py [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "streaming_append"
SIDES = ("lakeport", "by_hand", "by_hand_arrow")


def people_module():
    sys.path.insert(0, str(EXAMPLE))
    import streaming_append

    return streaming_append


# -- the children -------------------------------------------------------------------------
def run_lakeport(folder: Path) -> dict:
    from lakeport import Project
    from lakeport.cli import main as lakeport

    project_file = folder / "lakeport.toml"
    spark = Project.from_file(project_file).spark()  # what the CLI would start, with the same settings
    started = time.perf_counter()
    code = lakeport(["run", "queue_example", "-c", str(project_file)])
    seconds = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"lakeport run failed with exit code {code}")
    spark.stop()
    return {"after_spark": seconds}


def hand_session():
    """A reasonable local session: the settings a person sets for a small local job (UI off, few partitions)."""
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return (
        SparkSession.builder.master("local[*]")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )


def run_by_hand(folder: Path, arrow: bool) -> dict:
    from deltalake import write_deltalake

    demo = people_module()
    spark = hand_session()
    spark.sparkContext.setLogLevel("ERROR")
    started = time.perf_counter()
    people = list(demo.make_people_objects(1000))
    if arrow:
        import pyarrow as pa

        source = pa.table({
            "name": [p.name for p in people], "age": [p.age for p in people], "gender": [p.gender for p in people],
        }, schema=pa.schema([("name", pa.string()), ("age", pa.int64()), ("gender", pa.string())]))
        df = spark.createDataFrame(source)
    else:
        df = spark.createDataFrame(people, "name STRING, age BIGINT, gender STRING")
    df = demo.transform(df).filter("age between 25 and 45")
    write_deltalake(str(folder / "people"), df.toArrow(), mode="append")
    seconds = time.perf_counter() - started
    spark.stop()
    return {"after_spark": seconds}


def child(side: str) -> None:
    folder = Path(tempfile.mkdtemp(prefix=f"bench-demo-{side}-"))
    try:
        if side == "lakeport":
            work = folder / "streaming_append"
            shutil.copytree(EXAMPLE, work, ignore=shutil.ignore_patterns("spark-warehouse", "__pycache__"))
            result = run_lakeport(work)
        else:
            result = run_by_hand(folder, arrow=side == "by_hand_arrow")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print("BENCH " + json.dumps(result), flush=True)


# -- the parent ---------------------------------------------------------------------------
def measure(side: str) -> dict:
    env = {**os.environ, "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", sys.executable)}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--child", side], env=env, capture_output=True, text=True)
    whole = time.perf_counter() - started
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"{side}: exit code {done.returncode}")
    line = next(x for x in done.stdout.splitlines() if x.startswith("BENCH "))
    return {"whole": whole, **json.loads(line[len("BENCH "):])}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", choices=SIDES)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    runs: dict[str, list[dict]] = {side: [] for side in SIDES}
    for index in range(args.rounds):
        order = SIDES if index % 2 == 0 else tuple(reversed(SIDES))  # alternate: no side always runs first
        for side in order:
            result = measure(side)
            runs[side].append(result)
            print(f"round {index + 1} {side:14} whole {result['whole']:6.1f} s   after Spark start "
                  f"{result['after_spark']:6.2f} s", flush=True)

    def stat(side: str, key: str, how) -> float:
        return how([r[key] for r in runs[side]])

    print()
    print(f"{'':16}{'whole min':>10}{'median':>8}{'after Spark min':>17}{'median':>8}")
    for side in SIDES:
        print(f"{side:16}{stat(side, 'whole', min):10.1f}{stat(side, 'whole', statistics.median):8.1f}"
              f"{stat(side, 'after_spark', min):17.2f}{stat(side, 'after_spark', statistics.median):8.2f}")
    for against in ("by_hand", "by_hand_arrow"):
        for key, label in (("after_spark", "after Spark start"), ("whole", "whole process")):
            for how, name in ((min, "min"), (statistics.median, "median")):
                ratio = stat("lakeport", key, how) / stat(against, key, how)
                print(f"ratio lakeport/{against} {label} ({name}): {ratio:.2f}x"
                      + (" (goal <= 1.3x)" if key == "after_spark" and against == "by_hand" else ""))


if __name__ == "__main__":
    main()
