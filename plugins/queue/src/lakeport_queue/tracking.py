"""Which query reads which queue server, so a server stops with its query.

Spark names no source in its query events, so each server puts its id into
the offsets it hands out (``{"position": n, "server": id}``); a
listener reads them from progress events (the server is then
*claimed* by that query) and, when that query terminates, tells the handle to
stop the server for good.

A query can end before its first progress event (it fails at start, its
first batch fails, or it is stopped at once), so the listener also keeps
*candidates*: every query started while a server was unclaimed might be
reading it. When the last candidate of an unclaimed server terminates (or
shows in a progress event that it reads no queue at all), nothing can be
reading that server: it is done if a query did read it (the query stopped before
its first progress event), else *suspended* (thread and port closed). Spark calls
``onQueryStarted`` synchronously inside ``DataStreamWriter.start()``, before
the query's source exists, so a suspended server is resumed on its old port
in time should its DataFrame be started after all.
"""

from __future__ import annotations

import json
import logging
import threading
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lakeport_queue.handle import QueueHandle

log = logging.getLogger(__name__)

_lock = threading.Lock()
#: server id -> the handle that owns it.
_owners: weakref.WeakValueDictionary[str, QueueHandle] = weakref.WeakValueDictionary()
#: server id -> the session (by id) whose queries may read it.
_session_of: dict[str, int] = {}
#: query run id -> server ids it is known to read, learnt from progress events. Runs, not
#: queries: a query restarted from its checkpoint keeps its id, and events come late.
_claims: dict[str, set[str]] = {}
#: query run id -> query id (what ``spark.streams.get`` takes).
_query_ids: dict[str, str] = {}
#: unclaimed server id -> active queries that started while it was unclaimed.
_candidates: dict[str, set[str]] = {}
#: sessions (by id) that have our listener.
_listening: set[int] = set()


def track(spark: SparkSession, server_id: str, handle: QueueHandle) -> None:
    """Remember that ``handle`` owns ``server_id``; install the listener once per session."""
    with _lock:
        _owners[server_id] = handle
        _session_of[server_id] = id(spark)
        _candidates[server_id] = set()
        if id(spark) in _listening:
            return
        _listening.add(id(spark))
    from lakeport.api import listen_query_events as listen

    events = _QueueQueryEvents(id(spark))
    listen(spark, started=events.started, progress=events.progress, terminated=events.terminated)


def forget(server_id: str) -> None:
    with _lock:
        _owners.pop(server_id, None)
        _session_of.pop(server_id, None)
        _candidates.pop(server_id, None)
        for query_id in [q for q, servers in _claims.items() if server_id in servers]:
            _claims[query_id].discard(server_id)
            if not _claims[query_id]:
                del _claims[query_id]


def queries_of(server_id: str) -> list[str]:
    """Ids of the queries seen reading ``server_id``."""
    with _lock:
        return [_query_ids.get(run, run) for run, servers in _claims.items() if server_id in servers]


def candidates_of(server_id: str) -> set[str]:
    """Active queries that may be reading the unclaimed ``server_id`` (empty once claimed)."""
    with _lock:
        return set(_candidates.get(server_id, ()))


def _offsets(progress: dict[str, Any]) -> tuple[set[str], bool]:
    """Server ids in the progress' offsets, and whether every source had an end offset.

    Spark's progress JSON holds an offset parsed when it is JSON, else as a string.
    """
    found: set[str] = set()
    complete = True
    for source in progress.get("sources") or ():
        if not source.get("endOffset"):
            complete = False
        for offset in (source.get("endOffset"), source.get("startOffset")):
            if isinstance(offset, str) and "server" in offset:
                try:
                    offset = json.loads(offset)
                except ValueError:
                    continue
            if isinstance(offset, dict) and isinstance(offset.get("server"), str):
                found.add(offset["server"])
    return found, complete


def _drop_candidate(query_id: str) -> list[tuple[QueueHandle, str]]:
    """``query_id`` reads none of the unclaimed servers: those left with no candidate (call with ``_lock``)."""
    idle = []
    for server_id, queries in _candidates.items():
        if query_id in queries:
            queries.discard(query_id)
            handle = _owners.get(server_id)
            if not queries and handle is not None:
                idle.append((handle, server_id))
    return idle


class _QueueQueryEvents:
    """Maps one session's queries to queue servers; stops a server when no query can be reading it."""

    def __init__(self, session: int) -> None:
        self.session = session

    def started(self, event: dict[str, Any]) -> None:
        query_id = event["runId"]  # a restarted query keeps its id; each run has its own runId
        with _lock:
            waiting = [sid for sid, s in _session_of.items() if s == self.session and sid in _candidates]
            for server_id in waiting:
                _candidates[server_id].add(query_id)
            handles = [(h, sid) for sid in waiting if (h := _owners.get(sid)) is not None]
        for handle, server_id in handles:
            handle._server_resume(server_id)  # noqa: SLF001 - the handle's own callback

    def progress(self, progress: dict[str, Any]) -> None:
        query_id = progress["runId"]
        found, complete = _offsets(progress)
        with _lock:
            _query_ids[query_id] = progress["id"]
            for server_id in found:
                if server_id in _owners:
                    _claims.setdefault(query_id, set()).add(server_id)
                    _candidates.pop(server_id, None)
            # Only a query that reads no queue at all is no candidate: a restarted query's
            # offsets may name the server of an earlier run (they come from its checkpoint).
            idle = _drop_candidate(query_id) if complete and not found else []
        for handle, server_id in idle:
            handle._server_idle(server_id)  # noqa: SLF001

    def terminated(self, event: dict[str, Any]) -> None:
        query_id = event["runId"]
        with _lock:
            claimed = _claims.pop(query_id, set())
            _query_ids.pop(query_id, None)
            done = [(h, sid) for sid in claimed if (h := _owners.get(sid)) is not None]
            idle = _drop_candidate(query_id)
        for handle, server_id in done:
            log.info("query %s terminated: stopping its queue server %s", query_id, server_id)
            handle._server_done(server_id)  # noqa: SLF001
        for handle, server_id in idle:
            log.info("query %s terminated; no running query can be reading queue server %s", query_id, server_id)
            handle._server_idle(server_id)  # noqa: SLF001
