"""Kind ``queue`` end to end: real streaming queries fed from a queue in this process."""

from __future__ import annotations

import queue
import socket
import threading
import time
from collections import namedtuple
from pathlib import Path
from typing import Any, Callable

import pytest

from lakeport.errors import ConfigError, UnsupportedOperation
from lakeport_queue.handle import QueueHandle

SCHEMA = "id BIGINT, name STRING"
Person = namedtuple("Person", "id name")
WAIT = 120  # this machine is shared: be patient, never flaky


def collector() -> tuple[list[tuple], Callable[[Any, int], None]]:
    seen: list[tuple] = []

    def collect(batch: Any, _batch_id: int) -> None:
        seen.extend(tuple(r) for r in batch.collect())

    return seen, collect


def wait_until(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def queue_threads(table: str = "") -> list[str]:
    """Queue threads alive (of ``table`` only, when given).

    A suspended server of another handle still open wakes while any query starts, so a test that
    checks right after close() looks at its own table.
    """
    prefix = "lakeport-queue"
    return [t.name for t in threading.enumerate()
            if t.name.startswith(prefix) and (not table or t.name.endswith(f"[{table}]"))]


def test_rows_put_while_running_arrive_once_in_order_and_the_server_stops_with_the_query(
    spark: Any, tmp_path: Path
) -> None:
    q: queue.Queue = queue.Queue()
    handle = QueueHandle(source=q, schema=SCHEMA, table="people")
    seen, collect = collector()
    query = (
        handle.read_stream().writeStream.foreachBatch(collect)
        .option("checkpointLocation", str(tmp_path / "cp")).trigger(processingTime="0.3 seconds").start()
    )
    try:
        port = handle.server.address[1]
        for i in range(0, 1000):
            q.put((i, f"n{i}"))
        wait_until(lambda: len(seen) >= 1, "the first rows")
        for i in range(1000, 2000):  # while the query runs, in every item shape
            q.put({"id": i, "name": f"n{i}"} if i % 2 else Person(i, f"n{i}"))
        wait_until(lambda: len(seen) >= 2000, "all rows")
        time.sleep(1)  # a duplicate would arrive in the next trigger
    finally:
        query.stop()
    assert seen == [(i, f"n{i}") for i in range(2000)]
    wait_until(lambda: not queue_threads(), "the queue threads to end", timeout=30)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


@pytest.mark.parametrize("ending", ["stopped at once", "first batch fails", "source fails at start"])
def test_a_query_that_ends_before_its_first_batch_leaves_no_server_thread_or_port(
    spark: Any, tmp_path: Path, ending: str
) -> None:
    q: queue.Queue = queue.Queue()
    q.put((1, "a"))
    handle = QueueHandle(source=q, schema=SCHEMA, table="people")
    options = {"num_partitions": "many"} if ending == "source fails at start" else {}
    writer = handle.read_stream(**options).writeStream.option("checkpointLocation", str(tmp_path / "cp"))
    port = handle.server.address[1]
    assert queue_threads() and not refused(port)

    def crash(batch: Any, _batch_id: int) -> None:
        raise RuntimeError("sink is down")

    query = writer.foreachBatch(crash if ending == "first batch fails" else (lambda batch, batch_id: None)).start()
    if ending == "stopped at once":
        query.stop()
    else:
        with pytest.raises(Exception, match="sink is down" if ending == "first batch fails" else "many"):
            query.awaitTermination(WAIT)
    assert query.lastProgress is None  # it did end before its first batch
    wait_until(lambda: not queue_threads(), "the queue threads to end", timeout=30)
    assert refused(port)
    if ending == "first batch fails":  # its source had called: the server is done, not kept to resume
        wait_until(lambda: handle.server is None, "the server to be done", timeout=30)
    handle.close()


def test_a_dataframe_read_before_another_query_ran_still_streams_after_it(spark: Any, tmp_path: Path) -> None:
    q: queue.Queue = queue.Queue()
    handle = QueueHandle(source=q, schema=SCHEMA, table="people")
    df = handle.read_stream()
    port = handle.server.address[1]
    other = (
        spark.readStream.format("rate").load().writeStream.format("noop")
        .option("checkpointLocation", str(tmp_path / "other")).start()
    )
    other.stop()  # it might have been reading the queue: nothing is left serving until a query starts
    wait_until(lambda: not queue_threads(), "the queue server to be suspended", timeout=30)
    assert refused(port)
    seen, collect = collector()
    query = (
        df.writeStream.foreachBatch(collect).option("checkpointLocation", str(tmp_path / "cp"))
        .trigger(processingTime="0.2 seconds").start()
    )
    try:
        assert handle.server.address[1] == port  # served again, on the port the DataFrame knows
        for i in range(10):
            q.put((i, f"n{i}"))
        wait_until(lambda: len(seen) >= 10, "the rows")
    finally:
        query.stop()  # perhaps before its first progress event: done all the same, as its source called
    assert seen == [(i, f"n{i}") for i in range(10)]
    wait_until(lambda: not queue_threads(), "the queue threads to end", timeout=30)
    assert refused(port)
    wait_until(lambda: handle.server is None, "the server to be done, not kept to resume", timeout=30)


def test_restart_replays_uncommitted_batches_and_available_now_finishes(spark: Any, tmp_path: Path) -> None:
    q: queue.Queue = queue.Queue()
    for i in range(5):
        q.put((i, f"n{i}"))
    handle = QueueHandle(source=q, schema=SCHEMA, table="restarted")
    checkpoint = str(tmp_path / "cp")

    def crash(batch: Any, _batch_id: int) -> None:
        raise RuntimeError("sink is down")

    failing = (
        handle.read_stream().writeStream.foreachBatch(crash)
        .option("checkpointLocation", checkpoint).trigger(availableNow=True).start()
    )
    with pytest.raises(Exception, match="sink is down"):
        failing.awaitTermination(WAIT)
    for i in range(5, 7):
        q.put((i, f"n{i}"))
    seen, collect = collector()
    query = (
        handle.read_stream().writeStream.foreachBatch(collect)
        .option("checkpointLocation", checkpoint).trigger(availableNow=True).start()
    )
    assert query.awaitTermination(WAIT), "available-now did not finish"
    assert seen == [(i, f"n{i}") for i in range(7)]  # the failed batch again, then the new rows, once each
    handle.close()
    assert not queue_threads("restarted")


def test_close_returns_only_once_a_server_its_query_is_stopping_has_ended(
    spark: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The end of a query is seen on Spark's listener thread; close() may run while that stops the server."""
    from lakeport_queue import server as server_module

    handle = QueueHandle(source=queue.Queue(), schema=SCHEMA, table="closing")
    handle.read_stream()
    stopping = threading.Event()
    shutdown = server_module._Server.shutdown

    def slow_shutdown(httpd: Any) -> None:
        stopping.set()
        time.sleep(1)
        shutdown(httpd)

    monkeypatch.setattr(server_module._Server, "shutdown", slow_shutdown)
    query_end = threading.Thread(target=handle.server_done, args=(handle.server.id,))
    query_end.start()
    assert stopping.wait(WAIT)
    handle.close()
    assert not queue_threads("closing")
    query_end.join()


def test_an_item_that_does_not_fit_fails_the_query_naming_item_and_field(spark: Any, tmp_path: Path) -> None:
    handle = QueueHandle(source=[(1, "a"), (2, 3)], schema=SCHEMA, table="people")
    seen, collect = collector()
    query = (
        handle.read_stream().writeStream.foreachBatch(collect)
        .option("checkpointLocation", str(tmp_path / "cp")).trigger(availableNow=True).start()
    )
    with pytest.raises(Exception) as info:
        query.awaitTermination(WAIT)
    message = str(info.value)
    assert "queue table 'people': item 1, field 'name'" in message, message
    assert seen == []
    handle.close()


def test_kind_queue_from_toml_completes_when_the_iterable_is_exhausted(
    spark: Any, lakeport_project: Any, tmp_lake: Path
) -> None:
    (tmp_lake / "people_source.py").write_text(
        "def make():\n    return iter([(i, f'p{i}') for i in range(50)] + ['END', (99, 'never')])\n"
    )
    project = lakeport_project(
        """
        [tables.people]
        kind = "queue"
        schema = "id BIGINT, name STRING"
        source = "people_source:make"
        end_of_stream = "END"
        max_rows_per_trigger = 20
        """
    )
    handle = project.handle("people")
    assert isinstance(handle, QueueHandle) and handle.max_rows_per_trigger == 20
    seen, collect = collector()
    batch_sizes: list[int] = []

    def collect_sizes(batch: Any, batch_id: int) -> None:
        before = len(seen)
        collect(batch, batch_id)
        batch_sizes.append(len(seen) - before)

    query = (
        handle.read_stream().writeStream.foreachBatch(collect_sizes)
        .option("checkpointLocation", str(tmp_lake / "cp")).trigger(processingTime="0.2 seconds").start()
    )
    try:
        assert query.awaitTermination(WAIT), "the query did not stop at the end of the stream"
    finally:
        query.stop()
    assert seen == [(i, f"p{i}") for i in range(50)]
    assert max(batch_sizes) <= 20
    wait_until(lambda: not queue_threads(), "the queue threads to end", timeout=30)


def test_toml_errors_name_the_key(lakeport_project: Any, tmp_lake: Path) -> None:
    table = '[tables.people]\nkind = "queue"\nschema = "id BIGINT"\nsource = "{source}"\n'
    with pytest.raises(ConfigError, match=r"tables\.people\.source: cannot import module 'no_such_module'"):
        lakeport_project(table.format(source="no_such_module:make")).handle("people")
    (tmp_lake / "bad_source.py").write_text("def make():\n    return 42\n")
    with pytest.raises(ConfigError, match=r"tables\.people\.source: bad_source:make returned an unusable source"):
        lakeport_project(table.format(source="bad_source:make")).handle("people")
    no_schema = '[tables.people]\nkind = "queue"\nsource = "bad_source:make"\n'
    with pytest.raises(ConfigError, match=r"tables\.people\.schema: kind \"queue\" needs a schema"):
        lakeport_project(no_schema).handle("people")


def test_only_read_stream_and_schema_are_supported(spark: Any) -> None:
    handle = QueueHandle(source=queue.Queue(), schema=SCHEMA, table="people")
    df = spark.createDataFrame([(1, "a")], SCHEMA)
    calls = {
        "read": lambda: handle.read(),
        "append": lambda: handle.append(df),
        "overwrite": lambda: handle.overwrite(df),
        "upsert": lambda: handle.upsert(df, keys=["id"]),
        "delete": lambda: handle.delete("id = 1"),
        "truncate": handle.truncate,
        "drop": handle.drop,
        "create": handle.create,
        "exists": handle.exists,
    }
    for operation, call in calls.items():
        with pytest.raises(UnsupportedOperation, match=rf"queue table 'people' does not support {operation}\(\)"):
            call()
    assert handle.supports("read_stream") and handle.supports("schema")
    assert [f.name for f in handle.schema.fields] == ["id", "name"]
    with pytest.raises(ValueError, match="needs a schema"):
        QueueHandle(source=queue.Queue(), table="people")
    with pytest.raises(TypeError, match="queue.Queue"):
        QueueHandle(source=42, schema=SCHEMA, table="people")


def run_available_now(handle: QueueHandle, checkpoint: str, sink: Any) -> Any:
    query = (
        handle.read_stream().writeStream.foreachBatch(sink)
        .option("checkpointLocation", checkpoint).trigger(availableNow=True).start()
    )
    assert query.awaitTermination(WAIT), "available-now did not finish"
    return query


def test_a_new_queue_continues_the_checkpoint_of_an_earlier_run(spark: Any, tmp_path: Path) -> None:
    """The next ``lakeport run`` has a new queue (the old one died with its process) and the same checkpoint."""
    checkpoint = str(tmp_path / "cp")
    first, collect_first = collector()
    run_available_now(QueueHandle(source=[(i, f"a{i}") for i in range(4)], schema=SCHEMA, table="people"),
                      checkpoint, collect_first)
    assert first == [(i, f"a{i}") for i in range(4)]

    second, collect_second = collector()
    handle = QueueHandle(source=[(i, f"b{i}") for i in range(3)], schema=SCHEMA, table="people")
    run_available_now(handle, checkpoint, collect_second)
    assert second == [(i, f"b{i}") for i in range(3)]  # all of the new queue, nothing skipped
    handle.close()


def test_a_batch_left_uncommitted_by_an_earlier_run_is_not_replayed_from_the_new_queue(spark: Any, tmp_path: Path) -> None:
    checkpoint = str(tmp_path / "cp")

    def crash(batch: Any, _batch_id: int) -> None:
        raise RuntimeError("sink is down")

    earlier = QueueHandle(source=[(i, f"a{i}") for i in range(4)], schema=SCHEMA, table="people")
    failing = (
        earlier.read_stream().writeStream.foreachBatch(crash)
        .option("checkpointLocation", checkpoint).trigger(availableNow=True).start()
    )
    with pytest.raises(Exception, match="sink is down"):
        failing.awaitTermination(WAIT)
    earlier.close()

    seen, collect = collector()
    handle = QueueHandle(source=[(i, f"b{i}") for i in range(3)], schema=SCHEMA, table="people")
    run_available_now(handle, checkpoint, collect)
    # the planned batch's rows died with the earlier queue; the new rows come once, none misattributed
    assert seen == [(i, f"b{i}") for i in range(3)]
    handle.close()


def test_a_queue_already_read_refuses_another_queues_checkpoint(spark: Any, tmp_path: Path) -> None:
    run_available_now(QueueHandle(source=[(1, "a"), (2, "b")], schema=SCHEMA, table="other"),
                      str(tmp_path / "other"), collector()[1])
    q: queue.Queue = queue.Queue()
    q.put((7, "x"))
    handle = QueueHandle(source=q, schema=SCHEMA, table="people")
    run_available_now(handle, str(tmp_path / "mine"), collector()[1])
    q.put((8, "y"))
    query = (
        handle.read_stream().writeStream.foreachBatch(collector()[1])
        .option("checkpointLocation", str(tmp_path / "other")).trigger(availableNow=True).start()
    )
    with pytest.raises(Exception, match="the checkpoint holds positions of another queue"):
        query.awaitTermination(WAIT)
    handle.close()


def test_a_pyspark_without_python_stream_rate_limits_is_refused_before_anything_is_served(
    spark: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PySpark 4.1 would ignore max_rows_per_trigger and stop available-now short; refuse it instead."""
    import sys

    handle = QueueHandle(source=queue.Queue(), schema=SCHEMA, table="old_spark")
    monkeypatch.setitem(sys.modules, "pyspark.sql.streaming.datasource", None)  # as on PySpark 4.1
    with pytest.raises(UnsupportedOperation, match=r"queue table 'old_spark' does not support read_stream\(\): "
                                                   r"needs PySpark 4\.2 or later .*; this is PySpark 4\."):
        handle.read_stream()
    assert not queue_threads("old_spark")


@pytest.mark.parametrize(
    "options",
    [{}, {"prefetch": "false"}, {"num_partitions": "2", "min_rows_per_partition": "10"}],
    ids=["prefetched by the source runner", "read by a Python worker", "two partitions"],
)
def test_every_reader_delivers_each_row_once_in_order_and_replays_a_failed_batch(
    spark: Any, tmp_path: Path, options: dict[str, str]
) -> None:
    from lakeport_queue.source import prefetches

    assert prefetches(options) == (not options)
    q: queue.Queue = queue.Queue()
    for i in range(40):
        q.put((i, f"n{i}"))
    handle = QueueHandle(source=q, schema=SCHEMA, table="readers")
    checkpoint = str(tmp_path / "cp")

    def crash(batch: Any, _batch_id: int) -> None:
        batch.collect()
        raise RuntimeError("sink is down")

    failing = (
        handle.read_stream(**options).writeStream.foreachBatch(crash)
        .option("checkpointLocation", checkpoint).trigger(availableNow=True).start()
    )
    with pytest.raises(Exception, match="sink is down"):
        failing.awaitTermination(WAIT)
    for i in range(40, 50):
        q.put((i, f"n{i}"))
    seen, collect = collector()
    query = run_available_now_with(handle, checkpoint, collect, options)
    assert query.lastProgress is not None
    assert sorted(seen) == [(i, f"n{i}") for i in range(50)]  # the failed batch again, then the new rows
    if "num_partitions" not in options:
        assert seen == sorted(seen)  # one partition: in queue order
    handle.close()
    assert not queue_threads("readers")


def run_available_now_with(handle: QueueHandle, checkpoint: str, sink: Any, options: dict[str, str]) -> Any:
    query = (
        handle.read_stream(**options).writeStream.foreachBatch(sink)
        .option("checkpointLocation", checkpoint).trigger(availableNow=True).start()
    )
    assert query.awaitTermination(WAIT), "available-now did not finish"
    return query
