"""What lakeport keeps in a streaming checkpoint: the app id and whose checkpoint it is.

The app id keys the idempotent writes (``txn=(app_id, batch_id)``), so it must
survive restarts: it is stored next to Spark's own files, written before the
query first starts. The recorded source and target let a reused checkpoint of
another query fail before it silently skips or replays batches.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from lakeport_foreachbatch.errors import CheckpointMismatch

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

#: lakeport's file in the checkpoint folder (Spark ignores unknown files there).
QUERY_FILE = "lakeport_query.json"


@attrs.frozen
class QueryRecord:
    """Contents of :data:`QUERY_FILE`."""

    app_id: str
    target: str
    source: str | None = None
    query_name: str | None = None

    def to_json(self) -> str:
        return json.dumps(attrs.asdict(self), indent=2, sort_keys=True)


class CheckpointFiles:
    """Read and atomically write small files of a checkpoint folder.

    Local paths use the OS; other schemes (``dbfs:/``, ``s3a://``) go through
    Hadoop's FileSystem of the session when Spark runs in this process.
    """

    def __init__(self, location: str, spark: SparkSession | None = None) -> None:
        self.location = location
        self._local = _local_path(location)
        self._spark = spark

    @property
    def available(self) -> bool:
        return self._local is not None or self._hadoop_fs() is not None

    def read(self, name: str) -> str | None:
        if self._local is not None:
            path = self._local / name
            return path.read_text() if path.is_file() else None
        fs, path = self._hadoop(name)
        if not fs.exists(path):
            return None
        stream = fs.open(path)
        try:
            jvm = getattr(self._spark, "_jvm", None)
            assert jvm is not None, "checkpoint files are read through the JVM (classic Spark)"
            return jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8")
        finally:
            stream.close()

    def write(self, name: str, text: str) -> None:
        """Write ``name`` whole or not at all (temp file, then rename)."""
        if self._local is not None:
            self._local.mkdir(parents=True, exist_ok=True)
            tmp = self._local / f".{name}.{uuid.uuid4().hex}.tmp"
            with open(tmp, "w") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self._local / name)
            return
        fs, path = self._hadoop(name)
        tmp = self._spark._jvm.org.apache.hadoop.fs.Path(f"{self.location.rstrip('/')}/.{name}.tmp")  # type: ignore[union-attr]
        out = fs.create(tmp, True)
        try:
            out.write(bytearray(text.encode()))
        finally:
            out.close()
        fs.delete(path, False)
        if not fs.rename(tmp, path):
            from lakeport_foreachbatch.errors import StreamError

            raise StreamError(f"checkpoint_path {self.location}: could not write {name}")

    def remove_crashed_start_leftovers(self) -> None:
        """Delete temp files a process killed while writing the first offset left behind.

        Spark writes log entries to ``.N.<uuid>.tmp`` and renames them; after a
        kill during batch 0 the temp file stays, and Spark then refuses the
        checkpoint (STATE_STORE_CHECKPOINT_LOCATION_NOT_EMPTY) forever. Only
        logs with no committed entry are touched, so a running query's files are
        never removed. Local checkpoints only.
        """
        if self._local is None:
            return
        for log_name in ("offsets", "commits"):
            folder = self._local / log_name
            if not folder.is_dir():
                continue
            entries = list(folder.iterdir())
            if any(not e.name.startswith(".") for e in entries):
                continue
            for entry in entries:
                if entry.name.endswith(".tmp"):
                    log.warning("%s: removing %s left by a query killed while starting", self.location, entry)
                    entry.unlink()

    def spark_query_id(self) -> str | None:
        """The query id in Spark's ``metadata`` file: stable across restarts."""
        text = self.read("metadata")
        if not text:
            return None
        return json.loads(text.splitlines()[0]).get("id")

    def _hadoop_fs(self) -> Any:
        jvm = getattr(self._spark, "_jvm", None)
        if jvm is None:
            return None
        conf = self._spark._jsc.hadoopConfiguration()  # type: ignore[union-attr]
        return jvm.org.apache.hadoop.fs.Path(self.location).getFileSystem(conf)

    def _hadoop(self, name: str) -> tuple[Any, Any]:
        fs = self._hadoop_fs()
        if fs is None:
            raise RuntimeError("no Hadoop FileSystem without a local JVM")
        path = self._spark._jvm.org.apache.hadoop.fs.Path(f"{self.location.rstrip('/')}/{name}")  # type: ignore[union-attr]
        return fs, path


def _local_path(location: str) -> Path | None:
    if location.startswith("file:"):
        from urllib.parse import urlparse

        return Path(urlparse(location).path)
    if "://" in location or location.startswith("dbfs:"):
        return None
    return Path(location)


def claim(files: CheckpointFiles, *, target: str, source: str | None, query_name: str | None) -> QueryRecord:
    """The checkpoint's record, created on first use; a record of another query is an error."""
    text = files.read(QUERY_FILE)
    if text is not None:
        stored = QueryRecord(**json.loads(text))
        problems = []
        if stored.target != target:
            problems.append(f"target {stored.target!r}, not {target!r}")
        if stored.source and source and stored.source != source:
            problems.append(f"source {stored.source!r}, not {source!r}")
        if problems:
            raise CheckpointMismatch(
                f"checkpoint_path {files.location}: belongs to another query ({'; '.join(problems)}). "
                "Use a new checkpoint_path for this query, or delete the old checkpoint to start over"
            )
        if source and not stored.source:
            stored = attrs.evolve(stored, source=source)
            files.write(QUERY_FILE, stored.to_json())
        return stored
    app_id = files.spark_query_id()
    if app_id is not None:
        log.warning("checkpoint %s was not written by lakeport; adopting it (app id %s)", files.location, app_id)
    record = QueryRecord(app_id=app_id or str(uuid.uuid4()), target=target, source=source, query_name=query_name)
    files.write(QUERY_FILE, record.to_json())
    return record


def describe_sources(df: DataFrame) -> str | None:
    """The streaming sources of ``df``'s plan, e.g. ``FileSource[/data/raw]``; None if unknown.

    Read from the JVM plan, so it is the same whatever API built the DataFrame;
    Spark Connect has no JVM here and gets None (the check then uses names).
    """
    jdf = getattr(df, "_jdf", None)
    if jdf is None:
        return None
    from py4j.protocol import Py4JError

    try:
        leaves = jdf.queryExecution().analyzed().collectLeaves().iterator()
        names = []
        while leaves.hasNext():
            leaf = leaves.next()
            kind = leaf.getClass().getSimpleName()
            if kind == "StreamingRelation":
                names.append(str(leaf.sourceName()))
            elif kind == "StreamingRelationV2":
                options = leaf.extraOptions()
                where = options.get("path") or options.get("table") or options.get("name")
                names.append(f"{leaf.sourceName()}[{where}]" if where else str(leaf.sourceName()))
    except Py4JError as exc:
        log.debug("cannot read the streaming sources of the plan: %s", exc)
        return None
    return ", ".join(sorted(names)) or None
