"""File pruning with Spark's pushed-down filters.

Filters on partition columns are decided exactly per file (every row of a file has the
same partition values), so Spark need not evaluate them again. Filters on data columns
only skip files whose min/max statistics rule them out; Spark still checks the rows.
Evaluation uses SQL's three-valued logic: a file is kept unless a filter is surely false.
"""

from __future__ import annotations

import datetime as _dt
import decimal
from typing import Any

from pyspark.sql import types as T
from pyspark.sql.datasource import (
    EqualNullSafe,
    EqualTo,
    GreaterThan,
    GreaterThanOrEqual,
    In,
    IsNotNull,
    IsNull,
    LessThan,
    LessThanOrEqual,
    Not,
    StringContains,
    StringEndsWith,
    StringStartsWith,
)

_COMPARISONS = (EqualTo, EqualNullSafe, GreaterThan, GreaterThanOrEqual, LessThan, LessThanOrEqual)
_STRING_OPS = (StringStartsWith, StringEndsWith, StringContains)
_INTEGRAL = (T.ByteType, T.ShortType, T.IntegerType, T.LongType)


def _value_fits(value: Any, dtype: T.DataType) -> bool:
    """Whether a filter literal compares with the column's Python values without surprises."""
    if value is None:
        return False
    if isinstance(dtype, T.StringType):
        return isinstance(value, str)
    if isinstance(dtype, T.BooleanType):
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if isinstance(dtype, _INTEGRAL):
        return isinstance(value, int)
    if isinstance(dtype, T.DecimalType):
        return isinstance(value, (int, decimal.Decimal))
    if isinstance(dtype, T.DateType):
        return isinstance(value, _dt.date) and not isinstance(value, _dt.datetime)
    if isinstance(dtype, T.TimestampType):
        return isinstance(value, _dt.datetime) and value.tzinfo is not None
    return False


def _leaf_column(flt) -> str | None:
    attribute = getattr(flt, "attribute", None)
    if attribute is None or len(attribute) != 1:
        return None
    return attribute[0]


def _fits(flt, dtype: T.DataType, *, partition: bool) -> bool:
    if isinstance(flt, Not):
        return partition and _fits(flt.child, dtype, partition=partition)
    if isinstance(flt, (IsNull, IsNotNull)):
        return True
    if isinstance(flt, In):
        return bool(flt.value) and all(_value_fits(v, dtype) for v in flt.value)
    if isinstance(flt, _STRING_OPS):
        return partition and isinstance(dtype, T.StringType) and isinstance(flt.value, str)
    if isinstance(flt, _COMPARISONS):
        return _value_fits(flt.value, dtype)
    return False


def _column_of(flt) -> str | None:
    return _column_of(flt.child) if isinstance(flt, Not) else _leaf_column(flt)


_STATS_TYPES = _INTEGRAL + (T.DateType,)


def classify(flt, types: dict[str, T.DataType], partition_columns: set[str]) -> str | None:
    """'partition' (exact), 'stats' (file skipping only) or None (left to Spark)."""
    column = _column_of(flt)
    if column is None or column not in types:
        return None
    dtype = types[column]
    if column in partition_columns:
        return "partition" if _fits(flt, dtype, partition=True) else None
    if (
        isinstance(dtype, _STATS_TYPES)
        and not isinstance(flt, (Not, EqualNullSafe))
        and _fits(flt, dtype, partition=False)
    ):
        return "stats"
    return None


def keep_file(f, partition_filters: list, stats_filters: list) -> bool:
    for flt in partition_filters:
        if _eval_partition(flt, f.partition_values) is not True:
            return False
    if stats_filters and f.stats:
        for flt in stats_filters:
            if not _may_match(flt, f):
                return False
    return True


def _eval_partition(flt, values: dict) -> bool | None:
    """Three-valued evaluation of a filter on a file's partition values."""
    if isinstance(flt, Not):
        inner = _eval_partition(flt.child, values)
        return None if inner is None else not inner
    value = values.get(flt.attribute[0])
    if isinstance(flt, IsNull):
        return value is None
    if isinstance(flt, IsNotNull):
        return value is not None
    if isinstance(flt, EqualNullSafe):
        return value == flt.value
    if value is None:
        return None
    if isinstance(flt, EqualTo):
        return value == flt.value
    if isinstance(flt, GreaterThan):
        return value > flt.value
    if isinstance(flt, GreaterThanOrEqual):
        return value >= flt.value
    if isinstance(flt, LessThan):
        return value < flt.value
    if isinstance(flt, LessThanOrEqual):
        return value <= flt.value
    if isinstance(flt, In):
        return value in flt.value
    if isinstance(flt, StringStartsWith):
        return value.startswith(flt.value)
    if isinstance(flt, StringEndsWith):
        return value.endswith(flt.value)
    if isinstance(flt, StringContains):
        return flt.value in value
    return None  # unknown filter kinds never prune


def _may_match(flt, f) -> bool:
    """False only when the file's statistics prove no row matches."""
    column = flt.attribute[0]
    stat = f.stats.get(column)
    if stat is None:
        return True
    lo, hi, nulls = stat
    rows = f.num_records
    if isinstance(flt, IsNull):
        return nulls is None or nulls > 0
    if isinstance(flt, IsNotNull):
        return nulls is None or rows is None or nulls < rows
    if lo is None or hi is None:
        return True  # no min/max: all-null file or stats missing
    if isinstance(flt, EqualTo):
        return lo <= flt.value <= hi
    if isinstance(flt, GreaterThan):
        return hi > flt.value
    if isinstance(flt, GreaterThanOrEqual):
        return hi >= flt.value
    if isinstance(flt, LessThan):
        return lo < flt.value
    if isinstance(flt, LessThanOrEqual):
        return lo <= flt.value
    if isinstance(flt, In):
        return any(lo <= v <= hi for v in flt.value)
    return True
