"""Writing input files and running a stream to the end, for the tests."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Iterable


def write_json(folder: Path, name: str, rows: Iterable[Any]) -> Path:
    """One JSON-lines file; a row that is a str is written as it is (a malformed line)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    lines = [row if isinstance(row, str) else json.dumps(row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_text(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def age(path: Path, seconds: float) -> None:
    """Make a file look ``seconds`` old, so files sort in the order written."""
    stamp = time.time() - seconds
    os.utime(path, (stamp, stamp))


def run(df: Any, checkpoint: Path, trigger: str = "availableNow") -> list[list[tuple]]:
    """Run a streaming DataFrame to the end; the rows of each micro-batch, sorted."""
    batches: list[list[tuple]] = []

    def collect(batch: Any, batch_id: int) -> None:
        batches.append(sorted((tuple(r) for r in batch.collect()), key=repr))

    writer = df.writeStream.foreachBatch(collect).option("checkpointLocation", str(checkpoint))
    writer = writer.trigger(availableNow=True) if trigger == "availableNow" else writer.trigger(once=True)
    query = writer.start()
    try:
        query.awaitTermination(120)
    finally:
        query.stop()
    if query.exception() is not None:
        raise query.exception()
    return batches


def flat(batches: list[list[tuple]]) -> list[tuple]:
    return sorted((row for batch in batches for row in batch), key=repr)
