"""Benchmark of the embedded Delta engine against the obvious alternatives.

Run with the project's interpreter::

    PYSPARK_PYTHON=$(which python) python bench/bench_delta_embedded.py [--rows 1000000] [--repeat 3]

Three comparisons, each the median of ``--repeat`` runs after one warm-up run:

- read + aggregate: ``ops.read`` vs ``spark.read.parquet`` over the same data files
  (goal: ratio <= 1.5);
- upsert of 10,000 rows (half matching) into the table: ``ops.upsert`` vs a hand-written
  delta-rs MERGE of the same (collected) data (goal <= 1.1);
- append of all rows: ``ops.write`` vs ``df.write.parquet`` (goal <= 1.3).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

_REPO = Path(__file__).resolve().parents[1]
_SOURCES = [str(_REPO / "core" / "src"), str(_REPO / "plugins" / "delta" / "src")]
sys.path[:0] = [p for p in _SOURCES if p not in sys.path]
os.environ["PYTHONPATH"] = os.pathsep.join(
    _SOURCES + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
)
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)


def tree_cpu() -> float | None:
    """CPU seconds used so far by this process and all its descendants (JVM, Python workers).

    On a shared machine wall time is noisy; CPU time shows the cost of each side. Linux only.
    """
    try:
        ticks = os.sysconf("SC_CLK_TCK")
        stats = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat", encoding="ascii") as fh:
                        fields = fh.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                stats[int(entry)] = (int(fields[1]), sum(int(v) for v in fields[11:15]))
    except (OSError, ValueError):
        return None
    tree, frontier = {os.getpid()}, [os.getpid()]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, _) in stats.items():
            if ppid == parent and pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    return sum(stats[pid][1] for pid in tree if pid in stats) / ticks


def measure(fn) -> tuple[float, float | None, object]:
    cpu = tree_cpu()
    start = time.perf_counter()
    result = fn()
    wall = time.perf_counter() - start
    after = tree_cpu()
    return wall, (None if cpu is None or after is None else after - cpu), result


def paired(embedded, baseline, repeat: int) -> tuple[list, list, object, object]:
    """Run both ``repeat`` times, alternating, after one warm-up each: [(wall, cpu)] per side.

    Alternating spreads the noise of a shared machine evenly over both sides.
    """
    got, want = embedded(), baseline()
    emb, base = [], []
    for _ in range(repeat):
        wall, cpu, got = measure(embedded)
        emb.append((wall, cpu))
        wall, cpu, want = measure(baseline)
        base.append((wall, cpu))
    return emb, base, got, want


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--upsert-rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=["read", "upsert", "append"], action="append")
    args = parser.parse_args()
    only = set(args.only or ["read", "upsert", "append"])

    from deltalake import DeltaTable
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    from lakeport_delta.embedded import ops

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("bench-delta-embedded")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    ops.register(spark)
    work = Path(tempfile.mkdtemp(prefix="bench-delta-"))
    n = args.rows
    source = spark.range(n).selectExpr(
        "id",
        "cast(id % 1000 as int) as key",
        "rand(7) * 100 as value",
        "concat('name-', cast(id % 10000 as string)) as name",
    )
    results = []
    try:
        table = str(work / "table")
        ops.write(source, table)

        if "append" in only:
            counter = iter(range(1_000_000))
            emb, base, outcome, _ = paired(
                lambda: ops.write(source, str(work / f"append-{next(counter)}")),
                lambda: source.write.parquet(str(work / f"parquet-{next(counter)}")),
                args.repeat,
            )
            assert outcome.num_rows == n
            results.append((f"append {n:,} rows", emb, base, 1.3))

        if "read" in only:
            files = DeltaTable(table).file_uris()

            def aggregate(df):
                return (
                    df.groupBy("key")
                    .agg(F.sum("value").alias("total"), F.count("*").alias("n"), F.max("name").alias("last"))
                    .collect()
                )

            emb, base, got, want = paired(
                lambda: aggregate(ops.read(spark, table)), lambda: aggregate(spark.read.parquet(*files)), args.repeat
            )
            assert sorted((r.key, r.n, r.last) for r in got) == sorted((r.key, r.n, r.last) for r in want)
            results.append((f"read + group-by aggregate, {n:,} rows", emb, base, 1.5))
            emb, base, _, _ = paired(
                lambda: ops.read(spark, table).agg(F.sum("value")).collect(),
                lambda: spark.read.parquet(*files).agg(F.sum("value")).collect(),
                args.repeat,
            )
            results.append(("read + sum of 1 of 4 columns", emb, base, None))

        if "upsert" in only:
            m = args.upsert_rows
            changes = (
                spark.range(m)
                .selectExpr(
                    # half of the keys exist (spread over the table), half are new
                    f"case when id % 2 = 0 then (id * 7919) % {n} else {n} + id end as id",
                    "cast(id % 1000 as int) as key",
                    "cast(-1 as double) as value",
                    "'changed' as name",
                )
                .cache()
            )
            changes.count()
            pristine = str(work / "pristine")
            shutil.copytree(table, pristine)

            def fresh(name):
                target = str(work / name)
                shutil.rmtree(target, ignore_errors=True)
                shutil.copytree(pristine, target)
                return target

            def merge(target, **options):
                return (
                    DeltaTable(target)
                    .merge(changes.toArrow(), "t.id = s.id", source_alias="s", target_alias="t", **options)
                    .when_matched_update_all()
                    .when_not_matched_insert_all()
                    .execute()
                )

            timings = {"embedded": [], "default": [], "tuned": []}
            for attempt in range(args.repeat + 1):  # round 0 warms up
                for name, run in (
                    ("embedded", lambda t: ops.upsert(changes, t, ["id"])),
                    ("default", merge),
                    ("tuned", lambda t: merge(t, streamed_exec=False)),
                ):
                    target = fresh(f"upsert-{name}")
                    wall, cpu, result = measure(lambda: run(target))  # noqa: B023 - called at once
                    if attempt:
                        timings[name].append((wall, cpu))
                    if name == "embedded":
                        outcome = result
                    elif name == "default":
                        metrics = result
            assert (outcome.updated, outcome.inserted) == (
                metrics["num_target_rows_updated"],
                metrics["num_target_rows_inserted"],
            ), (outcome, metrics)
            label = f"upsert {m:,} (half matching) into {n:,}"
            results.append((label, timings["embedded"], timings["default"], 1.1))
            results.append((label + " [tuned]", timings["embedded"], timings["tuned"], None))
    finally:
        spark.stop()
        shutil.rmtree(work, ignore_errors=True)

    print()
    title = f"operation (median of {args.repeat})"
    print(f"{title:<50}{'embedded':>10}{'baseline':>10}{'ratio':>7}{'goal':>7}   {'CPU-s emb/base':>16}{'ratio':>7}")
    for name, emb, base, goal in results:
        e, b = statistics.median(w for w, _ in emb), statistics.median(w for w, _ in base)
        ratio = e / b
        verdict = "" if goal is None else ("  ok" if ratio <= goal else "  MISSED")
        goal_text = "-" if goal is None else f"<={goal}"
        cpu_text = ""
        if all(c is not None for _, c in emb + base):
            ce, cb = statistics.median(c for _, c in emb), statistics.median(c for _, c in base)
            cpu_text = f"{ce:>8.2f}/{cb:<7.2f}{ce / cb:>7.2f}"
        print(f"{name:<50}{e:>9.2f}s{b:>9.2f}s{ratio:>7.2f}{goal_text:>7}{verdict:<9}{cpu_text}")
    print(
        "baselines: spark.read.parquet over the table's data files; delta-rs DeltaTable.merge(df.toArrow()) "
        "with default options ([tuned]: streamed_exec=False); df.write.parquet"
    )


if __name__ == "__main__":
    main()
