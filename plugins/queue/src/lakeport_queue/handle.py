"""``QueueHandle``: a ``queue.Queue`` or iterable in the driver as a streaming DataFrame.

The handle owns a :class:`~lakeport_queue.feed.Feed` (the buffered, uncommitted
rows, which outlive a query so a restart replays them) and, while a query runs,
a :class:`~lakeport_queue.server.FeedServer` that serves the feed to Spark's
Python workers on 127.0.0.1.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from lakeport.api import ConfigError, Handle, common_handle_kwargs, register_data_source

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

    from lakeport.api import Project
    from lakeport_queue.feed import Feed
    from lakeport_queue.server import FeedServer
    from lakeport_queue.spool import FileSpool
    from lakeport_queue.tracking import QueryTracker

log = logging.getLogger(__name__)

#: how long a completed stream waits to learn which query reads it.
COMPLETE_STOP_TIMEOUT = 30.0

_positive = attrs.validators.optional(attrs.validators.gt(0))


class Delivery(str, enum.Enum):
    """How the rows reach Spark.

    ``server``: a Python streaming data source that asks the driver's loopback server for
    each batch. ``files``: the driver writes each batch as a parquet file that Spark's own
    file source streams; no Python process starts in Spark, which saves ~3 s at query start.
    """

    SERVER = "server"
    FILES = "files"


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
    #: ``"server"`` (a Python streaming data source) or ``"files"`` (parquet files, Spark's file source).
    delivery: Delivery = Delivery.SERVER


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
        delivery: Delivery | str = Delivery.SERVER,
        **common: Any,
    ) -> None:
        from lakeport_queue.feed import NO_MARKER, check_source

        super().__init__(**common)
        if self.declared_schema is None:
            raise ValueError(f"queue table {self.table!r} needs a schema (QueueHandle(schema=..., ...))")
        if max_rows_per_trigger is not None and max_rows_per_trigger <= 0:
            raise ValueError(f"queue table {self.table!r}: max_rows_per_trigger must be positive")
        check_source(source)
        try:
            self.delivery = Delivery(delivery)
        except ValueError:
            raise ValueError(f"queue table {self.table!r}: delivery must be one of "
                             f"{', '.join(repr(d.value) for d in Delivery)}, not {delivery!r}") from None
        self.source = source
        self.max_rows_per_trigger = max_rows_per_trigger
        self.end_of_stream = NO_MARKER if end_of_stream is None else end_of_stream
        self.max_buffered_rows = max_buffered_rows
        #: names the spool folder of ``delivery = "files"`` across processes (set for tables of a project file).
        self.spool_identity: str | None = None
        self._feed: Feed | None = None
        self._servers: dict[str, FeedServer | FileSpool] = {}
        #: the spool of ``delivery = "files"``: one per handle, its folder holds the uncommitted rows.
        self._spool: FileSpool | None = None
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
            handle = cls(
                source=source,
                max_rows_per_trigger=opts.max_rows_per_trigger,
                end_of_stream=opts.end_of_stream,
                max_buffered_rows=opts.max_buffered_rows,
                delivery=opts.delivery,
                **common_handle_kwargs(project, table),
            )
        except TypeError as exc:
            raise ConfigError(f"{where}: {opts.source} returned an unusable source: {exc}",
                              source=project.source) from None
        handle.spool_identity = f"{project.root}/{Path(project.source).name}#{table}"
        return handle

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
    def server(self) -> FeedServer | FileSpool | None:
        """The server (or spool) of the latest ``read_stream()``, while it runs."""
        servers = list(self._servers.values())
        return servers[-1] if servers else None

    def close(self) -> None:
        """Stop every server and the drainer, delete the spool; buffered rows stay for a later ``read_stream()``."""
        with self._lock:  # waits for a server (or the drainer) being stopped by its query's end, too
            servers, self._servers = list(self._servers.values()), {}
            for server in servers:
                self._stop_server(server)
            if self._spool is not None:
                self._spool.close()
                self._spool = None
            if self._feed is not None:
                self._feed.stop()

    def __enter__(self) -> QueueHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _serve(self, spark: SparkSession) -> FeedServer | FileSpool:
        """A new server (port, key, id) for the query about to start, or the handle's spool; the drainer
        runs while any does."""
        from lakeport_queue.tracking import tracker_for

        with self._lock:  # one query at a time: a new DataFrame replaces those whose server is suspended
            retired = [s for s in self._servers.values() if not s.running]
            for old in retired:
                del self._servers[old.id]
        for old in retired:
            self._stop_server(old)
        tracker = tracker_for(spark)
        server: FeedServer | FileSpool
        if self.delivery is Delivery.FILES:
            from lakeport_queue.spool import FileSpool

            if self._spool is None:
                self._spool = FileSpool(self.feed, max_rows_per_file=self.max_rows_per_trigger,
                                        identity=self.spool_identity, on_complete=lambda: self._complete(server, spark, tracker))
            server = self._spool
        else:
            from lakeport_queue.server import FeedServer

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
                log.warning("queue table %r: cannot serve again on port %s (%s); a query started from the "
                            "DataFrame of that server will fail: call handle.read_stream() again",
                            self.table, getattr(server, "port", "-"), exc)
                return
            self.feed.start()

    def server_progress(self, server_id: str, source: dict[str, Any]) -> None:
        """A progress event of the query reading the spool ``server_id``: commit what it took."""
        spool = self._spool
        if spool is not None and spool.id == server_id:
            spool.progress(source)

    def _stop_drainer_if_unserved(self) -> None:
        with self._lock:
            if self._feed is not None and not any(s.running for s in self._servers.values()):
                self._feed.stop()

    def _stop_server(self, server: FeedServer | FileSpool) -> None:
        server.stop()
        tracker = self._trackers.pop(server.id, None)
        if tracker is not None:
            tracker.forget(server.id)

    def _complete(self, server: FeedServer | FileSpool, spark: SparkSession, tracker: QueryTracker) -> None:
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
        from lakeport_queue.server import FeedServer
        from lakeport_queue.source import KEY_OPTION, NAME, QueueDataSource

        if self.delivery is Delivery.FILES:
            return self._read_spool(options)
        why = python_streams_unsupported()
        if why:
            raise UnsupportedOperation(self.kind, self.table, "read_stream", why)
        spark = self.spark
        register_data_source(spark, QueueDataSource)
        server = self._serve(spark)
        assert isinstance(server, FeedServer)
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

    def _read_spool(self, options: dict[str, Any]) -> DataFrame:
        """Spark's parquet stream over the handle's spool, one file (in row order) per micro-batch."""
        from lakeport_queue.source import SERVER_OPTIONS
        from lakeport_queue.spool import FileSpool

        refused = sorted(set(options) & set(SERVER_OPTIONS))
        if refused:
            raise ValueError(f"queue table {self.table!r}: option {refused[0]!r} is for delivery \"server\"; "
                             "with delivery \"files\" each micro-batch is one parquet file")
        server = self._serve(self.spark)
        assert isinstance(server, FileSpool)
        server.flush_available()  # an available-now query started next reads what is queued now
        return (
            self.spark.readStream.format("parquet")
            .schema(self._schema())
            .option("maxFilesPerTrigger", "1")
            .option("ignoreMissingFiles", "true")  # a checkpoint's unfinished batch of an earlier process
            .options(**{k: str(v) for k, v in options.items()})
            .load(str(server.directory))
        )
