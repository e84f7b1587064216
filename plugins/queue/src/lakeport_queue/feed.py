"""The driver-side buffer: items drained from a queue or iterable, kept as Arrow until committed.

Positions count items from the start of the feed (0, 1, 2, ...). Spark's offsets
are ``{"position": n}``; rows below the committed position are trimmed. Rows are
converted to Arrow when they are sealed (in chunks), so serving a batch to a
Spark worker is a zero-copy slice plus one IPC write.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import queue as queue_module
import secrets
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from lakeport.api import LakeportError, SchemaMismatch

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql.types import StructType

log = logging.getLogger(__name__)

#: "no end-of-stream marker": a queue is then read until the query stops.
NO_MARKER: Any = object()

#: items sealed into one Arrow chunk by the drainer at most.
CHUNK_ROWS = 8192


class QueueItemError(SchemaMismatch):
    """An item taken from the queue does not fit the declared schema."""

    def __init__(self, table: str, position: int, field: str | None, problem: str) -> None:
        self.table, self.position, self.field = table, position, field
        where = f"item {position}" + (f", field {field!r}" if field else "")
        super().__init__(f"queue table {table!r}: {where}: {problem}")


class FeedClosed(LakeportError):
    """The feed was closed; its rows can no longer be served."""


def _is_queue(source: Any) -> bool:
    return hasattr(source, "get") and hasattr(source, "get_nowait")


def check_source(source: Any) -> None:
    """Refuse early what can be neither drained like a queue nor iterated."""
    if _is_queue(source):
        return
    if isinstance(source, (str, bytes, dict)) or not hasattr(source, "__iter__"):
        raise TypeError(
            f"source must be a queue.Queue (anything with get/get_nowait) or an iterable of rows, "
            f"not {type(source).__name__}"
        )


class Normalizer:
    """Turns one item (tuple, list, dict, namedtuple, Row, dataclass) into a tuple in schema order."""

    def __init__(self, table: str, names: list[str]) -> None:
        self.table = table
        self.names = names
        self.width = len(names)
        self.known = set(names)
        self._by_type: dict[type, Callable[[Any, int], tuple]] = {}

    def __call__(self, item: Any, position: int) -> tuple:
        kind = type(item)
        if kind is tuple and len(item) == self.width:
            return item
        convert = self._by_type.get(kind)
        if convert is None:
            convert = self._by_type[kind] = self._converter_for(item, position)
        return convert(item, position)

    def _converter_for(self, item: Any, position: int) -> Callable[[Any, int], tuple]:
        if isinstance(item, dict) or (hasattr(item, "keys") and hasattr(item, "__getitem__")):
            return self._from_mapping
        fields = getattr(item, "_fields", None) or getattr(item, "__fields__", None)
        if isinstance(item, tuple) and fields:
            return lambda it, pos: self._from_mapping(
                dict(zip(type(it)._fields if hasattr(it, "_fields") else it.__fields__, it, strict=True)), pos)
        if isinstance(item, (tuple, list)):
            return self._from_sequence
        if dataclasses.is_dataclass(item) and not isinstance(item, type):
            return self._from_dataclass
        raise QueueItemError(
            self.table, position, None,
            f"cannot turn a {type(item).__name__} into a row; use a tuple, dict, namedtuple or dataclass",
        )

    def _from_sequence(self, item: Any, position: int) -> tuple:
        if len(item) != self.width:
            raise QueueItemError(
                self.table, position, None,
                f"has {len(item)} values but the schema has {self.width} fields ({', '.join(self.names)})",
            )
        return tuple(item)

    def _from_mapping(self, item: Any, position: int) -> tuple:
        extra = [k for k in item.keys() if k not in self.known]
        if extra:
            raise QueueItemError(self.table, position, str(extra[0]), "is not a field of the schema "
                                 f"({', '.join(self.names)})")
        return tuple(item.get(name) for name in self.names)

    def _from_dataclass(self, item: Any, position: int) -> tuple:
        values = {f.name: getattr(item, f.name) for f in dataclasses.fields(item)}
        return self._from_mapping(values, position)


class Feed:
    """Drains a queue or iterable into Arrow chunks; serves, trims and replays them by position."""

    def __init__(
        self,
        source: Any,
        schema: StructType,
        *,
        table: str,
        end_of_stream: Any = NO_MARKER,
        max_buffered_rows: int = 1_000_000,
    ) -> None:
        import pyarrow as pa

        from lakeport.api import to_arrow

        check_source(source)
        self.table = table
        self.schema = schema
        self.arrow_schema: pa.Schema = to_arrow(schema)
        self._row_type = pa.struct(list(self.arrow_schema))
        self.end_of_stream = end_of_stream
        self.max_buffered_rows = max_buffered_rows
        self._source = source
        self._is_queue = _is_queue(source)
        self._iterator: Iterator[Any] | None = None
        self._normalize = Normalizer(table, [f.name for f in schema.fields])
        self._pending: collections.deque[Any] = collections.deque()
        self._pulled = 0  # items taken from the source (pending + sealed + trimmed)
        self._chunks: list[tuple[int, pa.RecordBatch]] = []  # (first position, rows)
        self._base = 0  # first position still kept (everything below is committed)
        self._end = 0  # one past the last sealed position
        self._seal_lock = threading.Lock()
        self._state = threading.Condition()
        self._idle_rounds = 0  # how often the drainer found the source empty
        self._exhausted = False  # end marker seen or iterable exhausted
        self.error: QueueItemError | None = None
        self._drainer: threading.Thread | None = None
        self._stopping = threading.Event()
        self._available_now_target: int | None = None
        #: names this feed in offsets, so a checkpoint from an earlier feed is recognised.
        self.id = secrets.token_hex(6)
        #: feeds whose checkpointed positions this one continues (see ``align``).
        self._aligned_with: set[str] = set()
        self._used = False  # positions were handed to a query

    # -- the drainer thread -------------------------------------------------------------
    def start(self) -> None:
        """Start pulling items from the source (again, after a stop)."""
        if self._drainer is not None and self._drainer.is_alive():
            return
        self._stopping.clear()
        self._drainer = threading.Thread(target=self._drain, name=f"lakeport-queue-drainer[{self.table}]", daemon=True)
        self._drainer.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the drainer; what it pulled stays buffered for the next query."""
        self._stopping.set()
        drainer, self._drainer = self._drainer, None
        if drainer is not None and drainer is not threading.current_thread():
            drainer.join(timeout)
            if drainer.is_alive():
                log.warning("queue table %r: the source's iterator is blocked; its drainer thread is left behind",
                            self.table)
        self._seal_quietly()

    @property
    def exhausted(self) -> bool:
        return self._exhausted

    def _drain(self) -> None:
        try:
            if self._is_queue:
                self._drain_queue()
            else:
                self._drain_iterable()
        except Exception as exc:  # noqa: BLE001 - becomes the query's error through latest_offset
            log.exception("queue table %r: reading the source failed", self.table)
            self.error = self.error or QueueItemError(self.table, self._pulled, None, f"the source raised {exc!r}")
            self._mark_idle()

    def _wait_for_room(self) -> bool:
        """Back-pressure: hold off while too many uncommitted rows are buffered; False = stop."""
        while (self._end - self._base) + len(self._pending) >= self.max_buffered_rows:
            self._mark_idle()
            if self._stopping.wait(0.01):
                return False
        return not self._stopping.is_set()

    def _take(self, item: Any) -> bool:
        """Buffer one item; False once the end-of-stream marker arrived."""
        if self._ends_stream(item):
            self._exhausted = True
            self._seal_quietly()
            self._mark_idle()
            log.info("queue table %r: end of stream after %d items", self.table, self._pulled)
            return False
        self._pending.append(item)
        self._pulled += 1
        if len(self._pending) >= CHUNK_ROWS:
            self._seal_quietly()
        return True

    def _ends_stream(self, item: Any) -> bool:
        return self.end_of_stream is not NO_MARKER and (item is self.end_of_stream or _same(item, self.end_of_stream))

    def _take_all(self) -> bool:
        """Move everything in a plain ``queue.Queue`` at once (one lock, not one ``get`` per item)."""
        source = self._source
        with source.mutex:
            items = list(source.queue)
            source.queue.clear()
            source.not_full.notify_all()
        end = None
        if self.end_of_stream is not NO_MARKER:  # with no marker, no Python work per item
            end = next((index for index, item in enumerate(items) if self._ends_stream(item)), None)
        if end is not None:  # put back what followed the end marker, in order, before the end is announced
            with source.mutex:
                source.queue.extendleft(reversed(items[end + 1:]))
                source.not_empty.notify_all()
        taken = items[:end]
        self._pending.extend(taken)
        self._pulled += len(taken)
        if len(self._pending) >= CHUNK_ROWS:
            self._seal_quietly()
        return end is None or self._take(items[end])

    def _drain_queue(self) -> None:
        source = self._source
        shutdown = getattr(queue_module, "ShutDown", None) or _NeverRaised
        bulk = type(source) is queue_module.Queue
        while self._wait_for_room():
            if bulk and source.qsize() > 1:
                if not self._take_all():
                    return
                continue
            try:
                item = source.get_nowait()
            except queue_module.Empty:
                self._seal_quietly()
                self._mark_idle()
                try:
                    item = source.get(timeout=0.05)
                except queue_module.Empty:
                    continue
            except shutdown:
                self._finish("the queue was shut down")
                return
            if not self._take(item):
                return

    def _drain_iterable(self) -> None:
        if self._iterator is None:
            self._iterator = iter(self._source)
        iterator = self._iterator
        while self._wait_for_room():
            try:
                item = next(iterator)
            except StopIteration:
                self._finish("the iterable is exhausted")
                return
            if not self._take(item):
                return

    def _finish(self, why: str) -> None:
        self._exhausted = True
        self._seal_quietly()
        self._mark_idle()
        log.info("queue table %r: end of stream after %d items (%s)", self.table, self._pulled, why)

    def _mark_idle(self) -> None:
        with self._state:
            self._idle_rounds += 1
            self._state.notify_all()

    # -- sealing: Python items -> Arrow ------------------------------------------------
    def _seal_quietly(self) -> None:
        try:
            self.seal()
        except QueueItemError as exc:
            self.error = self.error or exc

    def seal(self) -> None:
        """Convert pending items into one Arrow chunk; a bad item fails the feed for good."""
        import pyarrow as pa

        with self._seal_lock:
            if self.error is not None:
                raise self.error
            count = len(self._pending)
            if not count:
                return
            popleft = self._pending.popleft
            items = [popleft() for _ in range(count)]
            first = self._end
            normalize = self._normalize
            if set(map(type, items)) == {tuple} and set(map(len, items)) == {normalize.width}:
                rows = items  # the usual case, checked in C: already rows in schema order
            else:
                try:
                    rows = [normalize(item, first + i) for i, item in enumerate(items)]
                except QueueItemError as exc:
                    self.error = exc
                    raise
            try:  # all columns in one pass through Arrow's converter
                arrays = pa.array(rows, type=self._row_type).flatten()
            except (pa.ArrowException, TypeError, ValueError, OverflowError):
                arrays = self._columns(rows, first)  # column by column, to name the item and field
            for field, array in zip(self.arrow_schema, arrays, strict=True):
                if not field.nullable and array.null_count:
                    offset = array.is_null().to_pylist().index(True)
                    self.error = QueueItemError(self.table, first + offset, field.name,
                                                "is null but the schema declares it NOT NULL")
                    raise self.error
            batch = pa.RecordBatch.from_arrays(arrays, schema=self.arrow_schema)
            with self._state:
                self._chunks.append((first, batch))
                self._end = first + count
                self._state.notify_all()

    def _columns(self, rows: list[tuple], first: int) -> list[pa.Array]:
        """Convert column by column; the first value Arrow refuses fails the feed, named."""
        import pyarrow as pa

        columns = list(zip(*rows, strict=True))
        arrays = []
        for index, field in enumerate(self.arrow_schema):
            try:
                arrays.append(pa.array(columns[index], type=field.type))
            except (pa.ArrowException, TypeError, ValueError, OverflowError):
                self.error = self._locate(columns[index], field, first)
                raise self.error from None
        return arrays

    def _locate(self, values: Iterable[Any], field: pa.Field, first: int) -> QueueItemError:
        """Find the first value Arrow refuses, to name its item and field."""
        import pyarrow as pa

        for offset, value in enumerate(values):
            try:
                pa.array([value], type=field.type)
            except (pa.ArrowException, TypeError, ValueError, OverflowError) as exc:
                return QueueItemError(self.table, first + offset, field.name,
                                      f"{value!r} ({type(value).__name__}) does not fit {field.type}: {exc}")
        return QueueItemError(self.table, first, field.name, f"values do not fit {field.type}")

    # -- what the Spark source asks for ------------------------------------------------
    @property
    def committed(self) -> int:
        return self._base

    @property
    def end(self) -> int:
        return self._end

    def latest(self, start: int | None, max_rows: int | None) -> int:
        """The end offset of the next micro-batch (``start`` when nothing new)."""
        self.seal()
        self._used = True
        end = self._end
        if self._available_now_target is not None:
            end = min(end, self._available_now_target)
        if start is not None and max_rows is not None:
            end = min(end, start + max_rows)
        return max(end, start or 0)

    def prepare_available_now(self, timeout: float = 60.0) -> int:
        """Fix the target of an available-now run: everything queued (or the whole iterable) now."""
        self.wait_until_drained(timeout)
        self._available_now_target = self._end
        log.info("queue table %r: available-now target is position %d", self.table, self._end)
        return self._end

    def wait_until_taken(self, timeout: float = 60.0) -> None:
        """Wait until the drainer has taken the items a queue holds now (a producer that keeps putting
        is not waited for), or what ``wait_until_drained`` waits for from an iterable; then seal."""
        if not self._is_queue or not hasattr(self._source, "qsize"):
            self.wait_until_drained(timeout)
            return
        target = self._pulled + self._source.qsize()
        deadline = time.monotonic() + timeout
        while (self._pulled < target and not self._exhausted and self._drainer is not None and self.error is None
               and (self._end - self._base) + len(self._pending) < self.max_buffered_rows):
            if time.monotonic() > deadline:
                log.warning("queue table %r: gave up waiting for the drainer after %.0f s", self.table, timeout)
                break
            time.sleep(0.002)
        self.seal()

    def wait_until_drained(self, timeout: float = 60.0) -> None:
        """Wait until the drainer has taken what the source holds now (a queue found empty, an iterable
        exhausted or the buffer full), then seal it."""
        deadline = time.monotonic() + timeout
        with self._state:
            seen = self._idle_rounds
            while (self._idle_rounds <= seen + (1 if self._is_queue else 0) and not self._exhausted
                   and self._drainer is not None and self.error is None):
                if not self._state.wait(max(0.0, deadline - time.monotonic())):
                    log.warning("queue table %r: available-now gave up waiting for the source after %.0f s",
                                self.table, timeout)
                    break
                if not self._is_queue and (self._end - self._base) + len(self._pending) >= self.max_buffered_rows:
                    break
        self.seal()

    def rows(self, start: int, end: int) -> list[pa.RecordBatch]:
        """Rows [start, end) as Arrow batches; refuses trimmed or unsealed positions."""
        with self._state:
            if start < self._base:
                raise FeedClosed(
                    f"queue table {self.table!r}: rows from position {start} were already committed and trimmed "
                    f"(kept from {self._base}); was the checkpoint reused with an older query?"
                )
            if end > self._end:
                raise FeedClosed(f"queue table {self.table!r}: rows up to {end} were never queued (end {self._end})")
            chunks = list(self._chunks)
        out = []
        for first, batch in chunks:
            last = first + batch.num_rows
            if last <= start or first >= end:
                continue
            lo, hi = max(start, first), min(end, last)
            out.append(batch.slice(lo - first, hi - lo))
        return out

    def commit(self, end: int) -> None:
        """Spark processed everything below ``end``: drop it."""
        with self._state:
            if end <= self._base:
                return
            end = min(end, self._end)
            kept = []
            for first, batch in self._chunks:
                last = first + batch.num_rows
                if last <= end:
                    continue
                if first < end:
                    batch, first = batch.slice(end - first), end
                kept.append((first, batch))
            self._chunks = kept
            self._base = end
            self._state.notify_all()

    def complete(self, position: int) -> bool:
        """Whether the stream ended and everything up to ``position`` was read."""
        return self._exhausted and not self._pending and position >= self._end

    def replay_from(self) -> int:
        """Where a new query starts: the first row not committed yet."""
        return self._base

    def knows(self, feed_id: str | None) -> bool:
        """Whether positions from ``feed_id``'s offsets are this feed's positions."""
        return feed_id == self.id or feed_id in self._aligned_with

    def align(self, feed_id: str | None, position: int) -> bool:
        """Make positions of a checkpoint written for another feed (``feed_id``) valid here.

        A queue lives in one process, so a checkpoint outlives its feed: the next
        run's query resumes at ``position`` of a feed that is gone. This feed's first
        row then takes that position. Returns False when positions were already
        handed out (another query's checkpoint: refused by the caller).
        """
        if self.knows(feed_id):
            self._used = True
            return True
        with self._state:
            if self._used:
                return False
            shift = position - self._base
            self._chunks = [(first + shift, batch) for first, batch in self._chunks]
            self._base += shift
            self._end += shift
            if self._available_now_target is not None:
                self._available_now_target += shift
            self._aligned_with.add(feed_id or "")
            self._used = True
        log.info("queue table %r: continuing a checkpoint from an earlier run at position %d", self.table, position)
        return True


class _NeverRaised(Exception):
    pass


def _same(item: Any, marker: Any) -> bool:
    try:
        return type(item) is type(marker) and bool(item == marker)
    except (TypeError, ValueError):  # an item whose == cannot answer is not the marker
        return False
