"""The driver-side feed and server, without a streaming query: conversion, trimming, the key, loopback."""

from __future__ import annotations

import dataclasses
import http.client
import queue
import socket
import subprocess
import sys
import time
from collections import namedtuple

import pytest

pytest.importorskip("pyarrow")
pytest.importorskip("pyspark")

from pyspark.sql.types import LongType, StringType, StructField, StructType  # noqa: E402

from lakeport_queue.feed import Feed, QueueItemError  # noqa: E402
from lakeport_queue.server import KEY_HEADER, FeedServer  # noqa: E402
from lakeport_queue.source import KEY_OPTION, QueueClient, QueueSourceError, QueueStreamReader  # noqa: E402

SCHEMA = StructType([StructField("id", LongType(), False), StructField("name", StringType())])
Person = namedtuple("Person", "id name")


@dataclasses.dataclass
class PersonDC:
    name: str
    id: int


def drained(feed: Feed, count: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while feed.latest(None, None) < count:
        assert time.monotonic() < deadline, f"feed has {feed.end} of {count} rows"
        time.sleep(0.01)


def test_items_of_every_shape_become_rows_in_order() -> None:
    feed = Feed([(1, "a"), {"id": 2, "name": "b"}, Person(3, "c"), PersonDC("d", 4), [5, None], {"id": 6}],
                SCHEMA, table="people")
    feed.start()
    drained(feed, 6)
    rows = [r for b in feed.rows(0, 6) for r in zip(*(c.to_pylist() for c in b.columns), strict=True)]
    assert rows == [(1, "a"), (2, "b"), (3, "c"), (4, "d"), (5, None), (6, None)]
    assert feed.exhausted
    feed.stop()


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([(1, "a"), (2, 3)], ["item 1", "field 'name'", "does not fit string"]),
        ([(1, "a"), ("x", "b")], ["item 1", "field 'id'", "'x'"]),
        ([(1, "a"), (2, "b"), (3,)], ["item 2", "has 1 values but the schema has 2 fields (id, name)"]),
        ([{"id": 1, "nme": "a"}], ["item 0", "field 'nme'", "is not a field"]),
        ([(1, "a"), {"name": "b"}], ["item 1", "field 'id'", "NOT NULL"]),
        ([(1, "a"), 42], ["item 1", "cannot turn a int into a row"]),
    ],
)
def test_item_that_does_not_fit_names_position_and_field(items: list, expected: list[str]) -> None:
    feed = Feed(items, SCHEMA, table="people")
    feed.start()
    deadline = time.monotonic() + 10
    while feed.error is None and time.monotonic() < deadline:
        time.sleep(0.01)
    feed.stop()
    with pytest.raises(QueueItemError) as info:
        feed.latest(0, None)
    message = str(info.value)
    assert "people" in message
    for part in expected:
        assert part in message


def test_commit_trims_and_uncommitted_rows_stay_for_replay() -> None:
    q: queue.Queue = queue.Queue()
    feed = Feed(q, SCHEMA, table="people")
    feed.start()
    for i in range(10):
        q.put((i, str(i)))
    drained(feed, 10)
    feed.commit(4)
    assert feed.replay_from() == 4
    assert sum(b.num_rows for b in feed.rows(4, 10)) == 6
    with pytest.raises(Exception, match="already committed and trimmed"):
        feed.rows(0, 10)
    feed.stop()


def test_end_of_stream_marker_completes_the_feed() -> None:
    q: queue.Queue = queue.Queue()
    for item in [(1, "a"), (2, "b"), "END", (3, "c")]:
        q.put(item)
    feed = Feed(q, SCHEMA, table="people", end_of_stream="END")
    feed.start()
    drained(feed, 2)
    deadline = time.monotonic() + 5
    while not feed.exhausted and time.monotonic() < deadline:
        time.sleep(0.01)
    assert feed.complete(2) and feed.end == 2
    assert q.get_nowait() == (3, "c")  # nothing after the marker is taken
    feed.stop()


@pytest.fixture
def served() -> FeedServer:
    q: queue.Queue = queue.Queue()
    for i in range(5):
        q.put((i, str(i)))
    feed = Feed(q, SCHEMA, table="people")
    feed.start()
    drained(feed, 5)
    server = FeedServer(feed)
    server.start()
    yield server
    server.stop()
    feed.stop()


def test_wrong_key_is_refused_and_no_rows_are_served(served: FeedServer) -> None:
    host, port = served.address
    conn = http.client.HTTPConnection(host, port, timeout=5)
    conn.request("GET", "/rows?start=0&end=5", headers={KEY_HEADER: "0" * 64})
    response = conn.getresponse()
    body = response.read()
    assert response.status == 403 and b"wrong or missing key" in body
    conn.request("GET", "/rows?start=0&end=5")  # no key at all
    response = conn.getresponse()
    assert response.status == 403 and b"ARROW" not in response.read()
    conn.close()
    with pytest.raises(QueueSourceError, match="HTTP 403"):
        QueueClient(port, "not-the-key", "people").call("/initial")
    assert QueueClient(port, served.key, "people").call("/initial")["position"] == 0


def test_server_listens_on_loopback_only(served: FeedServer) -> None:
    host, port = served.address
    assert host == "127.0.0.1"
    other = _non_loopback_address()
    if other is None:
        pytest.skip("this machine has no non-loopback address")
    with pytest.raises(OSError):
        socket.create_connection((other, port), timeout=2).close()


def test_stopped_server_leaves_no_thread_or_port(served: FeedServer) -> None:
    import threading

    port = served.address[1]
    client = QueueClient(port, served.key, "people")
    client.call("/initial")  # leaves a kept-alive connection (and its handler thread) open
    served.stop()
    served.feed.stop()
    names = [t.name for t in threading.enumerate()]
    assert not [n for n in names if n.startswith("lakeport-queue")], names
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    client.close()


def test_a_micro_batch_is_one_partition_unless_asked_to_split() -> None:
    def ranges(start: int, end: int, **options: str) -> list[tuple[int, int]]:
        reader = QueueStreamReader({"port": "1", KEY_OPTION: "k", **options}, SCHEMA)
        return [(p.start, p.end) for p in reader.partitions({"position": start}, {"position": end})]

    assert ranges(10, 100_010) == [(10, 100_010)]
    assert ranges(0, 100_000, num_partitions="4") == [(0, 25_000), (25_000, 50_000), (50_000, 75_000),
                                                      (75_000, 100_000)]
    assert ranges(0, 30_000, num_partitions="4") == [(0, 30_000)]  # at least 20,000 rows each
    assert ranges(5, 5, num_partitions="4") == []


def test_plugin_module_imports_nothing_heavy() -> None:
    code = "import sys, lakeport_queue.plugin; print(sorted(m for m in ('pyspark', 'pyarrow') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _non_loopback_address() -> str | None:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("10.255.255.255", 1))
        address = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") else address
