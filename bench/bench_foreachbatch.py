"""StreamLoader vs hand-written ``writeStream.foreachBatch``: the same upsert stream, the same handle.

Both sides dedupe each batch on the key (latest by ``seq``) and write it with the
handle's idempotent upsert (``txn=(app_id, batch_id)``) into a Delta table on the
embedded backend, so only the loader's overhead differs.
Goal: ratio (StreamLoader / hand-written) at most 1.05.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

FILES, ROWS, KEYS, ROUNDS = 16, 2500, 2000, 7


def make_source(folder: Path) -> None:
    folder.mkdir(parents=True)
    seq = 0
    for index in range(FILES):
        lines = []
        for _ in range(ROWS):
            seq += 1
            lines.append(json.dumps({"id": seq * 7919 % KEYS, "name": f"v{seq}", "seq": seq}))
        path = folder / f"part-{index:03d}.json"
        path.write_text("\n".join(lines) + "\n")
        os.utime(path, (1_700_000_000 + index,) * 2)


def delta(target: Path):
    from lakeport_delta import DeltaHandle

    return DeltaHandle(location=str(target), backend="embedded", table="bench_target")


def with_stream_loader(spark, source, target: Path, checkpoint: Path) -> float:
    from lakeport.etl import Orchestrator, SimpleLoader, StreamExtractor
    from lakeport_foreachbatch import StreamLoader

    loader = StreamLoader(
        SimpleLoader(delta(target), mode="upsert", keys=["id"], sequence_by="seq"),
        checkpoint_path=str(checkpoint),
        await_termination=True,
    )
    started = time.perf_counter()
    Orchestrator().extract_from(StreamExtractor(source)).load_into(loader).execute()
    return time.perf_counter() - started


def by_hand(spark, source, target: Path, checkpoint: Path) -> float:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    handle = delta(target)
    app_id = str(uuid.uuid4())

    def write(batch_df, batch_id):
        window = Window.partitionBy("id").orderBy(F.col("seq").desc(), F.col("_arrival").desc())
        latest = (
            batch_df.withColumn("_arrival", F.monotonically_increasing_id())
            .withColumn("_rank", F.row_number().over(window))
            .filter("_rank = 1")
            .drop("_rank", "_arrival")
        )
        handle.write(latest, "upsert", keys=("id",), batch_id=batch_id, txn=(app_id, batch_id))

    started = time.perf_counter()
    query = (
        source.read_stream().writeStream.foreachBatch(write)
        .option("checkpointLocation", str(checkpoint)).trigger(availableNow=True).start()
    )
    query.awaitTermination()
    return time.perf_counter() - started


def main() -> int:
    from lakeport.handles.files import FilesHandle
    from lakeport.session import get_or_create_session

    spark = get_or_create_session({"spark.sql.shuffle.partitions": "2"})
    work = Path(tempfile.mkdtemp(prefix="bench-foreachbatch-"))
    try:
        make_source(work / "src")
        source = FilesHandle(str(work / "src"), format="json", schema="id BIGINT, name STRING, seq BIGINT",
                             max_files_per_trigger=1)
        timings: dict[str, list[float]] = {"StreamLoader": [], "hand-written": []}
        runs = {"StreamLoader": with_stream_loader, "hand-written": by_hand}
        for name, warm_up in runs.items():  # imports, JIT and file caches, for both sides
            warm_up(spark, source, work / f"warmup-{name}", work / f"warmup-{name}-cp")
        for round_ in range(ROUNDS):
            order = list(runs) if round_ % 2 == 0 else list(reversed(runs))
            for name in order:
                out = work / f"{name}-{round_}"
                timings[name].append(runs[name](spark, source, out, work / f"{name}-{round_}-cp"))
        best = {name: min(values) for name, values in timings.items()}
        middle = {name: statistics.median(values) for name, values in timings.items()}
        for name, values in timings.items():
            print(f"{name:13s} best {best[name]:.2f} s, median {middle[name]:.2f} s "
                  f"(runs: {', '.join(f'{v:.2f}' for v in values)})")
        ratio = best["StreamLoader"] / best["hand-written"]
        print(f"ratio StreamLoader / hand-written: best {ratio:.3f}, median "
              f"{middle['StreamLoader'] / middle['hand-written']:.3f} "
              f"(goal <= 1.05; {FILES} batches of {ROWS} rows, upsert)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
