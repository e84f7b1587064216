"""Crash recovery: a streaming append and upsert killed with SIGKILL at random points, restarted until done.

The target handle writes idempotently (``supports_txn``), so the result must equal
the expected rows exactly: nothing duplicated, nothing lost. Each restart starts
a new Spark, hence ``slow``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import write_json
from txn_handle import rows

CHILD = Path(__file__).with_name("crash_child.py")
MIN_KILLS = 5
FILES = 14


def source_files(folder: Path, mode: str, rng: random.Random) -> list[dict]:
    seq = 0
    written = []
    for index in range(FILES):
        batch = []
        for _ in range(10):
            seq += 1
            key = rng.randrange(12) if mode == "upsert" else seq
            batch.append({"id": key, "name": f"v{seq}", "seq": seq})
        write_json(folder, f"part-{index:03d}", batch)
        written += batch
    return written


def run_child(mode: str, lake: Path, kill: tuple[str, float] | None, log, kind: str = "txn") -> bool:
    """Run the child; SIGKILL its whole process group (Python and JVM) at ``kill``.

    ``("start", s)``: ``s`` seconds after Spark is up; ``("commit", s)``: ``s``
    seconds after the target's next commit (the window before Spark's own commit).
    Returns True if it was killed, False if it finished first.
    """
    ready = lake / "ready"
    ready.unlink(missing_ok=True)
    args = [sys.executable, str(CHILD), mode, str(lake / "src"), str(lake / "out"), str(lake / "cp"), str(ready), kind]
    child = subprocess.Popen(args, stdout=log, stderr=log, start_new_session=True, env={**os.environ})
    try:
        while not ready.exists():
            if child.poll() is not None:
                raise AssertionError(f"child exited with {child.returncode} before Spark was up; see {log.name}")
            time.sleep(0.05)
        if kill is not None:
            when, seconds = kill
            if when == "commit":
                version = target_version(lake, kind)
                while child.poll() is None and target_version(lake, kind) == version:
                    time.sleep(0.01)
            try:
                child.wait(timeout=seconds)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
                return True
        assert child.wait(timeout=600) == 0, f"child failed; see {log.name}"
        return False
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()


def target_version(lake: Path, kind: str = "txn") -> int:
    if kind in ("delta", "native"):
        commits = [int(p.stem) for p in (lake / "out" / "_delta_log").glob("*.json")] if (lake / "out").is_dir() else []
        return max(commits, default=-1)
    log = lake / "out" / "_txn_log.json"
    return json.loads(log.read_text())["version"] if log.is_file() else -1


def crash_until_done(mode: str, lake: Path, seed: int, kind: str = "txn") -> list[dict]:
    rng = random.Random(seed)
    expected = source_files(lake / "src", mode, rng)
    kills = 0
    with open(lake / "children.log", "w") as log:
        for _ in range(MIN_KILLS * 3):
            if kills >= MIN_KILLS:
                break
            kill = ("start", rng.uniform(0.0, 3.0)) if rng.random() < 0.4 else ("commit", rng.choice([0.0, rng.uniform(0.0, 0.4)]))
            kills += run_child(mode, lake, kill, log, kind)
        assert kills >= MIN_KILLS, f"only {kills} kills landed before the stream finished"
        run_child(mode, lake, None, log, kind)
    return expected


@pytest.mark.slow
def test_streaming_append_survives_sigkill(tmp_lake):
    expected = crash_until_done("append", tmp_lake, seed=4)
    got = rows(tmp_lake / "out")
    assert sorted(r["seq"] for r in got) == sorted(r["seq"] for r in expected)


@pytest.mark.slow
@pytest.mark.long  # the default suite keeps the upsert into real (embedded) Delta below
def test_streaming_upsert_survives_sigkill(tmp_lake):
    expected = crash_until_done("upsert", tmp_lake, seed=7)
    latest: dict[int, dict] = {}
    for row in expected:
        latest[row["id"]] = row  # seq increases through the files
    got = rows(tmp_lake / "out")
    assert len(got) == len(latest)
    assert {r["id"]: r for r in got} == latest


@pytest.mark.slow
def test_streaming_upsert_into_delta_survives_sigkill(tmp_lake):
    """The same with the real thing: a Delta table on the embedded backend, checked with delta-rs."""
    pytest.importorskip("lakeport_delta")
    from deltalake import DeltaTable

    expected = crash_until_done("upsert", tmp_lake, seed=11, kind="delta")
    latest: dict[int, dict] = {}
    for row in expected:
        latest[row["id"]] = row
    got = DeltaTable(str(tmp_lake / "out")).to_pyarrow_table().to_pylist()
    assert len(got) == len(latest)
    assert {r["id"]: r for r in got} == latest


@pytest.mark.slow
@pytest.mark.long  # each restart is a JVM resolving the Delta jars: ~3-10 min on 2 cores
def test_streaming_upsert_into_native_delta_spark_survives_sigkill(tmp_lake):
    """A native Delta table on delta-spark: MERGE made idempotent by the write.txnAppId/txnVersion confs.

    Each restart starts a JVM with the Delta jars, which makes a run long.
    """
    pytest.importorskip("delta", reason="needs delta-spark (pip install lakeport-delta[spark])")
    from deltalake import DeltaTable

    expected = crash_until_done("upsert", tmp_lake, seed=13, kind="native")
    latest: dict[int, dict] = {}
    for row in expected:
        latest[row["id"]] = row
    got = DeltaTable(str(tmp_lake / "out")).to_pyarrow_table().to_pylist()
    assert len(got) == len(latest)
    assert {r["id"]: r for r in got} == latest


@pytest.mark.slow
@pytest.mark.long
def test_streaming_append_into_native_delta_spark_survives_sigkill(tmp_lake):
    """The append path on delta-spark: made idempotent by the txnAppId/txnVersion writer options."""
    pytest.importorskip("delta", reason="needs delta-spark (pip install lakeport-delta[spark])")
    from deltalake import DeltaTable

    expected = crash_until_done("append", tmp_lake, seed=17, kind="native")
    got = DeltaTable(str(tmp_lake / "out")).to_pyarrow_table().to_pylist()
    assert sorted(r["seq"] for r in got) == sorted(r["seq"] for r in expected)
