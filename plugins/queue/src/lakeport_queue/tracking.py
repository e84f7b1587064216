"""Which query reads which queue server, so a server stops with its query.

Spark names no source in its query events, so each server puts its id into
the offsets it hands out (``{"position": n, "server": id}``); a
listener reads them from progress events (the server is then
*claimed* by that query) and, when that query terminates, tells the handle to
stop the server for good.

One :class:`QueryTracker` per SparkSession (:func:`tracker_for`), kept only as long as
the session lives; it calls the owner's public ``server_done``/``server_idle``/``server_resume``, and
``server_progress`` for a spool (``delivery = "files"``), which Spark names in its source's description.

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
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)


class ServerOwner(Protocol):
    """What the tracker calls on the owner of a server (the queue handle)."""

    def server_done(self, server_id: str) -> None: ...

    def server_idle(self, server_id: str) -> None: ...

    def server_resume(self, server_id: str) -> None: ...

    def server_progress(self, server_id: str, source: dict[str, Any]) -> None: ...


class QueryTracker:
    """Maps one session's queries to the queue servers they read; stops a server when no query can read it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: server id -> the owner (handle) of that server.
        self._owners: weakref.WeakValueDictionary[str, ServerOwner] = weakref.WeakValueDictionary()
        #: query run id -> server ids it is known to read, learnt from progress events. Runs, not
        #: queries: a query restarted from its checkpoint keeps its id, and events come late.
        self._claims: dict[str, set[str]] = {}
        #: query run id -> query id (what ``spark.streams.get`` takes).
        self._query_ids: dict[str, str] = {}
        #: unclaimed server id -> active queries that started while it was unclaimed.
        self._candidates: dict[str, set[str]] = {}

    def track(self, server_id: str, owner: ServerOwner) -> None:
        """Remember that ``owner`` owns ``server_id``, unclaimed so far."""
        with self._lock:
            self._owners[server_id] = owner
            self._candidates[server_id] = set()

    def forget(self, server_id: str) -> None:
        with self._lock:
            self._owners.pop(server_id, None)
            self._candidates.pop(server_id, None)
            for query_id in [q for q, servers in self._claims.items() if server_id in servers]:
                self._claims[query_id].discard(server_id)
                if not self._claims[query_id]:
                    del self._claims[query_id]

    def queries_of(self, server_id: str) -> list[str]:
        """Ids of the queries seen reading ``server_id``."""
        with self._lock:
            return [self._query_ids.get(run, run) for run, servers in self._claims.items() if server_id in servers]

    def candidates_of(self, server_id: str) -> set[str]:
        """Active queries that may be reading the unclaimed ``server_id`` (empty once claimed)."""
        with self._lock:
            return set(self._candidates.get(server_id, ()))

    # -- the session's query events --------------------------------------------------------
    def started(self, event: dict[str, Any]) -> None:
        query_id = event["runId"]  # a restarted query keeps its id; each run has its own runId
        with self._lock:
            waiting = list(self._candidates)
            for server_id in waiting:
                self._candidates[server_id].add(query_id)
            owners = [(o, sid) for sid in waiting if (o := self._owners.get(sid)) is not None]
        for owner, server_id in owners:
            owner.server_resume(server_id)

    def progress(self, progress: dict[str, Any]) -> None:
        query_id = progress["runId"]
        found, complete = _offsets(progress)
        spooled = _spools(progress)
        found |= set(spooled)
        with self._lock:
            self._query_ids[query_id] = progress["id"]
            for server_id in found:
                if server_id in self._owners:
                    self._claims.setdefault(query_id, set()).add(server_id)
                    self._candidates.pop(server_id, None)
            # Only a query that reads no queue at all is no candidate: a restarted query's
            # offsets may name the server of an earlier run (they come from its checkpoint).
            idle = self._drop_candidate(query_id) if complete and not found else []
            reports = [(o, sid, source) for sid, source in spooled.items() if (o := self._owners.get(sid)) is not None]
        for owner, server_id, source in reports:
            owner.server_progress(server_id, source)
        for owner, server_id in idle:
            owner.server_idle(server_id)

    def terminated(self, event: dict[str, Any]) -> None:
        query_id = event["runId"]
        with self._lock:
            claimed = self._claims.pop(query_id, set())
            self._query_ids.pop(query_id, None)
            done = [(o, sid) for sid in claimed if (o := self._owners.get(sid)) is not None]
            idle = self._drop_candidate(query_id)
        if idle and "No usable value for logOffset" in (event.get("exception") or ""):
            # Spark's file source failed on a checkpoint before any lakeport code ran: say why here
            log.error('query %s: its checkpoint holds the positions of a queue read with delivery = "server"; '
                      'a queue read with delivery = "files" needs a checkpoint of its own (a new checkpoint_path)',
                      event.get("id", query_id))
        for owner, server_id in done:
            log.info("query %s terminated: stopping its queue server %s", query_id, server_id)
            owner.server_done(server_id)
        for owner, server_id in idle:
            log.info("query %s terminated; no running query can be reading queue server %s", query_id, server_id)
            owner.server_idle(server_id)

    def _drop_candidate(self, query_id: str) -> list[tuple[ServerOwner, str]]:
        """``query_id`` reads none of the unclaimed servers: those left with no candidate (call with the lock)."""
        idle = []
        for server_id, queries in self._candidates.items():
            if query_id in queries:
                queries.discard(query_id)
                owner = self._owners.get(server_id)
                if not queries and owner is not None:
                    idle.append((owner, server_id))
        return idle


_trackers_lock = threading.Lock()
_trackers: weakref.WeakKeyDictionary[Any, QueryTracker] = weakref.WeakKeyDictionary()


def tracker_for(spark: SparkSession) -> QueryTracker:
    """The session's tracker; the first call installs its query listener on the session."""
    with _trackers_lock:
        tracker = _trackers.get(spark)
        if tracker is not None:
            return tracker
        tracker = _trackers[spark] = QueryTracker()
    from lakeport.api import listen_query_events as listen

    listen(spark, started=tracker.started, progress=tracker.progress, terminated=tracker.terminated)
    return tracker


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


def _spools(progress: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Spool id -> the progress of the file source reading that spool (``delivery = "files"``)."""
    from lakeport_queue.spool import spool_ids

    return {sid: source for source in progress.get("sources") or () for sid in spool_ids(source.get("description", ""))}
