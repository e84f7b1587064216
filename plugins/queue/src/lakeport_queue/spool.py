"""Delivering a feed as parquet files that Spark's own file source streams (``delivery = "files"``).

A Python streaming data source costs Spark two Python processes to start
(the source and its runner) and a third to plan the first batch: ~3 s before
the first row, whatever the stream's size. Here the driver writes the feed's
rows as parquet files into a private folder, and the query reads them with
``spark.readStream.parquet``: planning and reading happen in the JVM, and no
Python process starts.

The file source reads one file per micro-batch (``maxFilesPerTrigger`` 1), oldest
first; files get strictly increasing modification times, so the order of batches
is the order of the rows. Spark commits a batch before it reports its progress, so
each progress event that moves this source's offset by *k* and read rows commits the
*k* oldest files: they are deleted and their rows trimmed from the feed. Files not committed
stay, so a query restarted from its checkpoint re-runs its unfinished batch from the
same file, and a query with a new checkpoint reads every uncommitted row again.
"""

from __future__ import annotations

import collections
import logging
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from lakeport_queue.feed import Feed

log = logging.getLogger(__name__)

#: the spool folder's name; the file source's description in progress events holds it.
FOLDER_PREFIX = "lakeport-queue-spool-"
_FOLDER_ID = re.compile(re.escape(FOLDER_PREFIX) + r"([0-9a-f]{12})\b")

#: files written and not yet committed before the spooler waits for Spark: the next
#: file then takes every row that arrived meanwhile (a bigger batch, not more batches).
DEPTH = 2


def spool_ids(description: str) -> list[str]:
    """Spool ids named by a source's description (``FileStreamSource[file:/.../lakeport-queue-spool-<id>]``)."""
    return _FOLDER_ID.findall(description or "")


class FileSpool:
    """One handle's feed as a folder of parquet files, written by a thread while a query may read them.

    Has the life cycle of a queue server (``start``/``stop``/``running``, ``read_by_a_query``,
    an ``id`` the query tracker finds in progress events), so the handle treats both alike.
    The folder lives until ``close()``: it holds the rows not committed yet.
    """

    def __init__(
        self,
        feed: Feed,
        *,
        max_rows_per_file: int | None = None,
        identity: str | None = None,
        parent: str | os.PathLike[str] | None = None,
        on_complete: Callable[[], None] | None = None,
    ) -> None:
        self.feed = feed
        parent = Path(parent or tempfile.gettempdir())
        # A table of a project file spools to the same folder in every process, so that a checkpoint's
        # unfinished batch from an earlier run names a file Spark accepts (under the source's folder).
        lock_file = _claim(parent, identity) if identity else None
        self.id = _stable_id(identity) if identity and lock_file is not None else secrets.token_hex(6)
        self.directory = parent / f"{FOLDER_PREFIX}{self.id}"
        if lock_file is not None:  # files of a process that is gone: their rows went with it
            shutil.rmtree(self.directory, ignore_errors=True)
        # a handle never closed (a CLI run ends, a test forgets) still removes its folder at exit
        self._cleanup = weakref.finalize(self, _remove, self.directory, lock_file)
        self.max_rows_per_file = max_rows_per_file
        self._on_complete = on_complete
        self._completed = False
        self.read_by_a_query = False
        #: (first position, end position, path) of the files written and not committed, oldest first.
        self._files: collections.deque[tuple[int, int, Path]] = collections.deque()
        self._spooled = feed.replay_from()  # rows below this are in files (or committed)
        self._last_mtime_ms = 0
        self._lock = threading.Condition()  # guards _files/_spooled; notified on commit
        self._writing = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lifecycle = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def pending_files(self) -> list[Path]:
        """Files written and not committed, oldest first."""
        with self._lock:
            return [path for _, _, path in self._files]

    def start(self) -> None:
        """Create the folder (the first time) and start writing files as rows arrive."""
        with self._lifecycle:
            if self.running:
                return
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name=f"lakeport-queue-spool[{self.feed.table}]",
                                            daemon=True)
            self._thread.start()
        log.info("queue table %r spooled to %s", self.feed.table, self.directory)

    def stop(self) -> None:
        """Stop writing files; the files and the folder stay (``start()`` goes on)."""
        with self._lifecycle:
            thread, self._thread = self._thread, None
            self._stopping.set()
            with self._lock:
                self._lock.notify_all()
            if thread is not None and thread is not threading.current_thread():
                thread.join()

    def close(self) -> None:
        """Stop and delete the folder; the uncommitted rows stay in the feed."""
        self.stop()
        self._cleanup()  # deletes the folder and releases the claim, once
        with self._lock:
            self._files.clear()
            self._spooled = self.feed.replay_from()

    def flush_available(self, timeout: float = 60.0) -> None:
        """Write everything the source holds now, so an available-now query started next reads it all."""
        self.feed.wait_until_taken(timeout)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        while self._write_next(ignore_depth=True):
            pass

    # -- writing ----------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                wrote = self._write_next(ignore_depth=False)
            except Exception as exc:  # noqa: BLE001 - reaches the query through a file it cannot read
                log.error("%s", exc)
                self._write_failure(exc)
                return
            if not wrote:
                self._check_complete()
                with self._lock:
                    self._lock.wait(0.02)

    def _write_next(self, *, ignore_depth: bool) -> bool:
        """Write the next file if there are new rows (and room); whether one was written."""
        with self._writing:  # the spool thread and flush_available(): one file at a time, in order
            return self._write_next_file(ignore_depth)

    def _write_next_file(self, ignore_depth: bool) -> bool:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self.feed.error is not None:
            raise self.feed.error
        with self._lock:
            if not ignore_depth and len(self._files) >= DEPTH:
                return False
            start = self._spooled
        end = self.feed.latest(start, self.max_rows_per_file)
        if end <= start:
            return False
        table = pa.Table.from_batches(self.feed.rows(start, end), schema=self.feed.arrow_schema)
        mtime_ms = max(int(time.time() * 1000), self._last_mtime_ms + 1)  # Spark orders files by mtime (ms)

        def write(partial: Path) -> None:
            pq.write_table(table, partial)
            os.utime(partial, ns=(mtime_ms * 1_000_000, mtime_ms * 1_000_000))

        # the feed's id: Spark skips a path it has seen, and positions start again in every process
        path = self._place(f"{start:016d}-{end:016d}-{self.feed.id}.parquet", write)
        with self._lock:
            self._last_mtime_ms = mtime_ms
            self._files.append((start, end, path))
            self._spooled = end
        log.debug("queue table %r: rows [%d, %d) spooled to %s", self.feed.table, start, end, path.name)
        return True

    def _write_failure(self, exc: Exception) -> None:
        """Fail the query: Spark cannot hand a driver's error to a file source, but it names the file it
        cannot read, so the next file is not parquet and its name is the error."""
        slug = re.sub(r"[^A-Za-z0-9_]+", "-", str(exc)).strip("-")[:180]
        with self._lock:
            start = self._spooled
        try:
            with self._writing:
                self._place(f"{start:016d}-{slug}.parquet", lambda partial: partial.write_text(f"{exc}\n"))
        except OSError as write_error:
            log.error("queue table %r: cannot write the failure into the spool: %s", self.feed.table, write_error)

    def _place(self, name: str, write: Callable[[Path], Any]) -> Path:
        """Write a file under a name Spark's listing skips (it starts with '.'), then give it ``name``:
        the file source never sees half a file."""
        path = self.directory / name
        partial = self.directory / f".{name}.partial"
        write(partial)
        os.replace(partial, path)
        return path

    # -- what the query tracker reports -----------------------------------------------------
    def progress(self, source: dict[str, Any]) -> None:
        """A progress event of the query reading this spool: commit the files its batches took."""
        moved = _log_offset(source.get("endOffset")) - _log_offset(source.get("startOffset"))
        if moved <= 0 or not source.get("numInputRows"):
            # No batch, or one that read no row: every spool file holds rows, so it was a checkpoint's
            # unfinished batch of an earlier process, whose file went with that process's spool.
            return
        self.read_by_a_query = True
        with self._lock:
            taken = [self._files.popleft() for _ in range(min(moved, len(self._files)))]
            self._lock.notify_all()
        for _, _, path in taken:
            path.unlink(missing_ok=True)
        if taken:
            self.feed.commit(taken[-1][1])
            log.debug("queue table %r: committed up to position %d", self.feed.table, taken[-1][1])
        self._check_complete()

    def _check_complete(self) -> None:
        with self._lock:
            done = not self._files and self.feed.complete(self._spooled) and not self._completed
            if done:
                self._completed = True
        if done:
            log.info("queue table %r: stream complete at position %d", self.feed.table, self._spooled)
            if self._on_complete is not None:
                self._on_complete()


def _remove(directory: Path, lock_file: Any) -> None:
    shutil.rmtree(directory, ignore_errors=True)
    if lock_file is not None:
        lock_file.close()  # releases the claim; the empty lock file stays (deleting it races a new claimant)


def _stable_id(identity: str) -> str:
    import hashlib

    return hashlib.sha256(identity.encode()).hexdigest()[:12]


def _claim(parent: Path, identity: str) -> Any:
    """Lock the stable folder of ``identity`` for this process; None when another process holds it."""
    import fcntl

    parent.mkdir(parents=True, exist_ok=True)
    handle = open(parent / f"{FOLDER_PREFIX}{_stable_id(identity)}.lock", "a")  # noqa: SIM115 - held while open
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        log.info("the spool of %s is used by another process; this one spools to a folder of its own", identity)
        return None
    return handle


def _log_offset(offset: Any) -> int:
    """The file source's ``{"logOffset": n}`` (a dict or its JSON text); -1 before its first batch."""
    import json

    if isinstance(offset, str):
        try:
            offset = json.loads(offset)
        except ValueError:
            return -1
    if isinstance(offset, dict) and isinstance(offset.get("logOffset"), int):
        return int(offset["logOffset"])
    return -1
