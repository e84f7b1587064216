"""Serving a feed to Spark's Python workers: HTTP on 127.0.0.1 only, with a per-source key.

Spark plans streaming Python sources in a separate Python process
(``python_streaming_source_runner``) and reads partitions in executor workers;
neither can see the driver's queue, so both ask this server. Every request must
carry the source's random key; anything else gets 403 and no data.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import secrets
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import parse_qs, urlsplit

from lakeport.api import LakeportError
from lakeport_queue.wire import ARROW_STREAM, HOST, KEY_HEADER

if TYPE_CHECKING:
    from lakeport_queue.feed import Feed

log = logging.getLogger(__name__)

__all__ = ["ARROW_STREAM", "HOST", "KEY_HEADER", "FeedServer"]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False

    def __init__(self, owner: FeedServer, port: int = 0) -> None:
        self.owner = owner
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        # Taking back our own port after a suspend: connections we closed may linger in
        # TIME_WAIT. (On POSIX this never lets two sockets listen on one port.)
        self.allow_reuse_address = bool(port) and os.name == "posix"
        super().__init__((HOST, port), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake handler threads idling on kept-alive connections, so none is left behind."""
        with self.connections_lock:
            connections = list(self.connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # the client already closed it


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # an idle kept-alive connection is closed after this
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
        log.debug("queue server: " + format, *args)

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._dispatch()

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch()

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        owner = self.server.owner
        given = self.headers.get(KEY_HEADER, "")
        if not hmac.compare_digest(given.encode(), owner.key.encode()):
            log.warning("queue server for %r refused a request from %s: wrong key", owner.feed.table,
                        self.client_address[0])
            self._send_json(HTTPStatus.FORBIDDEN, {"error": "wrong or missing key"})
            return
        owner.read_by_a_query = True
        url = urlsplit(self.path)
        args = {k: v[-1] for k, v in parse_qs(url.query).items()}
        try:
            handler = owner.routes.get(url.path)
            if handler is None:
                self._send_json(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint {url.path}"})
                return
            result = handler(args)
        except LakeportError as exc:
            self._send_json(HTTPStatus.CONFLICT, {"error": str(exc), "type": type(exc).__name__})
            return
        if isinstance(result, (bytes, memoryview)):
            self._send(HTTPStatus.OK, ARROW_STREAM, result)
        else:
            self._send_json(HTTPStatus.OK, result)

    def _send_json(self, status: HTTPStatus, payload: Any) -> None:
        self._send(status, "application/json", json.dumps(payload).encode())

    def _send(self, status: HTTPStatus, content_type: str, body: bytes | memoryview) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class FeedServer:
    """One feed served on an ephemeral loopback port for the length of one query."""

    def __init__(
        self,
        feed: Feed,
        *,
        on_complete: Callable[[], None] | None = None,
        on_stop_request: Callable[[], None] | None = None,
    ) -> None:
        self.feed = feed
        self.key = secrets.token_hex(32)
        #: names this server (and so its query) in offsets: ``{"position": n, "server": id}``.
        self.id = secrets.token_hex(6)
        self._on_complete = on_complete
        self._on_stop_request = on_stop_request
        self._completed = False
        #: a query's source has called (with the key): once that run ends, this server is done.
        self.read_by_a_query = False
        #: the port, kept while the server is suspended (0 before the first start).
        self.port = 0
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        #: start() and stop() come from the caller, listener events and stopper threads: one at a time,
        #: so a stop() that returns has seen the serving thread end.
        self._lifecycle = threading.Lock()
        self.routes: dict[str, Callable[[dict[str, str]], Any]] = {
            "/initial": self._initial,
            "/latest": self._latest,
            "/rows": self._rows,
            "/commit": self._commit,
            "/prepare": self._prepare,
            "/stop": self._stop_request,
        }

    @property
    def address(self) -> tuple[str, int]:
        if self._httpd is None:
            raise RuntimeError("the queue server is not running")
        host, port = self._httpd.server_address[:2]
        return str(host), int(port)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Listen on an ephemeral port (the first time) or on the port this server had before."""
        with self._lifecycle:
            if self.running:
                return
            self._httpd = _Server(self, self.port)
            self.port = self.address[1]
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.2},
                name=f"lakeport-queue-server[{self.feed.table}]", daemon=True,
            )
            self._thread.start()
        log.info("queue table %r served on %s:%d", self.feed.table, HOST, self.port)

    def stop(self) -> None:
        """Stop serving and close the port; safe to call twice and from any thread.

        ``start()`` serves again on the same port (a suspended server: no thread, no port).
        """
        with self._lifecycle:
            httpd, thread = self._httpd, self._thread
            if httpd is None or thread is None:
                return
            self._httpd = self._thread = None
            httpd.shutdown()  # returns once serve_forever has
            httpd.close_connections()
            httpd.server_close()
            thread.join()
        log.info("queue server of table %r stopped (port %d closed)", self.feed.table, self.port)

    # -- routes ---------------------------------------------------------------------------
    def _offset(self, position: int) -> dict[str, Any]:
        return {"position": position, "server": self.id, "feed": self.feed.id}

    def _align(self, args: dict[str, str], position: int) -> None:
        """Positions from a checkpoint written for another feed: continue them, or refuse."""
        from lakeport_queue.feed import FeedClosed

        if not self.feed.align(args.get("feed"), position):
            raise FeedClosed(
                f"queue table {self.feed.table!r}: the checkpoint holds positions of another queue that this one "
                "already served from its own; give this query its own checkpoint_path"
            )

    def _initial(self, args: dict[str, str]) -> dict[str, Any]:
        return self._offset(self.feed.replay_from())

    def _latest(self, args: dict[str, str]) -> dict[str, Any] | None:
        start = int(args["start"]) if "start" in args else None
        max_rows = int(args["max_rows"]) if "max_rows" in args else None
        if start is not None:
            self._align(args, start)
        position = self.feed.latest(start, max_rows)
        if start is not None and position == start:
            if self.feed.complete(start) and not self._completed:
                self._completed = True
                log.info("queue table %r: stream complete at position %d", self.feed.table, start)
                if self._on_complete is not None:
                    self._on_complete()
            return None  # nothing new: the source echoes the start offset unchanged
        return self._offset(position)

    def _rows(self, args: dict[str, str]) -> memoryview:
        import pyarrow as pa

        start, end = int(args["start"]), int(args["end"])
        feed_id = args.get("feed")
        if feed_id != self.feed.id:  # a batch planned by an earlier run, replayed after a restart
            if not self.feed.knows(feed_id):
                self._align(args, end)
                log.warning("queue table %r: rows from position %d of a batch planned by an earlier run are gone "
                            "with its process (a queue is not durable); the stream goes on with the new queue",
                            self.feed.table, start)
            if end <= self.feed.committed:
                start = end
        batches = self.feed.rows(start, end)
        table = pa.Table.from_batches(batches, schema=self.feed.arrow_schema).combine_chunks()
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, self.feed.arrow_schema) as writer:
            writer.write_table(table)
        return memoryview(sink.getvalue())

    def _commit(self, args: dict[str, str]) -> dict[str, int]:
        self.feed.commit(int(args["end"]))
        return {"position": self.feed.committed}

    def _prepare(self, args: dict[str, str]) -> dict[str, Any]:
        return self._offset(self.feed.prepare_available_now())

    def _stop_request(self, args: dict[str, str]) -> dict[str, bool]:
        """The query's source runner stopped: shut down after answering (from another thread)."""
        if self._on_stop_request is not None:
            threading.Thread(target=self._on_stop_request, name="lakeport-queue-stopper", daemon=True).start()
        return {"stopping": True}
