"""Streaming reads of a Delta table; offsets are positions in the table's history.

An offset ``{"version": v, "index": i, "snapshot": s}`` names the next file to read:
file ``i`` of version ``v``. With ``snapshot`` true, version ``v``'s files are the whole
snapshot at ``v`` (the initial snapshot, as Delta streams start without
``startingVersion``); otherwise they are the ``add`` actions with ``dataChange`` of
commit ``v`` in ``_delta_log``. Positions within a version let ``maxFilesPerTrigger``
split large commits, and both lists are in a fixed order so that restarts from a
checkpoint see the same files at the same indexes.

A commit that removes data (a ``remove`` action with ``dataChange``: delete, update,
merge, overwrite) cannot be expressed as appended rows; it fails the stream unless
``skipChangeCommits`` is set, which skips such commits whole, as Delta does.
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
from typing import Any
from urllib.parse import unquote

from pyspark.sql.datasource import DataSourceStreamReader, InputPartition

from lakeport.api import LakeportError, TableNotFound, UnsupportedTableFeature

from . import log as dlog
from .scan import flag, pack_files, read_files

try:  # PySpark >= 4.2; ops.read_stream() refuses older ones (lakeport.session.python_streams_unsupported)
    from pyspark.sql.streaming.datasource import (
        ReadAllAvailable,
        ReadMaxFiles,
        SupportsTriggerAvailableNow,
    )
except ImportError:  # pragma: no cover - only for the module to import: no admission control, no AvailableNow
    ReadAllAvailable = ReadMaxFiles = None  # type: ignore[assignment,misc]

    class SupportsTriggerAvailableNow:  # type: ignore[no-redef]
        pass


logger = logging.getLogger(__name__)


class DeltaStreamReader(DataSourceStreamReader, SupportsTriggerAvailableNow):
    """Micro-batches of the files added to a Delta table, version after version."""

    def __init__(self, root: str, options: Any, schema) -> None:
        self.root = root
        self.schema = schema
        self.types = {f.name: f.dataType for f in schema.fields}
        self.starting_version = options.get("startingVersion")
        self.starting_timestamp = options.get("startingTimestamp")
        self.skip_change_commits = flag(options.get("skipChangeCommits", "false"))
        max_files = options.get("maxFilesPerTrigger")
        self.max_files = int(max_files) if max_files not in (None, "") else None
        if self.max_files is not None and self.max_files < 1:
            raise LakeportError(f"Delta stream {root!r}: maxFilesPerTrigger must be >= 1, got {max_files}")
        self.min_partitions = max(1, int(options.get("minPartitions", 1) or 1))
        dt = dlog.load_table(root)
        dlog.check_supported(dt, root, "stream from")
        self._latest: int | None = dt.version()
        self._target: int | None = None
        self._commits: dict[int, list] = {}
        self._snapshots: dict[int, list] = {}

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_commits"], state["_snapshots"] = {}, {}
        return state

    # ------------------------------------------------------------------ offsets
    def initialOffset(self) -> dict:
        if self.starting_version not in (None, ""):
            if str(self.starting_version).lower() == "latest":
                return _offset(self._latest_version() + 1, 0, False)
            return _offset(int(self.starting_version), 0, False)
        if self.starting_timestamp not in (None, ""):
            return _offset(self._version_at(self.starting_timestamp), 0, False)
        return _offset(self._latest_version(), 0, True)

    def getDefaultReadLimit(self):
        if self.max_files is not None and ReadMaxFiles is not None:
            return ReadMaxFiles(self.max_files)
        return ReadAllAvailable()

    def prepareForTriggerAvailableNow(self) -> None:
        self._target = self._latest_version()
        logger.info("Delta stream %s: Trigger.AvailableNow reads up to version %s", self.root, self._target)

    def latestOffset(self, start: dict | None = None, limit: Any = None) -> dict:
        if start is None:  # pre-4.2 signature: no admission control
            start = self.initialOffset()
        target = self._target if self._target is not None else self._latest_version()
        budget = math.inf
        if ReadMaxFiles is not None and isinstance(limit, ReadMaxFiles):
            budget = max(1, int(limit.max_files))
        version, index, snapshot = start["version"], start["index"], start["snapshot"]
        while budget > 0:
            if not snapshot and version > target:
                break
            files = self._snapshot(version) if snapshot else self._commit(version)
            remaining = len(files) - index
            if remaining <= budget:
                budget -= remaining
                version, index, snapshot = version + 1, 0, False
            else:
                index += int(budget)
                budget = 0
        return _offset(version, index, snapshot)

    def reportLatestOffset(self) -> dict | None:
        latest = self._latest_version()
        return None if latest is None else _offset(latest + 1, 0, False)

    # ------------------------------------------------------------------ batches
    def partitions(self, start: dict, end: dict):
        files = []
        version, index, snapshot = start["version"], start["index"], start["snapshot"]
        stop = (end["version"], end["index"])
        while (version, index) < stop:
            listed = self._snapshot(version) if snapshot else self._commit(version)
            upto = end["index"] if version == end["version"] else len(listed)
            files.extend(listed[index:upto])
            version, index, snapshot = version + 1, 0, False
        groups = pack_files(files, self.min_partitions)
        return [InputPartition((self.root, group)) for group in groups]

    def read(self, partition):
        if partition.value is None:
            return iter(())
        root, files = partition.value
        return read_files(root, files, self.schema)

    def commit(self, end: dict) -> None:
        for cache in (self._commits, self._snapshots):
            for version in [v for v in cache if v < end["version"]]:
                del cache[version]

    def stop(self) -> None:
        self._commits.clear()
        self._snapshots.clear()

    # ------------------------------------------------------------------ log
    def _latest_version(self) -> int:
        latest = dlog.latest_version(self.root, self._latest)
        if latest is None:
            raise TableNotFound(f"no Delta table at {self.root!r}")
        self._latest = latest
        return latest

    def _version_at(self, when: Any) -> int:
        """First version committed at or after ``when`` (Delta's startingTimestamp)."""
        millis = _to_millis(when)
        latest = self._latest_version()
        for version in range(0, latest + 1):
            ts = dlog.commit_timestamp(self.root, version)
            if ts is not None and ts >= millis:
                return version
        return latest + 1

    def _snapshot(self, version: int) -> list:
        files = self._snapshots.get(version)
        if files is None:
            dt = dlog.load_table(self.root, version=version)
            dlog.check_supported(dt, self.root, "stream from")
            files = [dlog.DataFile(f.path, f.size, f.partition_values) for f in dlog.snapshot_files(dt)]
            self._snapshots[version] = files
        return files

    def _commit(self, version: int) -> list:
        files = self._commits.get(version)
        if files is not None:
            return files
        actions = dlog.read_commit(self.root, version)
        if actions is None:
            raise LakeportError(
                f"Delta stream {self.root!r}: commit {version} is not in the log any more "
                "(log cleanup ran after a checkpoint); restart the stream from a newer "
                "startingVersion with a new checkpoint location"
            )
        adds, removed, operation = [], False, None
        for action in actions:
            if "add" in action:
                add = action["add"]
                if add.get("deletionVector"):
                    self._unsupported(version, "deletion vectors")
                if add.get("dataChange", True):
                    adds.append(add)
            elif "remove" in action:
                if action["remove"].get("dataChange", True):
                    removed = True
            elif "metaData" in action:
                config = action["metaData"].get("configuration") or {}
                if (config.get("delta.columnMapping.mode") or "none").lower() != "none":
                    self._unsupported(version, "column mapping")
            elif "commitInfo" in action:
                operation = action["commitInfo"].get("operation")
        if removed:
            if not self.skip_change_commits:
                raise LakeportError(
                    f"Delta stream {self.root!r}: version {version} "
                    f"({operation or 'a change'}) removes or rewrites data, which a streaming "
                    "read of appends cannot follow; pass skip_change_commits=True (option "
                    "skipChangeCommits) to ignore such commits, or restart from a later version"
                )
            logger.info("Delta stream %s: skipping change commit %s (%s)", self.root, version, operation)
            adds = []
        files = [
            dlog.DataFile(
                unquote(add["path"]),
                int(add.get("size") or 0),
                {
                    c: dlog.parse_partition_value(v, self.types[c]) if c in self.types else None
                    for c, v in (add.get("partitionValues") or {}).items()
                },
            )
            for add in adds
        ]
        self._commits[version] = files
        return files

    def _unsupported(self, version: int, feature: str) -> None:
        raise UnsupportedTableFeature(
            f"Delta table {self.root!r} uses {feature} from version {version} on; the embedded "
            "Delta backend cannot stream such tables. Use the native Delta backend."
        )


def _offset(version: int, index: int, snapshot: bool) -> dict:
    return {"version": int(version), "index": int(index), "snapshot": bool(snapshot)}


def _to_millis(when: Any) -> int:
    if isinstance(when, (int, float)):
        return int(when)
    if isinstance(when, _dt.datetime):
        value = when
    elif isinstance(when, _dt.date):
        value = _dt.datetime(when.year, when.month, when.day)
    else:
        text = str(when).strip().replace("Z", "+00:00")
        value = _dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.timezone.utc)
    return int(value.timestamp() * 1000)
