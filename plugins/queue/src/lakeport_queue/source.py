"""The Spark Python streaming data source ``lakeport_queue``.

Runs in Spark's Python processes (the source runner that plans micro-batches,
and the executor workers that read partitions), never in the driver's process,
so every call goes to the driver's :class:`~lakeport_queue.server.FeedServer`.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Iterator, cast

from pyspark.errors import PySparkNotImplementedError
from pyspark.sql.datasource import DataSource, DataSourceStreamReader, InputPartition, SimpleDataSourceStreamReader
from pyspark.sql.types import StructType

try:  # PySpark >= 4.2; QueueHandle.read_stream() refuses older ones (lakeport.session.python_streams_unsupported)
    from pyspark.sql.streaming.datasource import ReadMaxRows, SupportsTriggerAvailableNow
except ImportError:  # pragma: no cover - only for the module to import: no admission control, no available-now
    ReadMaxRows = None  # type: ignore[assignment,misc]
    SupportsTriggerAvailableNow = object  # type: ignore[assignment,misc]

from lakeport_queue.wire import HOST, KEY_HEADER

log = logging.getLogger(__name__)

NAME = "lakeport_queue"
#: options only this source reads (``delivery = "server"``); the files delivery refuses them.
SERVER_OPTIONS = ("num_partitions", "min_rows_per_partition", "prefetch")
#: Spark redacts option values whose key matches ``spark.redaction.regex`` (``...token...``).
KEY_OPTION = "auth_token"


class QueueSourceError(RuntimeError):
    """The driver's queue server refused or failed a request."""


class QueueClient:
    """A kept-alive HTTP connection to the driver's feed server.

    ``http.client`` (which imports ``ssl``, ~0.1 s) is imported on the first call: most of
    Spark's Python processes that build a reader never call.
    """

    def __init__(self, port: int, key: str, table: str) -> None:
        self.port, self.key, self.table = port, key, table
        self._conn: Any = None  # http.client.HTTPConnection

    def __getstate__(self) -> dict[str, Any]:
        return {"port": self.port, "key": self.key, "table": self.table, "_conn": None}

    def call(self, path: str, method: str = "GET", timeout: float = 120.0) -> Any:
        import http.client

        for attempt in (1, 2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
            try:
                self._conn.request(method, path, headers={KEY_HEADER: self.key, "Content-Length": "0"})
                response = self._conn.getresponse()
                body = response.read()
                break
            except ConnectionRefusedError:
                raise QueueSourceError(
                    f"queue table {self.table!r}: the queue server on {HOST}:{self.port} is gone (its query or "
                    "handle was stopped); call handle.read_stream() again to start a new query"
                ) from None
            except (http.client.HTTPException, ConnectionError):
                self.close()  # a kept-alive connection the server closed: retry once on a new one
                if attempt == 2:
                    raise
        if response.status != 200:
            try:
                message = json.loads(body).get("error", body.decode(errors="replace"))
            except ValueError:
                message = body.decode(errors="replace")
            raise QueueSourceError(f"queue server refused {path} (HTTP {response.status}): {message}")
        if response.getheader("Content-Type", "").startswith("application/json"):
            return json.loads(body)
        return body

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class QueueDataSource(DataSource):
    """``spark.readStream.format("lakeport_queue")``; built by ``QueueHandle.read_stream()``."""

    @classmethod
    def name(cls) -> str:
        return NAME

    def schema(self) -> str:
        raise QueueSourceError("the lakeport_queue source needs .schema(...); use QueueHandle.read_stream()")

    def streamReader(self, schema: StructType) -> DataSourceStreamReader:  # noqa: N802 - pyspark API
        if prefetches(self.options):  # PySpark then asks simpleStreamReader()
            raise PySparkNotImplementedError(errorClass="NOT_IMPLEMENTED", messageParameters={"feature": "streamReader"})
        return QueueStreamReader(self.options, schema)

    def simpleStreamReader(self, schema: StructType) -> SimpleDataSourceStreamReader:  # noqa: N802
        return QueuePrefetchReader(self.options, schema)


def prefetches(options: Any) -> bool:
    """One partition per batch (the default) and ``prefetch`` not switched off: the prefetching reader.

    Spark's source runner (the Python process that plans the batches) then reads each batch when it
    plans it and hands the Arrow batches to Spark, which keeps them in its block manager: no Python
    worker starts to read the partition, and a small micro-batch costs no Python process of its own.
    """
    partitions = max(1, int(options.get("num_partitions", "1")))
    return partitions == 1 and str(options.get("prefetch", "true")).lower() not in ("false", "0", "no")


class QueuePartition(InputPartition):
    def __init__(self, start: int, end: int, feed: str = "") -> None:
        super().__init__((start, end))
        self.start, self.end, self.feed = start, end, feed


def _client(options: Any) -> QueueClient:
    for required in ("port", KEY_OPTION):
        if required not in options:
            raise QueueSourceError(f"the lakeport_queue source needs option {required!r}; use QueueHandle.read_stream()")
    return QueueClient(int(options["port"]), options[KEY_OPTION], options.get("table", "<unnamed>"))


def _position(offset: dict, table: str) -> int:
    """An offset's position; a checkpoint of the other delivery holds ``{"logOffset": n}`` instead."""
    try:
        return int(offset["position"])
    except (KeyError, TypeError, ValueError):
        raise QueueSourceError(
            f"queue table {table!r}: the checkpoint holds offsets {offset!r}, not a queue's positions: it was "
            'written by another source (a queue read with delivery = "files"?); give this query a new '
            "checkpoint_path"
        ) from None


def _rows(client: QueueClient, start: int, end: int, feed: str) -> list[Any]:
    """Rows [start, end) of ``feed`` as Arrow record batches, from the driver."""
    import pyarrow as pa

    body = client.call(f"/rows?start={start}&end={end}&feed={feed}")
    return list(pa.ipc.open_stream(body))


def _stop(client: QueueClient) -> None:
    """The query ended: let the driver stop the server (it may already be gone)."""
    try:
        client.call("/stop", "POST", timeout=10)
    except (QueueSourceError, OSError) as exc:
        log.debug("queue table %r: stop request not delivered: %s", client.table, exc)
    client.close()


class QueuePrefetchReader(SimpleDataSourceStreamReader, SupportsTriggerAvailableNow):
    """Offsets ``{"position": n}`` as below; ``read`` plans the batch and fetches its rows at once.

    Runs in Spark's source runner only (replays after a restart excepted: ``readBetweenOffsets``
    runs in a Python worker). ``max_rows_per_trigger`` caps what each ``read`` takes.
    """

    def __init__(self, options: Any, schema: StructType) -> None:
        self.client = _client(options)
        self.table = self.client.table
        self.max_rows_per_trigger = int(options["max_rows_per_trigger"]) if options.get("max_rows_per_trigger") else None

    def initialOffset(self) -> dict:  # noqa: N802 - pyspark API
        return self.client.call("/initial")

    def read(self, start: dict) -> tuple[Iterator[Any], dict]:
        first = _position(start, self.table)
        query = f"start={first}&feed={start.get('feed', '')}"
        if self.max_rows_per_trigger:
            query += f"&max_rows={self.max_rows_per_trigger}"
        end = self.client.call("/latest?" + query)
        if end is None:  # nothing new
            return iter(()), start
        return iter(_rows(self.client, first, _position(end, self.table), end.get("feed", ""))), end

    def readBetweenOffsets(self, start: dict, end: dict) -> Iterator[Any]:  # noqa: N802
        client = QueueClient(self.client.port, self.client.key, self.table)
        try:
            return iter(_rows(client, _position(start, self.table), _position(end, self.table), end.get("feed", "")))
        finally:
            client.close()

    def prepareForTriggerAvailableNow(self) -> None:  # noqa: N802
        self.client.call("/prepare", "POST", timeout=600)

    def commit(self, end: dict) -> None:
        self.client.call(f"/commit?end={_position(end, self.table)}", "POST")

    def stop(self) -> None:
        _stop(self.client)


class QueueStreamReader(DataSourceStreamReader, SupportsTriggerAvailableNow):
    """Offsets ``{"position": n}``; every decision is the driver's."""

    def __init__(self, options: Any, schema: StructType) -> None:
        self.client = _client(options)
        self.table = self.client.table
        self.max_rows_per_trigger = int(options["max_rows_per_trigger"]) if options.get("max_rows_per_trigger") else None
        self.num_partitions = max(1, int(options.get("num_partitions", "1")))
        self.min_rows_per_partition = max(1, int(options.get("min_rows_per_partition", "20000")))

    def initialOffset(self) -> dict:  # noqa: N802 - pyspark API
        return self.client.call("/initial")

    def getDefaultReadLimit(self) -> Any:  # noqa: N802
        if self.max_rows_per_trigger and ReadMaxRows is not None:
            return ReadMaxRows(self.max_rows_per_trigger)
        return super().getDefaultReadLimit()

    def latestOffset(self, start: dict | None = None, limit: Any = None) -> dict:  # noqa: N802
        query = []
        if start is not None:
            query.append(f"start={_position(start, self.table)}&feed={start.get('feed', '')}")
            max_rows = getattr(limit, "max_rows", None)
            if max_rows is not None:
                query.append(f"max_rows={int(max_rows)}")
        offset = self.client.call("/latest" + ("?" + "&".join(query) if query else ""))
        return cast(dict, start if offset is None else offset)  # unchanged start: no new micro-batch

    def prepareForTriggerAvailableNow(self) -> None:  # noqa: N802
        self.client.call("/prepare", "POST", timeout=600)

    def partitions(self, start: dict, end: dict) -> list[InputPartition]:
        first, last = _position(start, self.table), _position(end, self.table)
        total = last - first
        if total <= 0:
            return []
        count = max(1, min(self.num_partitions, total // self.min_rows_per_partition))
        bounds = [first + total * i // count for i in range(count + 1)]
        feed = end.get("feed", "")
        return [QueuePartition(lo, hi, feed) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True) if hi > lo]

    def read(self, partition: QueuePartition) -> Iterator[Any]:  # type: ignore[override]
        client = QueueClient(self.client.port, self.client.key, self.table)
        try:
            yield from _rows(client, partition.start, partition.end, partition.feed)
        finally:
            client.close()

    def commit(self, end: dict) -> None:
        self.client.call(f"/commit?end={_position(end, self.table)}", "POST")

    def stop(self) -> None:
        _stop(self.client)
