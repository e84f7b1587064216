"""StreamLoader with the built-in files kind (at-least-once) and the mini-Delta test handle (exactly-once)."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import threading
import time

import pytest
from conftest import SCHEMA, write_json
from txn_handle import TxnParquetHandle

from lakeport.cli import main
from lakeport.errors import ConfigError
from lakeport.etl import Orchestrator, SimpleLoader, StreamExtractor
from lakeport.expectations import Expectation
from lakeport.handles.files import FilesHandle
from lakeport_foreachbatch import CheckpointMismatch, StreamLoader

A = [{"id": 1, "name": "ada", "seq": 1}, {"id": 2, "name": "grace", "seq": 1}, {"id": 3, "name": None, "seq": 1}]
B = [{"id": 4, "name": "edsger", "seq": 1}, {"id": 5, "name": "barbara", "seq": 1}]
C = [{"id": 6, "name": "alan", "seq": 1}]


def ids(handle):
    return sorted(r["id"] for r in handle.read().collect())


def run(source, loader):
    Orchestrator().extract_from(StreamExtractor(source, dataset_key="src")).load_into(loader).execute()
    return loader


def stream_into(target, checkpoint, **kwargs):
    kwargs.setdefault("await_termination", True)
    mode = kwargs.pop("mode", "append")
    keys = kwargs.pop("keys", None)
    sequence_by = kwargs.pop("sequence_by", None)
    extra = {"sequence_by": sequence_by} if sequence_by else {}
    return StreamLoader(SimpleLoader(target, mode=mode, keys=keys, **extra), checkpoint_path=str(checkpoint), **kwargs)


def wait_for(condition, seconds=90.0):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.2)


def test_available_now_then_a_second_run_takes_only_new_files(spark, tmp_lake, source, caplog):
    write_json(tmp_lake / "src", "a", A)
    write_json(tmp_lake / "src", "b", B)
    target = FilesHandle(str(tmp_lake / "out"), table="out")
    with caplog.at_level(logging.INFO, logger="lakeport_foreachbatch"):
        first = run(source, stream_into(target, tmp_lake / "cp"))
    assert ids(target) == [1, 2, 3, 4, 5]
    assert [b.batch_id for b in first.batches] == [0, 1]
    assert first.summary().startswith("out: 2 batches, 5 rows in, ")
    assert "at-least-once" in first.summary()
    warnings = [r.message for r in caplog.records if "delivery is at-least-once" in r.getMessage()]
    assert len(warnings) == 1
    assert any("batch 1, 2 rows in" in r.getMessage() for r in caplog.records)

    write_json(tmp_lake / "src", "c", C)
    second = run(source, stream_into(target, tmp_lake / "cp"))
    assert ids(target) == [1, 2, 3, 4, 5, 6]
    assert [(b.batch_id, b.rows_in) for b in second.batches] == [(2, 1)]


def test_expectations_apply_per_batch(spark, tmp_lake, source, caplog):
    write_json(tmp_lake / "src", "a", A)
    write_json(tmp_lake / "src", "b", [*B, {"id": 9, "name": None, "seq": 1}, {"id": 10, "name": None, "seq": 1}])
    target = FilesHandle(
        str(tmp_lake / "out"), table="clean", expectations=[Expectation("has_name", "name IS NOT NULL", "drop")]
    )
    with caplog.at_level(logging.INFO, logger="lakeport_foreachbatch"):
        loader = run(source, stream_into(target, tmp_lake / "cp"))
    assert ids(target) == [1, 2, 4, 5]
    assert [(b.rows_in, b.rows_written, b.rule_failures) for b in loader.batches] == [
        (3, 2, {"has_name": 1}),
        (4, 2, {"has_name": 2}),
    ]
    lines = [r.getMessage() for r in caplog.records if r.name == "lakeport_foreachbatch.loader"]
    assert any(line.startswith("clean: batch 0, 3 rows in, 2 written, 1 dropped by has_name, ") for line in lines)
    assert "7 rows in, 4 written, 3 dropped by has_name" in loader.summary()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"checkpoint_path": None}, "StreamLoader checkpoint_path: a stream needs a checkpoint_path"),
        ({"trigger": "sometimes"}, "StreamLoader trigger: expected one of available_now, once, processing_time"),
        ({"trigger": "processing_time"}, "StreamLoader trigger_interval: trigger processing_time needs an interval"),
        ({"trigger": "processing_time", "trigger_interval": "soon"}, "'soon' is not an interval"),
        ({"trigger_interval": "5 seconds"}, "trigger_interval: only used with trigger processing_time"),
        ({"output_mode": "complete"}, "StreamLoader output_mode: expected one of append, update"),
    ],
)
def test_bad_options_fail_before_anything_starts(tmp_lake, kwargs, message):
    target = FilesHandle(str(tmp_lake / "out"))
    options = {"checkpoint_path": str(tmp_lake / "cp"), **kwargs}
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        StreamLoader(SimpleLoader(target), **options)


def test_a_checkpoint_of_another_query_is_refused(spark, tmp_lake, source):
    write_json(tmp_lake / "src", "a", A)
    run(source, stream_into(FilesHandle(str(tmp_lake / "out")), tmp_lake / "cp"))

    other_target = FilesHandle(str(tmp_lake / "other"))
    with pytest.raises(CheckpointMismatch, match=r"checkpoint_path .*cp: belongs to another query \(target "):
        run(source, stream_into(other_target, tmp_lake / "cp"))
    assert not (tmp_lake / "other").exists()

    write_json(tmp_lake / "src2", "a", A)
    other_source = FilesHandle(str(tmp_lake / "src2"), format="json", schema=SCHEMA)
    with pytest.raises(CheckpointMismatch, match=r"source 'FileSource\[.*src\]', not 'FileSource\[.*src2\]'"):
        run(other_source, stream_into(FilesHandle(str(tmp_lake / "out")), tmp_lake / "cp"))


PROJECT = """
[tables.Raw]
kind = "files"
format = "json"
path = "{project_dir}/raw"
schema = "id BIGINT, name STRING, seq BIGINT"
max_files_per_trigger = 1

[tables.Orders]
kind = "files"
path = "{project_dir}/orders"
checkpoint_path = "{project_dir}/_checkpoints/orders"

[[tables.Orders.expectations]]
name = "has_name"
constraint = "name IS NOT NULL"
action = "drop"

[pipelines.mirror]
source = "Raw"
target = "Orders"
trigger = "%s"
"""


@pytest.fixture
def cli_logging():
    """`lakeport run` adds a root log handler; drop it so later tests do not log through it."""
    yield
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_lakeport_cli", False)]:
        root.removeHandler(handler)


def test_lakeport_run_streams_a_pipeline(spark, tmp_lake, lakeport_project, capsys, cli_logging):
    project = lakeport_project(PROJECT % "available_now")
    write_json(tmp_lake / "raw", "a", A)
    write_json(tmp_lake / "raw", "b", B)
    assert main(["run", "mirror", "-c", str(tmp_lake / "lakeport.toml")]) == 0
    out = capsys.readouterr().out
    assert "mirror: 2 batches, 5 rows in, 4 written, 1 dropped by has_name, at-least-once" in out
    assert ids(project.handle("Orders")) == [1, 2, 4, 5]
    assert (tmp_lake / "_checkpoints" / "orders" / "lakeport_query.json").is_file()


def test_lakeport_run_shows_the_info_lines_of_plugin_loggers(spark, tmp_lake, lakeport_project, capsys, cli_logging):
    lakeport_project(PROJECT % "available_now")
    write_json(tmp_lake / "raw", "a", A)
    assert main(["run", "mirror", "-c", str(tmp_lake / "lakeport.toml")]) == 0
    err = capsys.readouterr().err
    progress = [line for line in err.splitlines() if " INFO lakeport_foreachbatch.loader: mirror: " in line]
    assert progress, err  # the plugin logs under its own package, and the CLI shows it


def test_lakeport_run_reports_bad_streaming_options(tmp_lake, lakeport_project, capsys, cli_logging):
    config = tmp_lake / "lakeport.toml"
    lakeport_project(PROJECT % "processing_time")
    assert main(["run", "mirror", "-c", str(config)]) == 2
    assert "pipelines.mirror.trigger_interval: trigger processing_time needs an interval" in capsys.readouterr().err

    lakeport_project((PROJECT % "available_now").replace('checkpoint_path = "{project_dir}/_checkpoints/orders"', ""))
    assert main(["run", "mirror", "-c", str(config)]) == 2
    assert "pipelines.mirror.checkpoint_path: a streaming pipeline needs a checkpoint_path" in capsys.readouterr().err


def test_stop_ends_a_running_query_and_the_next_start_resumes(spark, tmp_lake, source, caplog):
    target = FilesHandle(str(tmp_lake / "out"))
    write_json(tmp_lake / "src", "a", A)
    with caplog.at_level(logging.INFO, logger="lakeport_foreachbatch"):
        loader = run(source, stream_into(target, tmp_lake / "cp", trigger="processing_time",
                                         trigger_interval="1 second", await_termination=False))
        try:
            wait_for(lambda: len(loader.batches) == 1)
            write_json(tmp_lake / "src", "b", B)
            # progress lines come live from the listener, not only when the query ends
            wait_for(lambda: any(": batch 1, 2 rows in, " in r.getMessage() for r in caplog.records))
            assert loader.query.isActive
        finally:
            loader.stop()
    assert not loader.query.isActive
    assert loader.summary().endswith("stopped")
    assert ids(target) == [1, 2, 3, 4, 5]

    write_json(tmp_lake / "src", "c", C)
    again = run(source, stream_into(target, tmp_lake / "cp"))
    assert [b.batch_id for b in again.batches] == [2]
    assert ids(target) == [1, 2, 3, 4, 5, 6]


def test_sigint_lets_the_running_batch_finish_then_stops(spark, tmp_lake, source):
    target = TxnParquetHandle(tmp_lake / "out")
    write_json(tmp_lake / "src", "a", A)
    loader = stream_into(target, tmp_lake / "cp", trigger="processing_time", trigger_interval="1 second",
                         await_termination=False)
    run(source, loader)

    def interrupt_during_first_batch():
        wait_for(lambda: loader._in_batch.is_set() or loader.batches)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_during_first_batch, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        loader.wait()
    assert not loader.query.isActive
    assert sorted(r["id"] for r in target.read().collect()) == [1, 2, 3]
    assert signal.getsignal(signal.SIGINT) is not None  # handlers restored

    write_json(tmp_lake / "src", "b", B)
    again = run(source, stream_into(target, tmp_lake / "cp"))
    assert [b.skipped for b in again.batches] in ([False], [True, False])
    assert sorted(r["id"] for r in target.read().collect()) == [1, 2, 3, 4, 5]


def test_a_replayed_batch_is_skipped_with_an_idempotent_handle(spark, tmp_lake, source):
    write_json(tmp_lake / "src", "a", A)
    write_json(tmp_lake / "src", "b", B)
    target = TxnParquetHandle(tmp_lake / "out")
    first = run(source, stream_into(target, tmp_lake / "cp"))
    assert "exactly-once" in first.summary()
    # a crash after the write but before Spark's commit: the batch runs again on restart
    for name in ("1", ".1.crc"):
        os.remove(tmp_lake / "cp" / "commits" / name)
    replay = run(source, stream_into(target, tmp_lake / "cp"))
    assert [(b.batch_id, b.skipped) for b in replay.batches] == [(1, True)]
    assert "1 replayed batch skipped" in replay.summary()
    assert sorted(r["id"] for r in target.read().collect()) == [1, 2, 3, 4, 5]


def test_upsert_batches_are_deduplicated_latest_by_sequence(spark, tmp_lake, source):
    write_json(tmp_lake / "src", "a", [
        {"id": 1, "name": "a", "seq": 1}, {"id": 1, "name": "c", "seq": 3}, {"id": 1, "name": "b", "seq": 2},
        {"id": 2, "name": "x", "seq": 1},
    ])
    write_json(tmp_lake / "src", "b", [{"id": 2, "name": "y", "seq": 5}, {"id": 3, "name": "z", "seq": 1}])
    target = TxnParquetHandle(tmp_lake / "out")
    run(source, stream_into(target, tmp_lake / "cp", mode="upsert", keys=["id"], sequence_by="seq"))
    assert sorted((r["id"], r["name"]) for r in target.read().collect()) == [(1, "c"), (2, "y"), (3, "z")]


def test_save_needs_a_streaming_dataframe(spark, tmp_lake):
    from lakeport_foreachbatch import StreamError

    loader = stream_into(FilesHandle(str(tmp_lake / "out")), tmp_lake / "cp")
    with pytest.raises(StreamError, match="needs a streaming DataFrame"):
        loader.save(spark.range(3))
    shutil.rmtree(tmp_lake / "cp", ignore_errors=True)


def test_sigterm_stops_lakeport_run_after_the_running_batch_and_the_next_run_resumes(spark, tmp_lake, lakeport_project):
    """A real ``lakeport run`` process, stopped with SIGTERM as a scheduler would."""
    import subprocess
    import sys

    lakeport_project((PROJECT % "processing_time").replace('trigger = "processing_time"',
                                                          'trigger = "processing_time"\ntrigger_interval = "1 second"'))
    orders = FilesHandle(str(tmp_lake / "orders"), table="Orders")

    def written(expected_ids):
        try:
            return ids(orders) == expected_ids
        except Exception:  # noqa: BLE001 - the first batch is still being written (no data, no schema yet)
            return False

    def run_until(expected_ids, log_name):
        log = open(tmp_lake / log_name, "w+")
        child = subprocess.Popen(
            [sys.executable, "-m", "lakeport.cli", "run", "mirror", "-c", str(tmp_lake / "lakeport.toml")],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "LAKEPORT_SPARK_LOG_LEVEL": "ERROR"},
        )
        try:
            wait_for(lambda: written(expected_ids), seconds=180)
            child.send_signal(signal.SIGTERM)
            code = child.wait(timeout=120)
        finally:
            if child.poll() is None:
                child.kill()
        log.seek(0)
        return code, log.read()

    write_json(tmp_lake / "raw", "a", A)
    code, out = run_until([1, 2], "first.log")
    assert code == 130, out
    assert "stopping after the running batch" in out and "stopped; the next start resumes" in out
    assert "mirror: 1 batch, 3 rows in, 2 written, 1 dropped by has_name" in out

    write_json(tmp_lake / "raw", "b", B)
    code, out = run_until([1, 2, 4, 5], "second.log")
    assert code == 130, out
    assert "mirror: 1 batch, 2 rows in, 2 written" in out
    assert ids(orders) == [1, 2, 4, 5]  # nothing written twice


def test_the_callers_active_session_is_the_same_after_a_stream(spark, tmp_lake, source):
    """Batches run on Spark's cloned session; it must not leak into the caller's code afterwards."""
    from pyspark.sql import SparkSession

    write_json(tmp_lake / "src", "a", A)
    loader = run(source, stream_into(FilesHandle(str(tmp_lake / "out")), tmp_lake / "cp"))
    assert loader.batches
    active = SparkSession.getActiveSession()
    assert active._jsparkSession.equals(spark._jsparkSession)
    assert SparkSession._activeSession._jsparkSession.equals(spark._jsparkSession)
