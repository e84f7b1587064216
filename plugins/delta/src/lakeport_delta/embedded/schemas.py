"""Schema checks for writes: delta-rs does not check appended files, so we must.

Rules (Delta's, so that the embedded and the native backend agree):
- columns are matched by name, case-insensitively, in any order;
- a table column missing from the data is written as null, unless it is NOT NULL;
- a data column missing from the table is an error, unless ``merge_schema``;
- types must match, up to nullability and safe widening (byte < short < int < long,
  float < double); anything else is an error naming the column and both types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lakeport.api import SchemaMismatch

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql.types import DataType, StructType


def relaxed(dtype: DataType) -> DataType:
    """``dtype`` with every nullability flag set and field metadata dropped, for comparisons."""
    from pyspark.sql import types as T

    if isinstance(dtype, T.StructType):
        return T.StructType([T.StructField(f.name, relaxed(f.dataType), True) for f in dtype.fields])
    if isinstance(dtype, T.ArrayType):
        return T.ArrayType(relaxed(dtype.elementType), True)
    if isinstance(dtype, T.MapType):
        return T.MapType(relaxed(dtype.keyType), relaxed(dtype.valueType), True)
    return dtype


_WIDENING = {
    "byte": 0,
    "short": 1,
    "integer": 2,
    "long": 3,
}


def compatible(table_type: DataType, data_type: DataType) -> bool:
    """Whether data of ``data_type`` can be written to a column of ``table_type``."""
    from pyspark.sql import types as T

    if relaxed(table_type) == relaxed(data_type):
        return True
    t, d = table_type.typeName(), data_type.typeName()
    if t in _WIDENING and d in _WIDENING:
        return _WIDENING[d] <= _WIDENING[t]
    if isinstance(table_type, T.DoubleType) and isinstance(data_type, T.FloatType):
        return True
    return False


@dataclass
class WriteSchema:
    """Outcome of checking a DataFrame's schema against a table's."""

    table: StructType  # the table schema after this write (merged when merge_schema)
    data_columns: list[tuple[str, str]] = field(default_factory=list)  # (data name, table name)
    added: list[str] = field(default_factory=list)  # columns merge_schema adds


def check_write_schema(
    table_schema: StructType | None,
    data_schema: StructType,
    *,
    table: str,
    merge_schema: bool = False,
    replace: bool = False,
) -> WriteSchema:
    """Check ``data_schema`` against ``table_schema`` before any file is written.

    ``replace`` (overwrite with overwrite_schema, or a new table) makes the data schema the
    table schema. Raises :class:`SchemaMismatch` naming every offending column.
    """
    from pyspark.sql import types as T

    _check_duplicates(data_schema, table)
    if table_schema is None or replace:
        schema = T.StructType([T.StructField(f.name, f.dataType, True, f.metadata) for f in data_schema.fields])
        return WriteSchema(schema, [(f.name, f.name) for f in data_schema.fields])

    by_lower = {f.name.lower(): f for f in table_schema.fields}
    data_lower = {f.name.lower() for f in data_schema.fields}
    extra, retyped, columns = [], [], []
    for f in data_schema.fields:
        target = by_lower.get(f.name.lower())
        if target is None:
            extra.append(f)
            continue
        if not compatible(target.dataType, f.dataType):
            retyped.append(
                f"{target.name} (table: {target.dataType.simpleString()}, data: {f.dataType.simpleString()})"
            )
        columns.append((f.name, target.name))
    missing = [f.name for f in table_schema.fields if f.name.lower() not in data_lower and not f.nullable]
    problems = []
    if missing:
        problems.append(f"missing NOT NULL columns: {', '.join(missing)}")
    if extra and not merge_schema:
        problems.append(
            f"columns not in the table: {', '.join(f.name for f in extra)} (pass merge_schema=True to add them)"
        )
    if retyped:
        problems.append(f"columns with another type: {'; '.join(retyped)}")
    if problems:
        raise SchemaMismatch(f"cannot write to Delta table {table!r}: " + "; ".join(problems))

    schema = table_schema
    if extra:
        schema = T.StructType(
            list(table_schema.fields) + [T.StructField(f.name, f.dataType, True, f.metadata) for f in extra]
        )
        columns += [(f.name, f.name) for f in extra]
    return WriteSchema(schema, columns, [f.name for f in extra])


def _check_duplicates(schema: StructType, table: str) -> None:
    seen: dict[str, str] = {}
    for f in schema.fields:
        key = f.name.lower()
        if key in seen:
            raise SchemaMismatch(
                f"cannot write to Delta table {table!r}: the data has columns {seen[key]!r} and "
                f"{f.name!r}, which differ only in case"
            )
        seen[key] = f.name


def check_partition_columns(schema: StructType, partition_by: list[str], table: str) -> list[str]:
    """Partition columns spelled as in ``schema``; unknown or unpartitionable ones are errors."""
    from pyspark.sql import types as T

    by_lower = {f.name.lower(): f for f in schema.fields}
    out = []
    for name in partition_by:
        f = by_lower.get(name.lower())
        if f is None:
            raise SchemaMismatch(
                f"Delta table {table!r}: partition column {name!r} is not a column of the data "
                f"({', '.join(schema.fieldNames())})"
            )
        if isinstance(f.dataType, (T.StructType, T.ArrayType, T.MapType)):
            raise SchemaMismatch(
                f"Delta table {table!r}: column {name!r} of type {f.dataType.simpleString()} "
                "cannot be a partition column"
            )
        out.append(f.name)
    if len(out) == len(schema.fields) and out:
        raise SchemaMismatch(f"Delta table {table!r}: cannot partition by every column")
    return out
