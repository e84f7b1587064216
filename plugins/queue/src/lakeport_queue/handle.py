"""``QueueHandle``: a ``queue.Queue`` or iterable in the driver as a streaming DataFrame.

The handle owns a :class:`~lakeport_queue.feed.Feed` (the buffered, uncommitted
rows, which outlive a query so a restart replays them) and, while a query runs,
a :class:`~lakeport_queue.server.FeedServer` that serves the feed to Spark's
Python workers on 127.0.0.1.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

import attrs

from lakeport.api import ConfigError, Handle, common_handle_kwargs, register_data_source

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

    from lakeport.api import Project
    from lakeport_queue.feed import Feed
    from lakeport_queue.server import FeedServer
    from lakeport_queue.tracking import QueryTracker

log = logging.getLogger(__name__)

#: how long a completed stream waits to learn which query reads it.
COMPLETE_STOP_TIMEOUT = 30.0

_positive = attrs.validators.optional(attrs.validators.gt(0))


@attrs.frozen
class QueueOptions:
    """Keys of a ``kind = "queue"`` table besides the common ones (``schema`` is required)."""

    #: ``"pkg.module:factory"``: a callable returning the queue.Queue or iterable to read.
    source: str
    #: rows per micro-batch at most (``None``: everything queued).
    max_rows_per_trigger: int | None = attrs.field(default=None, validator=_positive)
    #: an item equal to this string ends the stream (a queue is otherwise read until the query stops).
    end_of_stream: str | None = None
    #: uncommitted rows buffered in the driver before the queue is left to fill up.
    max_buffered_rows: int = attrs.field(default=1_000_000, validator=attrs.validators.gt(0))


class QueueHandle(Handle):
    """Rows put on a queue (or yielded by an iterable) in the driver, read as a stream.

    One query at a time reads a handle. Rows are trimmed once Spark commits them;
    a query restarted in the same process (same checkpoint or a new one) gets the
    uncommitted rows again.
    """

    kind = "queue"

    def __init__(
        self,
        *,
        source: Any,
        max_rows_per_trigger: int | None = None,
        end_of_stream: Any = None,
        max_buffered_rows: int = 1_000_000,
        **common: Any,
    ) -> None:
        from lakeport_queue.feed import NO_MARKER, check_source

        super().__init__(**common)
        if self.declared_schema is None:
            raise ValueError(f"queue table {self.table!r} needs a schema (QueueHandle(schema=..., ...))")
        if max_rows_per_trigger is not None and max_rows_per_trigger <= 0:
            raise ValueError(f"queue table {self.table!r}: max_rows_per_trigger must be positive")
        check_source(source)
        self.source = source
        self.max_rows_per_trigger = max_rows_per_trigger
        self.end_of_stream = NO_MARKER if end_of_stream is None else end_of_stream
        self.max_buffered_rows = max_buffered_rows
        self._feed: Feed | None = None
        self._servers: dict[str, FeedServer] = {}
        #: server id -> the tracker of the session whose query it serves.
        self._trackers: dict[str, QueryTracker] = {}
        self._lock = threading.RLock()

    def describe(self) -> str:
        return f"in-process {type(self.source).__name__} (schema {self.declared_schema})"

    @classmethod
    def from_config(cls, project: Project, table: str) -> QueueHandle:
        from lakeport.api import import_callable

        spec = project.table(table)
        opts: QueueOptions = project.table_options(table)
        if not spec.schema:
            raise ConfigError(f'tables.{table}.schema: kind "queue" needs a schema', source=project.source)
        where = f"tables.{table}.source"
        factory = import_callable(opts.source, where=where, source=project.source, root=project.root)
        try:
            source = factory()
        except Exception as exc:  # noqa: BLE001 - reported with the key that named the factory
            raise ConfigError(f"{where}: {opts.source} raised {type(exc).__name__}: {exc}",
                              source=project.source) from exc
        try:
            return cls(
                source=source,
                max_rows_per_trigger=opts.max_rows_per_trigger,
                end_of_stream=opts.end_of_stream,
                max_buffered_rows=opts.max_buffered_rows,
                **common_handle_kwargs(project, table),
            )
        except TypeError as exc:
            raise ConfigError(f"{where}: {opts.source} returned an unusable source: {exc}",
                              source=project.source) from None

    # -- lifecycle ------------------------------------------------------------------------
    @property
    def feed(self) -> Feed:
        """The buffered rows; created on first use."""
        if self._feed is None:
            from lakeport_queue.feed import Feed

            schema = self.declared_struct()
            assert schema is not None  # checked in __init__
            self._feed = Feed(self.source, schema, table=self.table, end_of_stream=self.end_of_stream,
                              max_buffered_rows=self.max_buffered_rows)
        return self._feed

    @property
    def server(self) -> FeedServer | None:
        """The server of the latest ``read_stream()``, while it runs."""
        servers = list(self._servers.values())
        return servers[-1] if servers else None

    def close(self) -> None:
        """Stop every server and the drainer; buffered rows stay for a later ``read_stream()``."""
        with self._lock:  # waits for a server (or the drainer) being stopped by its query's end, too
            servers, self._servers = list(self._servers.values()), {}
            for server in servers:
                self._stop_server(server)
            if self._feed is not None:
                self._feed.stop()

    def __enter__(self) -> QueueHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _serve(self, spark: SparkSession) -> FeedServer:
        """A new server (port, key, id) for the query about to start; the drainer runs while any does."""
        from lakeport_queue.server import FeedServer
        from lakeport_queue.tracking import tracker_for

        with self._lock:  # one query at a time: a new DataFrame replaces those whose server is suspended
            retired = [s for s in self._servers.values() if not s.running]
            for old in retired:
                del self._servers[old.id]
        for old in retired:
            self._stop_server(old)
        tracker = tracker_for(spark)
        server = FeedServer(self.feed, on_complete=lambda: self._complete(server, spark, tracker),
                            on_stop_request=lambda: self.server_done(server.id))
        server.start()
        with self._lock:  # the drainer starts and stops under the handle's lock only
            self._servers[server.id] = server
            self._trackers[server.id] = tracker
            self.feed.start()
        tracker.track(server.id, self)
        return server

    # -- called by the session's query tracker (lakeport_queue.tracking) --------------------
    def server_done(self, server_id: str) -> None:
        """The query reading ``server_id`` stopped: stop its server, and the drainer if it was the last."""
        with self._lock:  # held while stopping: close() must not return while a server thread still runs
            server = self._servers.pop(server_id, None)
            if server is None:
                return
            log.info("queue table %r: its query stopped; stopping server %s", self.table, server_id)
            self._stop_server(server)
        self._stop_drainer_if_unserved()

    def server_idle(self, server_id: str) -> None:
        """No running query can be reading ``server_id`` now.

        If a query did read it, that run is over and the server is done (a DataFrame serves one
        run); else it is suspended (port and thread closed), to serve again should its DataFrame
        be started after all.
        """
        with self._lock:
            server = self._servers.get(server_id)
            if server is None:
                return
            if server.read_by_a_query:
                self.server_done(server_id)
                return
            if not server.running:
                return
            log.info("queue table %r: no running query reads server %s; suspending it", self.table, server_id)
            server.stop()
        self._stop_drainer_if_unserved()

    def server_resume(self, server_id: str) -> None:
        """A query started that may read the suspended ``server_id``: serve it again, on its port."""
        with self._lock:
            server = self._servers.get(server_id)
            if server is None or server.running:
                return
            try:
                server.start()
            except OSError as exc:
                log.warning("queue table %r: cannot serve again on port %d (%s); a query started from the "
                            "DataFrame of that server will fail: call handle.read_stream() again",
                            self.table, server.port, exc)
                return
            self.feed.start()

    def _stop_drainer_if_unserved(self) -> None:
        with self._lock:
            if self._feed is not None and not any(s.running for s in self._servers.values()):
                self._feed.stop()

    def _stop_server(self, server: FeedServer) -> None:
        server.stop()
        tracker = self._trackers.pop(server.id, None)
        if tracker is not None:
            tracker.forget(server.id)

    def _complete(self, server: FeedServer, spark: SparkSession, tracker: QueryTracker) -> None:
        """The stream ended and was read: stop the query (from another thread, never the caller's)."""

        def stop() -> None:
            deadline = time.monotonic() + COMPLETE_STOP_TIMEOUT
            while time.monotonic() < deadline and server.running:
                for query_id in tracker.queries_of(server.id):
                    query = spark.streams.get(query_id)
                    if query is not None and query.isActive:
                        log.info("queue table %r: stream complete, stopping query %s", self.table, query_id)
                        query.stop()
                        self.server_done(server.id)
                        return
                time.sleep(0.2)

        threading.Thread(target=stop, name="lakeport-queue-complete", daemon=True).start()

    # -- operations -----------------------------------------------------------------------
    def _schema(self) -> StructType:
        schema = self.declared_struct()
        assert schema is not None
        return schema

    def _read_stream(self, **options: Any) -> DataFrame:
        from lakeport.api import UnsupportedOperation, python_streams_unsupported
        from lakeport_queue.source import KEY_OPTION, NAME, QueueDataSource

        why = python_streams_unsupported()
        if why:
            raise UnsupportedOperation(self.kind, self.table, "read_stream", why)
        spark = self.spark
        register_data_source(spark, QueueDataSource)
        server = self._serve(spark)
        reader = (
            spark.readStream.format(NAME)
            .schema(self._schema())
            .option("port", str(server.address[1]))
            .option(KEY_OPTION, server.key)
            .option("table", self.table)
        )
        if self.max_rows_per_trigger:
            reader = reader.option("max_rows_per_trigger", str(self.max_rows_per_trigger))
        return reader.options(**{k: str(v) for k, v in options.items()}).load()


