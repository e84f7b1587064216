"""Batch reads: one snapshot, partitions of whole files, optionally pruned by pushed-down filters."""

from __future__ import annotations

import logging
from typing import Any

from pyspark.sql.datasource import DataSourceReader, InputPartition

from . import log as dlog
from .scan import load_for_read, pack_files, read_files

logger = logging.getLogger(__name__)


class DeltaBatchReader(DataSourceReader):
    """Reads one snapshot; partitions are groups of whole files."""

    def __init__(self, root: str, options: Any, schema) -> None:
        self.root = root
        self.schema = schema
        dt = load_for_read(root, options)
        dlog.check_supported(dt, root, "read")
        self.version = dt.version()
        self.partition_columns = list(dt.metadata().partition_columns)
        self.min_partitions = max(1, int(options.get("minPartitions", 1) or 1))
        self.partition_filters: list = []
        self.stats_filters: list = []
        self._dt = dt  # planning only; dropped when the reader is shipped to tasks

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_dt", None)
        return state

    def _table(self):
        dt = getattr(self, "_dt", None)
        if dt is None:
            dt = dlog.load_table(self.root, version=self.version)
        return dt

    def partitions(self):
        from .filters import keep_file

        files = dlog.snapshot_files(self._table(), with_stats=bool(self.stats_filters))
        before = len(files)
        if self.partition_filters or self.stats_filters:
            files = [f for f in files if keep_file(f, self.partition_filters, self.stats_filters)]
        logger.debug("Delta table %s v%s: scanning %d of %d files", self.root, self.version, len(files), before)
        slim = [dlog.DataFile(f.path, f.size, f.partition_values) for f in files]
        groups = pack_files(slim, self.min_partitions)
        return [InputPartition((self.root, group)) for group in groups]

    def read(self, partition):
        if partition is None or partition.value is None:  # Spark asks for one even when there are none
            return iter(())
        root, files = partition.value
        return read_files(root, files, self.schema)


class DeltaPushdownReader(DeltaBatchReader):
    """Batch reader that prunes files with pushed-down filters.

    Spark refuses readers that implement ``pushFilters`` unless
    ``spark.sql.python.filterPushdown.enabled`` is on, hence the separate class.
    """

    def pushFilters(self, filters):
        from .filters import classify

        by_name = {f.name: f.dataType for f in self.schema.fields}
        for flt in filters:
            kind = classify(flt, by_name, set(self.partition_columns))
            if kind == "partition":
                self.partition_filters.append(flt)  # exact: Spark need not re-check
            else:
                if kind == "stats":
                    self.stats_filters.append(flt)  # prunes files only: Spark re-checks rows
                yield flt
