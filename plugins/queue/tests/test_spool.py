"""``delivery = "files"``: the queue spooled to parquet files that Spark's own file source streams."""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from lakeport.errors import ConfigError
from lakeport_queue.handle import QueueHandle

SCHEMA = "id BIGINT, name STRING"
WAIT = 120  # this machine is shared: be patient, never flaky


def collector() -> tuple[list[tuple], Callable[[Any, int], None]]:
    seen: list[tuple] = []
    return seen, lambda batch, _batch_id: seen.extend(tuple(r) for r in batch.collect())


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def queue_threads(table: str) -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("lakeport-queue") and t.name.endswith(f"[{table}]")]


def available_now(handle: QueueHandle, checkpoint: Path, sink: Any, **options: Any) -> Any:
    query = (
        handle.read_stream(**options).writeStream.foreachBatch(sink)
        .option("checkpointLocation", str(checkpoint)).trigger(availableNow=True).start()
    )
    assert query.awaitTermination(WAIT), "available-now did not finish"
    return query


def fail_one_batch(handle: QueueHandle, checkpoint: Path) -> None:
    """An available-now query whose sink reads its batch and then fails: the batch stays uncommitted."""

    def crash(batch: Any, _batch_id: int) -> None:
        batch.collect()
        raise RuntimeError("sink is down")

    failing = (
        handle.read_stream().writeStream.foreachBatch(crash)
        .option("checkpointLocation", str(checkpoint)).trigger(availableNow=True).start()
    )
    with pytest.raises(Exception, match="sink is down"):
        failing.awaitTermination(WAIT)


def test_rows_arrive_once_in_order_through_spark_file_source_and_committed_files_are_deleted(
    spark: Any, tmp_path: Path
) -> None:
    q: queue.Queue = queue.Queue()
    for i in range(5):
        q.put((i, f"n{i}"))
    handle = QueueHandle(source=q, schema=SCHEMA, table="spooled", delivery="files")
    seen, collect = collector()
    query = available_now(handle, tmp_path / "cp", collect)
    assert seen == [(i, f"n{i}") for i in range(5)]
    assert query.lastProgress["sources"][0]["description"].startswith("FileStreamSource[")  # no Python source
    spool = handle._spool
    assert spool is not None
    wait_until(lambda: not spool.pending_files, "the committed file to be deleted")
    # A new query with a new checkpoint reads only what was not committed: the new rows.
    for i in range(5, 8):
        q.put((i, f"n{i}"))
    again, collect_again = collector()
    available_now(handle, tmp_path / "cp2", collect_again)
    assert again == [(i, f"n{i}") for i in range(5, 8)]
    folder = spool.directory
    handle.close()
    assert not folder.exists()
    assert not queue_threads("spooled")


def test_a_failed_batch_is_read_again_from_its_file_by_the_restarted_query(spark: Any, tmp_path: Path) -> None:
    q: queue.Queue = queue.Queue()
    for i in range(5):
        q.put((i, f"n{i}"))
    handle = QueueHandle(source=q, schema=SCHEMA, table="spool_restart", delivery="files")
    fail_one_batch(handle, tmp_path / "cp")
    for i in range(5, 7):
        q.put((i, f"n{i}"))
    seen, collect = collector()
    available_now(handle, tmp_path / "cp", collect)
    assert seen == [(i, f"n{i}") for i in range(7)]  # the failed batch again, then the new rows, once each
    handle.close()


def test_max_rows_per_trigger_caps_each_batch_and_keeps_the_order(spark: Any, tmp_path: Path) -> None:
    rows = [(i, f"n{i}") for i in range(10)]
    handle = QueueHandle(source=list(rows), schema=SCHEMA, table="spool_capped", delivery="files",
                         max_rows_per_trigger=4)
    batches: list[list[tuple]] = []
    available_now(handle, tmp_path / "cp", lambda batch, _id: batches.append([tuple(r) for r in batch.collect()]))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert [r for b in batches for r in b] == rows
    handle.close()


def test_end_of_stream_stops_a_continuous_query_once_everything_is_committed(spark: Any, tmp_path: Path) -> None:
    q: queue.Queue = queue.Queue()
    handle = QueueHandle(source=q, schema=SCHEMA, table="spool_end", delivery="files", end_of_stream="END")
    seen, collect = collector()
    query = (
        handle.read_stream().writeStream.foreachBatch(collect)
        .option("checkpointLocation", str(tmp_path / "cp")).trigger(processingTime="100 milliseconds").start()
    )
    for i in range(3):
        q.put((i, f"n{i}"))
    wait_until(lambda: len(seen) == 3, "the first rows")
    for i in range(3, 6):
        q.put((i, f"n{i}"))
    q.put("END")
    assert query.awaitTermination(WAIT), "the query did not stop at the end of the stream"
    assert seen == [(i, f"n{i}") for i in range(6)]
    handle.close()


def test_an_item_that_does_not_fit_fails_the_query_naming_item_and_field(spark: Any, tmp_path: Path) -> None:
    handle = QueueHandle(source=[(1, "a"), ("two", "b")], schema=SCHEMA, table="spool_bad", delivery="files")
    with pytest.raises(Exception, match=r"spool_bad.*item 1, field 'id'"):
        seen, collect = collector()
        available_now(handle, tmp_path / "cp", collect)
    handle.close()


def test_an_item_that_does_not_fit_while_the_query_runs_fails_it_naming_item_and_field(
    spark: Any, tmp_path: Path
) -> None:
    q: queue.Queue = queue.Queue()
    handle = QueueHandle(source=q, schema=SCHEMA, table="spool_late_bad", delivery="files")
    seen, collect = collector()
    query = (
        handle.read_stream().writeStream.foreachBatch(collect)
        .option("checkpointLocation", str(tmp_path / "cp")).trigger(processingTime="100 milliseconds").start()
    )
    q.put((0, "a"))
    wait_until(lambda: seen == [(0, "a")], "the first row")
    q.put(("one", "b"))
    with pytest.raises(Exception, match=r"queue-table-spool_late_bad-item-1-field-id"):
        query.awaitTermination(WAIT)
    handle.close()


def test_delivery_from_toml_and_its_errors(lakeport_project: Any, tmp_lake: Path) -> None:
    project = lakeport_project(
        '[tables.t]\nkind = "queue"\nschema = "id BIGINT"\nsource = "builtins:list"\ndelivery = "files"\n'
    )
    assert project.handle("t").delivery.value == "files"
    with pytest.raises(ConfigError, match=r"tables\.t\.delivery"):
        lakeport_project('[tables.t]\nkind = "queue"\nschema = "id BIGINT"\nsource = "builtins:list"\n'
                         'delivery = "socket"\n').handle("t")
    with pytest.raises(ValueError, match="delivery must be one of 'server', 'files', not 'socket'"):
        QueueHandle(source=[], schema=SCHEMA, table="x", delivery="socket")


def test_server_only_options_are_refused_with_files(spark: Any) -> None:
    handle = QueueHandle(source=[], schema=SCHEMA, table="spool_opts", delivery="files")
    with pytest.raises(ValueError, match="option 'num_partitions' is for delivery \"server\""):
        handle.read_stream(num_partitions=4)
    handle.close()


def test_the_next_run_of_a_project_table_continues_a_checkpoint_left_with_an_unfinished_batch(
    spark: Any, lakeport_project: Any, tmp_lake: Path
) -> None:
    """The unfinished batch's file went with the first run's queue; the next run's rows arrive, once."""
    (tmp_lake / "runs.py").write_text(
        "RUN = {'first': 0}\n"
        "def make():\n"
        "    RUN['first'] += 1\n"
        "    start = 0 if RUN['first'] == 1 else 100\n"
        "    return [(i, f'n{i}') for i in range(start, start + 3)]\n"
    )
    text = '[tables.people]\nkind = "queue"\nschema = "id BIGINT, name STRING"\nsource = "runs:make"\ndelivery = "files"\n'
    first = lakeport_project(text).handle("people")
    fail_one_batch(first, tmp_lake / "cp")
    assert first._spool is not None
    folder = first._spool.directory
    first.close()  # the first run's process ends: its queue and spool are gone
    second = lakeport_project(text).handle("people")
    seen, collect = collector()
    available_now(second, tmp_lake / "cp", collect)
    assert seen == [(i, f"n{i}") for i in range(100, 103)]
    assert second._spool is not None and second._spool.directory == folder  # the same folder in every run
    second.close()


def test_a_checkpoint_of_the_other_delivery_is_refused_with_what_to_do(
    spark: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = QueueHandle(source=[(1, "a")], schema=SCHEMA, table="by_server", delivery="server")
    available_now(server, tmp_path / "server_cp", collector()[1])
    server.close()
    files = QueueHandle(source=[(2, "b")], schema=SCHEMA, table="by_files", delivery="files")
    with caplog.at_level("ERROR", logger="lakeport_queue"), pytest.raises(Exception, match="logOffset"):
        available_now(files, tmp_path / "server_cp", collector()[1])
    wait_until(lambda: any("needs a checkpoint of its own" in r.getMessage() for r in caplog.records),
               "the error naming the cause")
    available_now(files, tmp_path / "files_cp", collector()[1])
    files.close()
    again = QueueHandle(source=[(3, "c")], schema=SCHEMA, table="by_server_again", delivery="server")
    with pytest.raises(Exception, match=r"by_server_again.*checkpoint holds offsets \{'logOffset': 0\}.*new "
                                        "checkpoint_path"):
        available_now(again, tmp_path / "files_cp", collector()[1])
    again.close()


def test_read_stream_does_not_wait_for_a_producer_that_keeps_putting(spark: Any, tmp_path: Path) -> None:
    q: queue.Queue = queue.Queue()
    stop = threading.Event()

    def produce() -> None:
        i = 0
        while not stop.is_set() and i < 5_000_000:
            q.put((i, "x"))
            i += 1

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    wait_until(lambda: q.qsize() > 1000, "the producer to start")
    handle = QueueHandle(source=q, schema=SCHEMA, table="spool_busy", delivery="files")
    try:
        handle.read_stream()
        assert producer.is_alive()  # read_stream() took what was queued, not the producer's whole run
    finally:
        stop.set()
        producer.join()
        handle.close()
