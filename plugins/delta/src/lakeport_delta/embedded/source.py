"""The ``lakeport_delta`` Python data source: batch reader and writer over delta-rs.

Reads: the driver lists the snapshot's files with delta-rs (typed partition values and
statistics), prunes them with the pushed-down filters and packs them into input
partitions; each task reads its parquet files with pyarrow and yields Arrow batches in
exactly the schema Spark expects.

Writes: each task writes parquet files into a staging directory inside the table
(``_lakeport_staging/<write id>``, ignored by Delta readers) and returns their
description; the driver's ``commit`` moves them into place and adds them in one Delta
transaction. A failed job, a conflict or a skipped idempotent write removes the staged
files, so nothing of it stays in the table.

A plan with a ``ruleMask`` (expectations, :mod:`lakeport.expectations.mask`) makes each
task count the rule bits of its batches, drop the rows that hit a drop or quarantine bit
and the mask column, and return its counts in its commit message; ``commit`` sums them
into the outcome.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from typing import Any, Iterator

from pyspark.sql.datasource import (
    DataSource,
    DataSourceArrowWriter,
    DataSourceReader,
    InputPartition,
    WriterCommitMessage,
)

from lakeport.api import LakeportError, RuleCounts, RuleMask, SchemaMismatch, TableNotFound, WriteConflict, to_arrow

from . import SOURCE_NAME, schemas
from . import log as dlog

logger = logging.getLogger(__name__)

READ_BATCH_ROWS = 131_072
ROW_GROUP_ROWS = 1_048_576
ROW_GROUP_BYTES = 96 * 1024 * 1024
MAX_PARTITION_BYTES = 128 * 1024 * 1024
OPEN_COST_BYTES = 4 * 1024 * 1024
MAX_OPEN_FILES = 64


class DeltaDataSource(DataSource):
    """Delta tables through delta-rs; options follow Delta's names where Delta has one."""

    @classmethod
    def name(cls) -> str:
        return SOURCE_NAME

    def _root(self) -> str:
        path = self.options.get("path")
        if not path:
            raise LakeportError(f"data source {SOURCE_NAME!r} needs a path: .load(path) or .save(path)")
        return dlog.table_root(path)

    def schema(self):
        plan = self.options.get("lakeport.plan")
        if plan:
            from pyspark.sql.types import StructType

            return StructType.fromJson(json.loads(json.loads(plan)["schema"]))
        root = self._root()
        dt = _load_for_read(root, self.options)
        return dlog.spark_schema(dt)

    def reader(self, schema):
        if str(self.options.get("filterPushdown", "false")).lower() == "true":
            return DeltaPushdownReader(self._root(), self.options, schema)
        return DeltaBatchReader(self._root(), self.options, schema)

    def writer(self, schema, overwrite: bool):
        plan = self.options.get("lakeport.plan")
        if plan:
            return DeltaWriter(json.loads(plan))
        mode = "overwrite" if overwrite else "append"
        partition_by = _split_columns(self.options.get("partitionBy"))
        txn = None
        if self.options.get("txnAppId") is not None:
            txn = (self.options["txnAppId"], int(self.options["txnVersion"]))
        built = plan_write(
            self._root(),
            schema,
            mode=mode,
            partition_by=partition_by,
            merge_schema=_flag(self.options.get("mergeSchema")),
            overwrite_schema=_flag(self.options.get("overwriteSchema")),
            txn=txn,
        )
        if built is None:
            return SkippedWriter()
        return DeltaWriter(built)

    def streamReader(self, schema):
        from .stream import DeltaStreamReader

        return DeltaStreamReader(self._root(), self.options, schema)


def _flag(value: Any) -> bool:
    return str(value).lower() in ("true", "1", "yes")


def _split_columns(value: Any) -> list[str] | None:
    if value is None or value == "":
        return None
    text = str(value)
    if text.startswith("["):
        return list(json.loads(text))
    return [c.strip() for c in text.split(",") if c.strip()]


def _load_for_read(root: str, options: Any):
    version = options.get("versionAsOf")
    timestamp = options.get("timestampAsOf")
    return dlog.load_table(
        root,
        version=int(version) if version not in (None, "") else None,
        timestamp=timestamp if timestamp not in (None, "") else None,
    )


# =========================================================================== reading


class DeltaBatchReader(DataSourceReader):
    """Reads one snapshot; partitions are groups of whole files."""

    def __init__(self, root: str, options: Any, schema) -> None:
        self.root = root
        self.schema = schema
        dt = _load_for_read(root, options)
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


def pack_files(files: list, min_partitions: int) -> list[list]:
    """Group files into partitions of about equal bytes, like Spark's file sources."""
    if not files:
        return []
    total = sum(f.size + OPEN_COST_BYTES for f in files)
    target = min(MAX_PARTITION_BYTES, max(OPEN_COST_BYTES, total // max(1, min_partitions)))
    groups: list[list] = []
    current: list = []
    size = 0
    for f in sorted(files, key=lambda f: f.size, reverse=True):
        cost = f.size + OPEN_COST_BYTES
        if current and size + cost > target:
            groups.append(current)
            current, size = [], 0
        current.append(f)
        size += cost
    if current:
        groups.append(current)
    return groups


def read_files(root: str, files: list, schema) -> Iterator:
    """Yield Arrow batches of ``files`` in exactly ``schema``'s Arrow form.

    Partition columns come from the log's partition values; columns missing in an older
    file (added later by schema evolution) are nulls.
    """
    import pyarrow.parquet as pq

    target = to_arrow(schema)
    names = target.names
    for f in files:
        pvals = f.partition_values
        path = dlog.file_path(root, f.path)
        pf = pq.ParquetFile(path)
        present = set(pf.schema_arrow.names)
        wanted = [n for n in names if n not in pvals and n in present]
        if not wanted and pf.metadata.num_rows:
            # only partition / missing columns: still need the row count
            chunks = [(pf.metadata.row_group(i).num_rows) for i in range(pf.metadata.num_row_groups)]
            for n in chunks:
                yield _assemble(None, n, target, pvals)
            continue
        for batch in pf.iter_batches(batch_size=READ_BATCH_ROWS, columns=wanted, use_threads=False):
            yield _assemble(batch, batch.num_rows, target, pvals)


def _assemble(batch, num_rows: int, target, pvals: dict):
    import pyarrow as pa

    arrays = []
    for field in target:
        name = field.name
        if name in pvals:
            value = pvals[name]
            if value is None:
                arrays.append(pa.nulls(num_rows, field.type))
            else:
                arrays.append(pa.repeat(pa.scalar(value, type=field.type), num_rows))
            continue
        index = batch.schema.get_field_index(name) if batch is not None else -1
        if index < 0:
            arrays.append(pa.nulls(num_rows, field.type))
            continue
        column = batch.column(index)
        if not column.type.equals(field.type):
            column = column.cast(field.type)
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, schema=target)


# =========================================================================== writing


def plan_write(
    root: str,
    data_schema,
    *,
    mode: str = "append",
    partition_by: list[str] | None = None,
    merge_schema: bool = False,
    overwrite_schema: bool = False,
    txn: tuple[str, int] | None = None,
    table_name: str | None = None,
    description: str | None = None,
    properties: dict | None = None,
    rule_mask: RuleMask | None = None,
) -> dict | None:
    """Decide everything about a write before any file is written; None means skip (txn).

    With ``rule_mask`` the data carries the mask column, which is not written.
    Raises :class:`SchemaMismatch` for schema or partitioning problems, naming the table
    and the columns.
    """
    if mode not in ("append", "overwrite"):
        raise LakeportError(f"Delta table {root!r}: unsupported write mode {mode!r} (append or overwrite)")
    if overwrite_schema and mode != "overwrite":
        raise LakeportError(f"Delta table {root!r}: overwrite_schema=True needs mode='overwrite'")
    dt = None
    if os.path.isdir(os.path.join(root, dlog.LOG_DIR)):
        try:
            dt = dlog.load_table(root)
        except TableNotFound:  # an empty or half-deleted _delta_log: write a new table
            dt = None
    if txn is not None:
        app_id, txn_version = str(txn[0]), int(txn[1])
        if dt is not None:
            done = dt.transaction_version(app_id)
            if done is not None and done >= txn_version:
                logger.info(
                    "Delta table %s: skipping write, app %r already committed version %s (>= %s)",
                    root,
                    app_id,
                    done,
                    txn_version,
                )
                return None
        txn = (app_id, txn_version)

    if rule_mask is not None:
        data_schema = rule_mask.written_schema(data_schema)
    table_schema = None
    current_parts: list[str] = []
    if dt is not None:
        dlog.check_supported(dt, root, "write to")
        table_schema = dlog.spark_schema(dt)
        current_parts = list(dt.metadata().partition_columns)
    replace = dt is None or (mode == "overwrite" and overwrite_schema)
    checked = schemas.check_write_schema(
        table_schema, data_schema, table=root, merge_schema=merge_schema, replace=replace
    )
    if dt is None:
        parts = schemas.check_partition_columns(checked.table, list(partition_by or []), root)
    elif replace:
        parts = schemas.check_partition_columns(
            checked.table, list(partition_by if partition_by is not None else current_parts), root
        )
    else:
        if partition_by is not None and [p.lower() for p in partition_by] != [p.lower() for p in current_parts]:
            raise SchemaMismatch(
                f"Delta table {root!r} is partitioned by {current_parts or 'nothing'}, not by "
                f"{list(partition_by)}; use mode='overwrite' with overwrite_schema=True to change it"
            )
        parts = current_parts
    if dt is None:
        kind = "create"
    elif replace and parts != current_parts:
        kind = "replace"  # new partitioning: CREATE OR REPLACE in one commit
    else:
        kind = mode  # an overwrite commit carries a changed schema itself
    return {
        "root": root,
        "writeId": uuid.uuid4().hex,
        "kind": kind,  # create | replace | append | overwrite
        "readVersion": None if dt is None else dt.version(),
        "schema": checked.table.json(),
        "columns": checked.data_columns,
        "added": checked.added,
        "partitionBy": parts,
        "txn": list(txn) if txn else None,
        "tableName": table_name,
        "description": description,
        "properties": dict(properties or {}),
        "ruleMask": rule_mask.to_dict() if rule_mask is not None else None,
        "outcome": None,
    }


class DeltaCommitMessage(WriterCommitMessage):
    """Files one task wrote: (relative path, size, partition values, rows, stats JSON), and its rule counts."""

    def __init__(self, files: list[tuple], num_rows: int, rule_counts: RuleCounts | None = None) -> None:
        self.files = files
        self.num_rows = num_rows
        self.rule_counts = rule_counts


class SkippedWriter(DataSourceArrowWriter):
    """An idempotent write whose transaction version was already committed."""

    def write(self, iterator):
        for _ in iterator:
            pass
        return DeltaCommitMessage([], 0)

    def commit(self, messages) -> None:
        logger.info("Delta write skipped: application transaction already committed")

    def abort(self, messages) -> None:
        return None


class DeltaWriter(DataSourceArrowWriter):
    """Tasks write staged parquet files; the driver commits them in one Delta transaction."""

    def __init__(self, plan: dict) -> None:
        self.plan = plan

    def write(self, iterator):
        from pyspark import TaskContext

        ctx = TaskContext.get()
        task = ctx.partitionId() if ctx is not None else 0
        attempt = ctx.attemptNumber() if ctx is not None else 0
        files = _TaskFiles(self.plan, task, attempt)
        mask = RuleMask.from_dict(self.plan["ruleMask"]) if self.plan.get("ruleMask") else None
        counts = RuleCounts() if mask is not None else None
        try:
            for batch in iterator:
                if mask is not None:
                    batch, counted = mask.apply(batch)
                    counts += counted
                files.add(batch)
            written = files.close()
        except BaseException:
            files.discard()
            raise
        return DeltaCommitMessage(written, sum(f[3] for f in written), counts)

    def commit(self, messages) -> None:
        plan = self.plan
        messages = [m for m in messages if m is not None]
        files = [f for m in messages for f in m.files]
        try:
            outcome = commit_files(plan, files)
        except LakeportError as e:
            _write_outcome(plan, {"error": type(e).__name__, "message": str(e)})
            raise
        finally:
            _remove_staging(plan)
        if plan.get("ruleMask"):
            outcome["ruleCounts"] = RuleCounts.total(m.rule_counts for m in messages).to_dict()
        _write_outcome(plan, outcome)

    def abort(self, messages) -> None:
        _remove_staging(self.plan)
        logger.info("Delta write to %s aborted; staged files removed", self.plan["root"])


def _write_outcome(plan: dict, outcome: dict) -> None:
    target = plan.get("outcome")
    if not target:
        return
    tmp = f"{target}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(outcome, fh)
    os.replace(tmp, target)


def _staging_dir(plan: dict) -> str:
    return os.path.join(plan["root"], dlog.STAGING_DIR, plan["writeId"])


def _remove_staging(plan: dict) -> None:
    shutil.rmtree(_staging_dir(plan), ignore_errors=True)
    parent = os.path.join(plan["root"], dlog.STAGING_DIR)
    try:
        os.rmdir(parent)
    except OSError:
        pass  # another write is staging, or it is already gone
    if plan["kind"] == "create":
        try:
            os.rmdir(plan["root"])  # only succeeds if the failed create left it empty
        except OSError:
            pass


class _OpenFile:
    __slots__ = ("relpath", "staged", "pvalues", "batches", "rows", "bytes", "writer", "written", "seq")

    def __init__(self, relpath: str, staged: str, pvalues: dict) -> None:
        self.relpath, self.staged, self.pvalues = relpath, staged, pvalues
        self.batches: list = []
        self.rows = 0
        self.bytes = 0
        self.writer = None
        self.written = 0


class _TaskFiles:
    """The parquet files of one task: one per partition value, buffered into large row groups."""

    def __init__(self, plan: dict, task: int, attempt: int) -> None:
        from pyspark.sql.types import StructType

        self.plan = plan
        self.task, self.attempt = task, attempt
        self.table = StructType.fromJson(json.loads(plan["schema"]))
        self.parts = list(plan["partitionBy"])
        table_arrow = to_arrow(self.table)
        self.types = {f.name: table_arrow.field(f.name).type for f in self.table.fields}
        self.not_null = {f.name for f in self.table.fields if not f.nullable}
        self.spark_types = {f.name: f.dataType for f in self.table.fields}
        data_to_table = dict((d, t) for d, t in plan["columns"])
        self.file_columns = [(d, t) for d, t in plan["columns"] if t not in self.parts]
        self.part_sources = [(next((d for d, t in data_to_table.items() if t == p), None), p) for p in self.parts]
        import pyarrow as pa

        self.file_schema = pa.schema([pa.field(t, self.types[t], t not in self.not_null) for _, t in self.file_columns])
        self.open: dict[tuple, _OpenFile] = {}
        self.done: list[tuple] = []
        self.seq = 0
        self.staging = _staging_dir(plan)

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
                    f"Delta table {self.plan['root']!r}: column {table_name!r} is NOT NULL but "
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
            groups = [(first, None)]
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
        name = f"part-{self.task:05d}-{self.attempt}-{self.seq:04d}-{self.plan['writeId']}.c000.snappy.parquet"
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
        self.done.append((handle.relpath, size, encoded, handle.written, dlog.stats_json(metadata, handle.written)))

    def close(self) -> list[tuple]:
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
        for path in [os.path.join(self.staging, f[0]) for f in self.done] + [h.staged for h in self.open.values()]:
            try:
                os.remove(path)
            except FileNotFoundError:
                pass


def commit_files(plan: dict, files: list[tuple]) -> dict:
    """Move staged files into the table and add them in one Delta transaction."""
    from deltalake import CommitProperties, DeltaTable, Transaction
    from deltalake.exceptions import CommitFailedError, DeltaError
    from deltalake.schema import Field, Schema
    from deltalake.transaction import AddAction, create_table_with_add_actions

    root = plan["root"]
    num_rows = sum(f[3] for f in files)
    txn = plan.get("txn")
    read_version = plan.get("readVersion")
    if txn is not None and read_version is not None and dlog.transaction_done(root, txn):
        return _skipped(root, txn, txn[1])

    staging = _staging_dir(plan)
    moved: list[str] = []
    now = int(time.time() * 1000)
    actions = []
    for relpath, size, pvalues, _rows, stats in files:
        final = os.path.join(root, relpath)
        os.makedirs(os.path.dirname(final), exist_ok=True)
        os.replace(os.path.join(staging, relpath), final)
        moved.append(final)
        # delta-rs URI-encodes the path itself when it writes the log
        actions.append(AddAction(relpath, size, pvalues, now, True, stats))

    metadata = {dlog.WRITE_ID_KEY: plan["writeId"]}
    app_txns = [Transaction(txn[0], int(txn[1]))] if txn is not None else None
    props = CommitProperties(custom_metadata=metadata, app_transactions=app_txns)
    schema = Schema.from_json(plan["schema"])
    kind = plan["kind"]
    try:
        if kind == "create":
            if dlog.is_delta_table(root):
                raise WriteConflict(
                    f"Delta table {root!r} was created by another writer while this write ran; "
                    "nothing of this write was committed, retry it"
                )
            create_table_with_add_actions(
                root,
                schema,
                actions,
                mode="error",
                partition_by=plan["partitionBy"] or None,
                name=plan.get("tableName"),
                description=plan.get("description"),
                configuration=plan.get("properties") or None,
                commit_properties=props,
            )
        elif kind == "replace":
            current = DeltaTable(root)
            meta = current.metadata()
            configuration = dict(meta.configuration or {})
            configuration.update(plan.get("properties") or {})
            create_table_with_add_actions(
                root,
                schema,
                actions,
                mode="overwrite",
                partition_by=plan["partitionBy"] or None,
                name=plan.get("tableName") or meta.name,
                description=meta.description or plan.get("description"),
                configuration=configuration or None,
                commit_properties=props,
            )
        else:
            dt = DeltaTable(root, version=read_version)
            if plan.get("added") and kind == "append":
                added = [f for f in json.loads(plan["schema"])["fields"] if f["name"] in set(plan["added"])]
                dt.alter.add_columns([Field.from_json(json.dumps(f)) for f in added])
            dt.create_write_transaction(
                actions,
                mode=kind,
                schema=schema,
                partition_by=plan["partitionBy"] or None,
                commit_properties=props,
            )
    except (CommitFailedError, DeltaError, WriteConflict) as e:
        after = -1 if read_version is None else read_version
        version = dlog.find_commit(root, after, dlog.WRITE_ID_KEY, plan["writeId"])
        if version is not None:  # committed; something after the commit (a hook) failed
            logger.warning("Delta table %s: commit v%s succeeded but reported %s", root, version, e)
            return {"version": version, "skipped": False, "num_files": len(files), "num_rows": num_rows}
        _remove(moved)
        if txn is not None and dlog.is_delta_table(root) and dlog.transaction_done(root, txn):
            return _skipped(root, txn, txn[1])
        if isinstance(e, WriteConflict):
            raise
        created_meanwhile = kind == "create" and dlog.is_delta_table(root)
        if isinstance(e, CommitFailedError) or created_meanwhile:
            raise WriteConflict(
                f"Delta table {root!r}: another writer committed first ({_first_line(e)}); "
                "nothing of this write was committed, retry it"
            ) from e
        raise LakeportError(
            f"Delta table {root!r}: the commit failed ({_first_line(e)}); nothing of this write was committed"
        ) from e
    except BaseException:
        _remove(moved)
        raise
    version = dlog.find_commit(root, -1 if read_version is None else read_version, dlog.WRITE_ID_KEY, plan["writeId"])
    logger.info("Delta table %s: committed v%s with %d files, %d rows", root, version, len(files), num_rows)
    return {"version": version, "skipped": False, "num_files": len(files), "num_rows": num_rows}


def _skipped(root: str, txn, version) -> dict:
    logger.info("Delta table %s: app %r already committed version %s; write skipped", root, txn[0], version)
    return {"version": None, "skipped": True, "num_files": 0, "num_rows": 0}


def _remove(paths: list[str]) -> None:
    for path in paths:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
