"""Read helpers shared by the batch reader and the stream reader: packing files into
partitions and reading them as Arrow batches in Spark's schema.

Kept apart from :mod:`.reader` so that :mod:`.stream` needs nothing of the batch reader.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

from lakeport.api import to_arrow

from . import log as dlog

READ_BATCH_ROWS = 131_072
MAX_PARTITION_BYTES = 128 * 1024 * 1024
OPEN_COST_BYTES = 4 * 1024 * 1024


def flag(value: Any) -> bool:
    return str(value).lower() in ("true", "1", "yes")


def split_columns(value: Any) -> list[str] | None:
    if value is None or value == "":
        return None
    text = str(value)
    if text.startswith("["):
        return list(json.loads(text))
    return [c.strip() for c in text.split(",") if c.strip()]


def load_for_read(root: str, options: Any):
    version = options.get("versionAsOf")
    timestamp = options.get("timestampAsOf")
    return dlog.load_table(
        root,
        version=int(version) if version not in (None, "") else None,
        timestamp=timestamp if timestamp not in (None, "") else None,
    )


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
