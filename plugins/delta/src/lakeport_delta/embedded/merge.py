"""Upsert (MERGE) with delta-rs on the driver, and the pyarrow helpers it needs (conform, dedupe, key probe)."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any, Sequence

from lakeport.api import LakeportError, SchemaMismatch, TableNotFound, WriteConflict, to_arrow

from .outcomes import UpsertOutcome
from .session import register, table_root

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa
    from pyspark.sql import DataFrame

    from lakeport.api import RuleMask

logger = logging.getLogger(__name__)


def upsert(
    df: DataFrame,
    path: str,
    keys: str | Sequence[str],
    *,
    sequence_by: str | None = None,
    txn: tuple[str, int] | None = None,
    rule_mask: RuleMask | None = None,
) -> UpsertOutcome:
    """MERGE ``df`` into the table on ``keys`` (update matches, insert the rest) with delta-rs.

    Source rows with a null key are dropped; duplicate keys are reduced to one row (the
    latest by ``sequence_by``, else a deterministic pick) because delta-rs would insert
    every duplicate. When no source key exists in the table, the rows are simply appended.
    With ``rule_mask`` the rows collected on the driver are counted and filtered by the
    mask column (not written) before all that.
    """
    from deltalake import CommitProperties, Transaction, write_deltalake
    from deltalake.exceptions import CommitFailedError, DeltaError
    from pyspark.sql.types import StructType

    from . import log as dlog
    from . import schemas

    register(df.sparkSession)
    root = table_root(path)
    keys = [keys] if isinstance(keys, str) else list(keys)
    if not keys:
        raise LakeportError(f"Delta table {root!r}: upsert needs at least one key column")
    data_schema = df.schema
    if rule_mask is not None:
        data_schema = rule_mask.written_schema(data_schema)
    data_names = {f.name.lower(): f.name for f in data_schema.fields}
    for name in keys + ([sequence_by] if sequence_by else []):
        if name.lower() not in data_names:
            raise SchemaMismatch(
                f"Delta table {root!r}: upsert column {name!r} is not in the data ({', '.join(data_schema.fieldNames())})"
            )

    try:
        dt = dlog.load_table(root)
    except TableNotFound:
        dt = None  # the upsert creates it
    if dt is not None:
        dlog.check_supported(dt, root, "upsert into")
        if txn is not None:
            done = dt.transaction_version(str(txn[0]))
            if done is not None and done >= int(txn[1]):
                logger.info("Delta table %s: upsert skipped, app %r already at %s", root, txn[0], done)
                return UpsertOutcome(None, True, 0, 0, 0, 0)
    table_schema = dlog.spark_schema(dt) if dt is not None else None
    sequence_data = data_names[sequence_by.lower()] if sequence_by else None
    sequence_outside = bool(sequence_by) and (
        table_schema is None or str(sequence_by).lower() not in {f.name.lower() for f in table_schema.fields}
    )
    if sequence_outside and table_schema is not None:  # ordering only: not written
        data_schema = StructType([f for f in data_schema.fields if f.name != sequence_data])
    checked = schemas.check_write_schema(table_schema, data_schema, table=root, replace=dt is None)
    to_table = dict(checked.data_columns)
    keys = [to_table[data_names[k.lower()]] for k in keys]

    collected = df.toArrow()
    counts = None
    if rule_mask is not None:
        collected, counts = rule_mask.apply(collected)
    source = _conform(collected, checked, to_arrow(checked.table))
    sequence = None
    if sequence_by and sequence_data in to_table:
        sequence = to_table[sequence_data]
    elif sequence_by:
        sequence = "__lakeport_sequence"
        source = source.append_column(sequence, collected.column(sequence_data))
    total = source.num_rows
    source = _drop_null_keys(source, keys)
    dropped = total - source.num_rows
    deduped = _dedupe(source, keys, sequence)
    duplicates = source.num_rows - deduped.num_rows
    if sequence == "__lakeport_sequence":
        deduped = deduped.drop_columns([sequence])
    if dropped or duplicates:
        logger.info("Delta upsert into %s: dropped %d rows with null keys, %d duplicates", root, dropped, duplicates)
    if deduped.num_rows == 0:
        return UpsertOutcome(None, False, 0, 0, dropped, duplicates, counts)

    write_id = uuid.uuid4().hex
    props = CommitProperties(
        custom_metadata={dlog.WRITE_ID_KEY: write_id},
        app_transactions=[Transaction(str(txn[0]), int(txn[1]))] if txn is not None else None,
    )
    read_version = dt.version() if dt is not None else -1
    try:
        # The append path is a blind append: take it only if nobody committed since the check.
        if dt is None or (
            _no_key_in_table(dt, deduped, keys) and dlog.latest_version(root, read_version) == read_version
        ):
            full = _with_all_columns(deduped, to_arrow(checked.table))
            write_deltalake(dt if dt is not None else root, full, mode="append", commit_properties=props)
            inserted, updated = deduped.num_rows, 0
        else:
            predicate = " AND ".join(f"t.`{k}` = s.`{k}`" for k in keys)
            metrics = (
                dt.merge(
                    deduped, predicate, source_alias="s", target_alias="t", streamed_exec=False, commit_properties=props
                )
                .when_matched_update_all()
                .when_not_matched_insert_all()
                .execute()
            )
            inserted = int(metrics.get("num_target_rows_inserted", 0))
            updated = int(metrics.get("num_target_rows_updated", 0))
    except CommitFailedError as e:
        if txn is not None and dlog.transaction_done(root, txn):
            return UpsertOutcome(None, True, 0, 0, dropped, duplicates, counts)
        raise WriteConflict(
            f"Delta table {root!r}: another writer committed first ({short_error(e)}); "
            "nothing of this upsert was committed, retry it"
        ) from e
    except DeltaError as e:
        raise LakeportError(f"Delta table {root!r}: upsert on {keys} failed: {short_error(e)}") from e
    version = dlog.find_commit(root, read_version, dlog.WRITE_ID_KEY, write_id)
    return UpsertOutcome(version, False, inserted, updated, dropped, duplicates, counts)


def _conform(table: pa.Table, checked: Any, target: pa.Schema) -> pa.Table:
    """Source columns renamed to the table's spelling and cast to the table's types."""
    import pyarrow as pa

    arrays, fields = [], []
    for data_name, table_name in checked.data_columns:
        column = table.column(data_name)
        field = target.field(table_name)
        if not column.type.equals(field.type):
            column = column.cast(field.type)
        arrays.append(column)
        fields.append(pa.field(table_name, field.type, True))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _with_all_columns(table: pa.Table, target: pa.Schema) -> pa.Table:
    """Append needs every table column: nulls for the ones the source lacks."""
    import pyarrow as pa

    arrays = [
        table.column(f.name) if f.name in table.column_names else pa.nulls(table.num_rows, f.type) for f in target
    ]
    return pa.Table.from_arrays(arrays, schema=target)


def _drop_null_keys(table: pa.Table, keys: list[str]) -> pa.Table:
    import pyarrow.compute as pc

    if not any(table.column(k).null_count for k in keys):
        return table
    mask = None
    for k in keys:
        valid = pc.is_valid(table.column(k))
        mask = valid if mask is None else pc.and_(mask, valid)
    return table.filter(mask)


def _sort_indices_nulls_last(table: Any, sort_keys: list[tuple[str, str]]) -> Any:
    """``pc.sort_indices`` with nulls last, in the form the installed pyarrow wants (per key from 25 on)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if int(pa.__version__.split(".")[0]) >= 25:
        return pc.sort_indices(table, sort_keys=[(name, order, "at_end") for name, order in sort_keys])
    return pc.sort_indices(table, sort_keys=sort_keys, null_placement="at_end")


def _sortable(dtype: Any) -> bool:
    import pyarrow.types as pt

    return not (pt.is_nested(dtype) or pt.is_dictionary(dtype) or pt.is_null(dtype))


def _dedupe(table: pa.Table, keys: list[str], sequence: str | None) -> pa.Table:
    """One row per key: the latest by ``sequence`` (nulls oldest), ties broken by the other columns."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n = table.num_rows
    if n <= 1:
        return table
    if table.group_by(keys, use_threads=False).aggregate([]).num_rows == n:
        return table
    sort_keys = [(k, "ascending") for k in keys]
    if sequence:
        sort_keys.append((sequence, "descending"))
    sort_keys += [
        (f.name, "ascending") for f in table.schema if f.name not in keys and f.name != sequence and _sortable(f.type)
    ]
    ordered = table.take(_sort_indices_nulls_last(table, sort_keys))
    first = np.zeros(n, dtype=bool)
    first[0] = True
    for k in keys:
        column = ordered.column(k)
        changed = pc.not_equal(column.slice(1), column.slice(0, n - 1))
        first[1:] |= changed.to_numpy(zero_copy_only=False).astype(bool)
    return ordered.filter(pa.array(first))


def _no_key_in_table(dt: Any, source: pa.Table, keys: list[str]) -> bool:
    """True when surely no source key is in the table: then an append does the upsert.

    First the files' range of the first key (partition values, or min/max statistics for
    integer and date keys, whose statistics are exact); the key columns of the files that
    may match are then read and semi-joined with the source keys.
    """
    from urllib.parse import unquote

    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from . import log as dlog

    actions = pa.table(dt.get_add_actions(flatten=True))
    if actions.num_rows == 0:
        return True
    key = keys[0]
    key_type = source.column(key).type
    partitioned = set(dt.metadata().partition_columns)
    names = set(actions.column_names)
    lo: Any = None
    hi: Any = None
    if key in partitioned:
        lo = hi = actions.column(f"partition.{key}")
    elif (pa.types.is_integer(key_type) or pa.types.is_date(key_type)) and {f"min.{key}", f"max.{key}"} <= names:
        lo, hi = actions.column(f"min.{key}"), actions.column(f"max.{key}")
    candidates = np.ones(actions.num_rows, dtype=bool)
    if lo is not None and not lo.null_count and not hi.null_count:
        if pa.types.is_integer(key_type) and pa.types.is_integer(lo.type):
            values = np.sort(source.column(key).to_numpy())
            lows, highs = lo.to_numpy(), hi.to_numpy()
        else:
            values = np.sort(np.asarray(source.column(key).to_pylist(), dtype=object))
            lows = np.asarray(lo.to_pylist(), dtype=object)
            highs = np.asarray(hi.to_pylist(), dtype=object)
        candidates = np.searchsorted(values, lows, "left") < np.searchsorted(values, highs, "right")
        if not candidates.any():
            return True
    if any(k in partitioned for k in keys):
        return False  # key values live in the log, not in the files: let MERGE decide
    root = dlog.table_root(dt.table_uri)
    first = pc.unique(source.column(key).combine_chunks())
    source_keys = source.select(keys)
    for path, hit in zip(actions.column("path").to_pylist(), candidates, strict=True):
        if not hit:
            continue
        # batch by batch: when keys match, the first batches usually show it
        parquet = pq.ParquetFile(dlog.file_path(root, unquote(path)))
        for batch in parquet.iter_batches(batch_size=65_536, columns=keys, use_threads=False):
            column = batch.column(key)
            if not column.type.equals(first.type):
                column = column.cast(first.type)
            mask = pc.is_in(column, value_set=first)
            if not pc.any(mask).as_py():
                continue
            if len(keys) == 1:
                return False
            matches = pa.Table.from_batches([batch.filter(mask)]).cast(source_keys.schema)
            if source_keys.join(matches, keys=keys, join_type="left semi").num_rows:
                return False
    return True


def short_error(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text[:500] or type(error).__name__
