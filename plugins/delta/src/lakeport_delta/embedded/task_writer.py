"""The task side of a write: parquet files staged inside the table, one per partition value."""

from __future__ import annotations

import json
import os
from typing import Any, Iterable

from lakeport.api import SchemaMismatch, to_arrow

from . import log as dlog
from .write_plan import StagedFile, WritePlan

ROW_GROUP_ROWS = 1_048_576
ROW_GROUP_BYTES = 96 * 1024 * 1024
MAX_OPEN_FILES = 64


class _OpenFile:
    __slots__ = ("relpath", "staged", "pvalues", "batches", "rows", "bytes", "writer", "written", "seq")

    def __init__(self, relpath: str, staged: str, pvalues: dict) -> None:
        self.relpath, self.staged, self.pvalues = relpath, staged, pvalues
        self.batches: list = []
        self.rows = 0
        self.bytes = 0
        self.writer: Any = None  # a pyarrow ParquetWriter once the first batch is flushed
        self.written = 0


class TaskFiles:
    """The parquet files of one task: one per partition value, buffered into large row groups."""

    def __init__(self, plan: WritePlan, task: int, attempt: int) -> None:
        from pyspark.sql.types import StructType

        self.plan = plan
        self.task, self.attempt = task, attempt
        self.table = StructType.fromJson(json.loads(plan.schema))
        self.parts = list(plan.partition_by)
        table_arrow = to_arrow(self.table)
        self.types = {f.name: table_arrow.field(f.name).type for f in self.table.fields}
        self.not_null = {f.name for f in self.table.fields if not f.nullable}
        self.spark_types = {f.name: f.dataType for f in self.table.fields}
        data_to_table = dict((d, t) for d, t in plan.columns)
        self.file_columns = [(d, t) for d, t in plan.columns if t not in self.parts]
        self.part_sources = [(next((d for d, t in data_to_table.items() if t == p), None), p) for p in self.parts]
        import pyarrow as pa

        self.file_schema = pa.schema([pa.field(t, self.types[t], t not in self.not_null) for _, t in self.file_columns])
        self.open: dict[tuple, _OpenFile] = {}
        self.done: list[StagedFile] = []
        self.seq = 0
        self.staging = plan.staging_dir

    # ---------------------------------------------------------------- batches
    def add(self, batch) -> None:
        import pyarrow as pa

        if batch.num_rows == 0:
            return
        columns = []
        for data_name, table_name in self.file_columns:
            column = batch.column(data_name)
            target = self.types[table_name]
            if not column.type.equals(target):
                column = column.cast(target)
            if table_name in self.not_null and column.null_count:
                raise SchemaMismatch(
                    f"Delta table {self.plan.root!r}: column {table_name!r} is NOT NULL but "
                    f"the data has {column.null_count} null value(s)"
                )
            columns.append(column)
        data = pa.RecordBatch.from_arrays(columns, schema=self.file_schema)
        if not self.parts:
            self._append((), {}, data)
            return
        for key, pvalues, rows in self._split(batch, data):
            self._append(key, pvalues, rows)

    def _split(self, batch, data):
        """(key, partition values, rows) per distinct partition value in the batch."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        n = batch.num_rows
        codes = None
        dictionaries = []
        for data_name, table_name in self.part_sources:
            if data_name is None:
                column = pa.nulls(n, self.types[table_name])
            else:
                column = batch.column(data_name)
                if not column.type.equals(self.types[table_name]):
                    column = column.cast(self.types[table_name])
            encoded = pc.dictionary_encode(column, null_encoding="encode")
            if isinstance(encoded, pa.ChunkedArray):
                encoded = encoded.combine_chunks()
            dictionaries.append(encoded.dictionary)
            idx = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
            width = len(encoded.dictionary)
            codes = idx if codes is None else codes * width + idx
        assert codes is not None
        first = int(codes[0])
        if (codes == first).all():
            groups: list[tuple[int, Any]] = [(first, None)]
        else:
            order = np.argsort(codes, kind="stable")
            sorted_codes = codes[order]
            bounds = np.flatnonzero(np.diff(sorted_codes)) + 1
            starts = np.concatenate(([0], bounds))
            ends = np.concatenate((bounds, [n]))
            groups = [(int(sorted_codes[s]), order[s:e]) for s, e in zip(starts, ends, strict=True)]
        for code, rows in groups:
            pvalues = {}
            rest = code
            for (_, table_name), dictionary in reversed(list(zip(self.part_sources, dictionaries, strict=True))):
                width = len(dictionary)
                value = dictionary[rest % width].as_py()
                rest //= width
                if value == "" and isinstance(value, str):
                    value = None  # Spark and Delta store empty strings as null partitions
                pvalues[table_name] = value
            key = tuple(pvalues[p] for p in self.parts)
            part = data if rows is None else data.take(pa.array(rows))
            yield key, pvalues, part

    def _append(self, key: tuple, pvalues: dict, data) -> None:
        handle = self.open.get(key)
        if handle is None:
            if len(self.open) >= MAX_OPEN_FILES:
                oldest = next(iter(self.open))
                self._finish(self.open.pop(oldest))
            handle = self._new_file(pvalues)
            self.open[key] = handle
        handle.batches.append(data)
        handle.rows += data.num_rows
        handle.bytes += data.nbytes
        if handle.rows >= ROW_GROUP_ROWS or handle.bytes >= ROW_GROUP_BYTES:
            self._flush(handle)

    def _new_file(self, pvalues: dict) -> _OpenFile:
        directory = ""
        if self.parts:
            segments = []
            for p in self.parts:
                text = dlog.encode_partition_value(pvalues[p], self.spark_types[p])
                segments.append(
                    f"{dlog.escape_path_name(p)}={dlog.HIVE_NULL if text is None else dlog.escape_path_name(text)}"
                )
            directory = "/".join(segments)
        self.seq += 1
        name = f"part-{self.task:05d}-{self.attempt}-{self.seq:04d}-{self.plan.write_id}.c000.snappy.parquet"
        relpath = f"{directory}/{name}" if directory else name
        return _OpenFile(relpath, os.path.join(self.staging, relpath), pvalues)

    def _flush(self, handle: _OpenFile) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not handle.batches:
            return
        if handle.writer is None:
            os.makedirs(os.path.dirname(handle.staged), exist_ok=True)
            handle.writer = pq.ParquetWriter(
                handle.staged, self.file_schema, compression="snappy", write_statistics=True
            )
        table = pa.Table.from_batches(handle.batches, schema=self.file_schema)
        handle.writer.write_table(table, row_group_size=max(table.num_rows, 1))
        handle.written += table.num_rows
        handle.batches, handle.rows, handle.bytes = [], 0, 0

    def _finish(self, handle: _OpenFile) -> None:
        self._flush(handle)
        if handle.writer is None:
            return
        handle.writer.close()
        metadata = handle.writer.writer.metadata
        size = os.path.getsize(handle.staged)
        encoded = {p: dlog.encode_partition_value(handle.pvalues[p], self.spark_types[p]) for p in self.parts}
        stats = dlog.stats_json(metadata, handle.written)
        self.done.append(StagedFile(handle.relpath, size, encoded, handle.written, stats))

    def close(self) -> list[StagedFile]:
        for handle in list(self.open.values()):
            self._finish(handle)
        self.open.clear()
        return self.done

    def discard(self) -> None:
        for handle in self.open.values():
            if handle.writer is not None:
                try:
                    handle.writer.close()
                except OSError:
                    pass
        for path in [os.path.join(self.staging, f.path) for f in self.done] + [h.staged for h in self.open.values()]:
            try:
                os.remove(path)
            except FileNotFoundError:
                pass


def write_batches(plan: WritePlan, batches: Iterable[Any], task: int = 0, attempt: int = 0) -> tuple[list[StagedFile], Any]:
    """Stage ``batches`` as one task's files, applying the plan's rule mask; the files and the mask's counts.

    Shared by Spark's writer tasks and the driver-side small write; a failure leaves no staged file.
    """
    from lakeport.api import RuleCounts, RuleMask

    mask = RuleMask.from_dict(plan.rule_mask) if plan.rule_mask else None
    counts = RuleCounts() if mask is not None else None
    files = TaskFiles(plan, task, attempt)
    try:
        for batch in batches:
            if mask is not None:
                batch, counted = mask.apply(batch)
                counts += counted
            files.add(batch)
        return files.close(), counts
    except BaseException:
        files.discard()
        raise
