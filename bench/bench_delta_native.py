"""Benchmark: the embedded Delta backend against the native one on delta-spark, same data, one run.

Run with the project's interpreter (delta-spark installed; its jars come from Ivy's cache)::

    PYSPARK_PYTHON=$(which python) python bench/bench_delta_native.py [--rows 1000000] [--repeat 3]

Both sides are ``DeltaHandle`` (``backend="embedded"`` / ``"native"``) in one SparkSession
built with delta-spark's jars; each figure is the median of ``--repeat`` alternating runs
after one warm-up each. Ratios are embedded/native (below 1: the embedded backend is faster).

- append of ``--rows`` rows to a new table (goal <= 1.0);
- full read + group-by aggregate, and a one-column read + sum (goal <= 1.0);
- upsert of 10,000 rows (half matching) into the table (goal <= 1.2);
- a streaming read (available-now) over 20 commits;
- session start with and without the jars (subprocesses; no ratio goal).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_delta_embedded import measure, paired  # noqa: E402 - sets sys.path and PYTHONPATH for the sources

START = """
import sys, time
t = time.perf_counter()
from lakeport.session import get_or_create_session
conf = {{"spark.master": "local[2]"}}
if {jars}:
    from lakeport_delta.spark_conf import delta_spark_conf
    conf.update(delta_spark_conf())
spark = get_or_create_session(conf)
spark.range(1).collect()
print(time.perf_counter() - t)
spark.stop()
"""


def session_start(jars: bool) -> float:
    out = subprocess.run([sys.executable, "-c", START.format(jars=jars)], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--upsert-rows", type=int, default=10_000)
    parser.add_argument("--commits", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from pyspark.sql import functions as F

    from lakeport.session import get_or_create_session
    from lakeport_delta import DeltaHandle
    from lakeport_delta.spark_conf import delta_spark_conf

    starts = {jars: [session_start(jars) for _ in range(2)] for jars in (False, True)}
    spark = get_or_create_session({"spark.master": "local[2]", "spark.sql.shuffle.partitions": "2",
                                   **delta_spark_conf()})
    work = Path(tempfile.mkdtemp(prefix="bench-delta-native-"))
    n, m = args.rows, args.upsert_rows
    source = spark.range(n).selectExpr(
        "id", "cast(id % 1000 as int) as key", "rand(7) * 100 as value", "concat('name-', cast(id % 10000 as string)) as name",
    )
    results = []

    def handle(backend, folder):
        return DeltaHandle(location=str(work / folder), backend=backend)

    try:
        counter = iter(range(1_000_000))
        emb, nat, got, want = paired(lambda: handle("embedded", f"a{next(counter)}").append(source),
                                     lambda: handle("native", f"a{next(counter)}").append(source), args.repeat)
        assert got.rows_written == want.rows_written == n, (got, want)
        results.append((f"append {n:,} rows", emb, nat, 1.0))

        tables = {b: handle(b, f"table-{b}") for b in ("embedded", "native")}
        for h in tables.values():
            h.append(source)

        def aggregate(h):
            return h.read().groupBy("key").agg(F.sum("value"), F.count("*").alias("n"), F.max("name").alias("last")).collect()

        emb, nat, got, want = paired(lambda: aggregate(tables["embedded"]), lambda: aggregate(tables["native"]), args.repeat)
        assert sorted((r.key, r.n, r.last) for r in got) == sorted((r.key, r.n, r.last) for r in want)
        results.append((f"read + group-by aggregate, {n:,} rows", emb, nat, 1.0))
        emb, nat, _, _ = paired(lambda: tables["embedded"].read().agg(F.sum("value")).collect(),
                                lambda: tables["native"].read().agg(F.sum("value")).collect(), args.repeat)
        results.append(("read + sum of 1 of 4 columns", emb, nat, 1.0))

        changes = spark.range(m).selectExpr(
            f"case when id % 2 = 0 then (id * 7919) % {n} else {n} + id end as id",
            "cast(id % 1000 as int) as key", "cast(-1 as double) as value", "'changed' as name",
        ).cache()
        changes.count()

        timings: dict[str, list] = {"embedded": [], "native": []}
        outcomes = {}
        for attempt in range(args.repeat + 1):  # round 0 warms up; the copy is not timed
            for backend in ("embedded", "native"):
                target = work / f"upsert-{backend}"
                shutil.rmtree(target, ignore_errors=True)
                shutil.copytree(work / f"table-{backend}", target)
                h = handle(backend, target.name)
                wall, cpu, outcomes[backend] = measure(lambda: h.upsert(changes, keys=["id"]))  # noqa: B023
                if attempt:
                    timings[backend].append((wall, cpu))
        details = [(o.details["inserted"], o.details["updated"]) for o in outcomes.values()]
        assert details[0] == details[1] == (m // 2, m // 2), details
        results.append((f"upsert {m:,} (half matching) into {n:,}", timings["embedded"], timings["native"], 1.2))

        streams = {b: handle(b, f"stream-{b}") for b in ("embedded", "native")}
        batch = spark.range(n // args.commits).selectExpr("id", "cast(id % 1000 as int) as key")
        for h in streams.values():
            for _ in range(args.commits):
                h.append(batch)
        runs = iter(range(1_000_000))

        def stream(h):
            seen = []
            query = (h.read_stream().writeStream.foreachBatch(lambda df, _id: seen.append(df.count()))
                     .option("checkpointLocation", str(work / f"cp-{next(runs)}")).trigger(availableNow=True).start())
            query.awaitTermination()
            return sum(seen)

        emb, nat, got, want = paired(lambda: stream(streams["embedded"]), lambda: stream(streams["native"]), args.repeat)
        assert got == want == args.commits * (n // args.commits), (got, want)
        results.append((f"stream (available-now) over {args.commits} commits", emb, nat, None))
    finally:
        spark.stop()
        shutil.rmtree(work, ignore_errors=True)

    print()
    title = f"operation (median of {args.repeat})"
    print(f"{title:<50}{'embedded':>10}{'native':>10}{'ratio':>7}{'goal':>7}   {'CPU-s emb/nat':>16}{'ratio':>7}")
    for name, emb, nat, goal in results:
        e, b = statistics.median(w for w, _ in emb), statistics.median(w for w, _ in nat)
        ratio = e / b
        verdict = "" if goal is None else ("  ok" if ratio <= goal else "  MISSED")
        goal_text = "-" if goal is None else f"<={goal}"
        cpu_text = ""
        if all(c is not None for _, c in emb + nat):
            ce, cb = statistics.median(c for _, c in emb), statistics.median(c for _, c in nat)
            cpu_text = f"{ce:>8.2f}/{cb:<7.2f}{ce / cb:>7.2f}"
        print(f"{name:<50}{e:>9.2f}s{b:>9.2f}s{ratio:>7.2f}{goal_text:>7}{verdict:<9}{cpu_text}")
    plain, jars = statistics.median(starts[False]), statistics.median(starts[True])
    print(f"{'session start (subprocess, first query)':<50}{plain:>8.2f}s plain {jars:>8.2f}s with delta-spark jars"
          f" (x{jars / plain:.2f})")


if __name__ == "__main__":
    main()
