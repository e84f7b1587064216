"""One incremental Auto Loader trigger as the folder grows, next to Spark's plain file stream source.

Run with the project's interpreter (wrap in /work/spark-slot on shared machines)::

    python bench/bench_autoloader.py [--sizes 1000,2500,5000,10000] [--new 10]

A folder of small JSON files grows from 1,000 to 10,000 files, all already
processed by two streams that read it: lakeport's ``cloudFiles`` source
(``format("cloudFiles")``) and Spark's own ``format("json")`` file stream source,
each with its own checkpoint. At each size, ``--new`` files land and each stream
runs one available-now query, as a scheduled job would. Two figures: the
trigger's ``durationMs.triggerExecution`` from the query's progress (listing,
planning, reading the new files, the foreachBatch sink), and the whole run from
``start()`` to its end (which adds the query's start: Spark's source reads its
file log back). Medians of ``--repeat`` runs. Both read the same given schema,
so neither infers anything.

Goal: lakeport's trigger cost grows sublinearly with the number of files already
processed, and is no slower than the plain file source at 10,000 files. What
grows with the folder in lakeport is one ``os.scandir`` of the folder and a set
lookup per name (no stat of known files, nothing read back from the file log,
which is appended to); Spark's source lists through Hadoop's file index with a
status per file and checks each against its seen-files map. The load average is
printed: on a shared machine the numbers are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_REPO = Path(__file__).resolve().parents[1]
_SOURCES = [str(_REPO / p / "src") for p in ("core", "plugins/autoloader")]
sys.path[:0] = [p for p in _SOURCES if p not in sys.path]
os.environ["PYTHONPATH"] = os.pathsep.join(_SOURCES + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)

SCHEMA = "id BIGINT, name STRING"


def land(folder: Path, first: int, count: int) -> int:
    """``count`` one-line JSON files, numbered from ``first``; returns the next number."""
    for i in range(first, first + count):
        (folder / f"f{i:06d}.json").write_text(json.dumps({"id": i, "name": f"n{i}"}) + "\n")
    return first + count


def trigger(spark: Any, df: Any, checkpoint: Path) -> tuple[float, int]:
    """One available-now run: (ms of the trigger that read data, rows read)."""
    rows = [0]

    def sink(batch: Any, batch_id: int) -> None:
        rows[0] += batch.count()

    query = df.writeStream.foreachBatch(sink).option("checkpointLocation", str(checkpoint)) \
        .trigger(availableNow=True).start()
    query.awaitTermination()
    durations = [p["durationMs"].get("triggerExecution", 0) for p in query.recentProgress if p["numInputRows"]]
    return (float(max(durations)) if durations else 0.0), rows[0]


def discover_ms(folder: Path, state: Path, new: int) -> tuple[float, float]:
    """Finding ``new`` new files among the rest: in a new source process (reads the log), and in one that ran."""
    from lakeport_autoloader.listing import Lister
    from lakeport_autoloader.state import FileLog

    shutil.rmtree(state, ignore_errors=True)
    FileLog(str(state), Lister(str(folder))).discover()  # every file logged once
    extra = [folder / f"probe-{i}.json" for i in range(new)]
    for path in extra:
        path.write_text("{}\n")
    cold = FileLog(str(state), Lister(str(folder)))
    started = time.perf_counter()
    cold.discover()
    cold_ms = (time.perf_counter() - started) * 1000
    for path in extra:
        path.unlink()
    for i, path in enumerate(extra):
        path.with_name(f"probe2-{i}.json").write_text("{}\n")
    started = time.perf_counter()
    cold.discover()
    warm_ms = (time.perf_counter() - started) * 1000
    for path in folder.glob("probe2-*.json"):
        path.unlink()
    return cold_ms, warm_ms


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,2500,5000,10000")
    parser.add_argument("--new", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3, help="triggers measured per size (the median is shown)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    from lakeport.session import get_or_create_session
    from lakeport_autoloader import register_cloud_files

    spark = get_or_create_session({"spark.sql.shuffle.partitions": "2", "spark.ui.enabled": "false"})
    spark.sparkContext.setLogLevel("ERROR")
    register_cloud_files(spark)
    work = Path(tempfile.mkdtemp(prefix="bench-autoloader-"))
    folder = work / "landing"
    folder.mkdir()

    def lakeport_stream() -> Any:
        return spark.readStream.format("cloudFiles").option("cloudFiles.format", "json") \
            .option("cloudFiles.maxFilesPerTrigger", "100000").option("lakeport.stateLocation", str(work / "state")) \
            .schema(SCHEMA).load(str(folder))

    def spark_stream() -> Any:
        return spark.readStream.format("json").schema(SCHEMA).load(str(folder))

    streams = {"lakeport cloudFiles": (lakeport_stream, work / "cp-lakeport"),
               "Spark file source": (spark_stream, work / "cp-spark")}
    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    next_id = 0
    results: dict[int, dict[str, tuple[float, float]]] = {}
    listing: dict[int, tuple[float, float]] = {}
    try:
        for size in sizes:
            next_id = land(folder, next_id, size - next_id)  # the already-processed files
            for make, checkpoint in streams.values():  # catch up (not measured)
                trigger(spark, make(), checkpoint)
            samples: dict[str, list[tuple[float, float]]] = {name: [] for name in streams}
            for _ in range(args.repeat):
                next_id = land(folder, next_id, args.new)
                for name, (make, checkpoint) in streams.items():
                    started = time.perf_counter()
                    ms, rows = trigger(spark, make(), checkpoint)
                    if rows != args.new:
                        raise SystemExit(f"{name} read {rows} rows at {size} files; expected {args.new}")
                    samples[name].append((ms, time.perf_counter() - started))
            results[size] = {name: (statistics.median(m for m, _ in got), statistics.median(r for _, r in got))
                             for name, got in samples.items()}
            listing[size] = discover_ms(folder, work / "state-probe", args.new)
            for name, (ms, run_s) in results[size].items():
                print(f"  {size:>6} files, {name}: trigger {ms:.0f} ms, whole run {run_s:.1f} s", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"\none incremental available-now run with {args.new} new files, median of {args.repeat}")
    print(f"{'files':>7}  {'lakeport ms':>11}  {'Spark ms':>9}  {'ratio':>6}    {'lakeport run s':>14}  "
          f"{'Spark run s':>11}  {'ratio':>6}")
    for size, row in results.items():
        (ours, ours_run), (theirs, theirs_run) = row["lakeport cloudFiles"], row["Spark file source"]
        print(f"{size:>7}  {ours:>11.0f}  {theirs:>9.0f}  {ours / theirs:>6.2f}    {ours_run:>14.2f}  "
              f"{theirs_run:>11.2f}  {ours_run / theirs_run:>6.2f}")
    print("\nlakeport's part that grows with the folder: finding the new files (FileLog.discover, ms)")
    print(f"{'files':>7}  {'new process':>11}  {'same process':>12}")
    for size, (cold, warm) in listing.items():
        print(f"{size:>7}  {cold:>11.1f}  {warm:>12.2f}")
    first, last = sizes[0], sizes[-1]
    for name in streams:
        (a, a_run), (b, b_run) = results[first][name], results[last][name]
        print(f"{name}: trigger x{b / a:.2f}, whole run x{b_run / a_run:.2f} from {first} to {last} files "
              f"({last / first:.0f}x the files)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
