"""Schema inference as Auto Loader does it, and ``cloudFiles.schemaHints``.

JSON and CSV carry no types, so every leaf is STRING unless
``cloudFiles.inferColumnTypes`` is true (then JSON gives BIGINT/DOUBLE/BOOLEAN/
STRING, structs and arrays; CSV INT/BIGINT/DOUBLE/BOOLEAN/STRING). JSON fields
are sorted by name, as Spark's JSON inference sorts them; CSV keeps the header's
order. Parquet, ORC and Avro use the files' own schemas. Files are merged in
the order given: fields a later file adds go at the end, conflicting types
become STRING, names that differ only by case are one column (the first spelling
seen; the other spellings are rescued). Runs in Spark's Python processes: pyspark types only, no session.
"""

from __future__ import annotations

import decimal
from typing import TYPE_CHECKING, Any, Iterable

from lakeport_autoloader.formats import Malformed, records

if TYPE_CHECKING:
    from pyspark.sql.types import DataType, StructType

#: Databricks samples at most this many files (spark.databricks.cloudFiles.schemaInference.sampleSize.numFiles).
SAMPLE_FILES = 1000


def _t() -> Any:
    import pyspark.sql.types as t

    return t


def json_type(value: Any, typed: bool) -> DataType:
    t = _t()
    if isinstance(value, dict):
        return t.StructType([t.StructField(k, json_type(v, typed), True) for k, v in sorted(value.items())])
    if isinstance(value, list):
        element: DataType = t.NullType()
        for item in value:
            element = merge(element, json_type(item, typed))
        return t.ArrayType(t.StringType() if isinstance(element, t.NullType) else element, True)
    if value is None:
        return t.NullType()
    if not typed:
        return t.StringType()
    if isinstance(value, bool):
        return t.BooleanType()
    if isinstance(value, int):
        return t.LongType()
    if isinstance(value, (float, decimal.Decimal)):
        return t.DoubleType()
    return t.StringType()


def csv_type(value: str | None, typed: bool) -> DataType:
    t = _t()
    if value is None:
        return t.NullType()
    if not typed:
        return t.StringType()
    try:
        number = int(value)
        return t.IntegerType() if -(2**31) <= number < 2**31 else t.LongType()
    except ValueError:
        pass
    try:
        float(value)
        return t.DoubleType()
    except ValueError:
        pass
    if value.strip().lower() in ("true", "false"):
        return t.BooleanType()
    return t.StringType()


_NUMERIC_ORDER = ("IntegerType", "LongType", "DoubleType")


def merge(a: DataType, b: DataType) -> DataType:
    """The type that holds both: widened numbers, merged structs, else STRING."""
    t = _t()
    if isinstance(a, t.NullType):
        return b
    if isinstance(b, t.NullType) or a == b:
        return a
    if isinstance(a, t.StructType) and isinstance(b, t.StructType):
        return merge_structs(a, b, sort=False)
    if isinstance(a, t.ArrayType) and isinstance(b, t.ArrayType):
        return t.ArrayType(merge(a.elementType, b.elementType), True)
    names = (type(a).__name__, type(b).__name__)
    if all(n in _NUMERIC_ORDER for n in names):
        return getattr(t, max(names, key=_NUMERIC_ORDER.index))()
    return t.StringType()


def merge_structs(a: StructType, b: StructType, sort: bool = False) -> StructType:
    t = _t()
    fields = {f.name.lower(): f for f in a.fields}  # names that differ only by case are one column
    for field in b.fields:
        seen = fields.get(field.name.lower())
        name = seen.name if seen else field.name  # the first spelling seen wins; others are rescued
        fields[name.lower()] = t.StructField(name, merge(seen.dataType, field.dataType) if seen else field.dataType,
                                             True)
    ordered = sorted(fields.values(), key=lambda f: f.name) if sort else list(fields.values())
    return t.StructType(ordered)


def no_nulls(dt: DataType) -> DataType:
    """Columns only ever null are STRING."""
    t = _t()
    if isinstance(dt, t.NullType):
        return t.StringType()
    if isinstance(dt, t.StructType):
        return t.StructType([t.StructField(f.name, no_nulls(f.dataType), True) for f in dt.fields])
    if isinstance(dt, t.ArrayType):
        return t.ArrayType(no_nulls(dt.elementType), True)
    return dt


def avro_type(schema: Any) -> DataType:
    t = _t()
    if isinstance(schema, list):
        branches = [s for s in schema if s != "null"]
        return avro_type(branches[0]) if len(branches) == 1 else t.StringType()
    if isinstance(schema, str):
        schema = {"type": schema}
    kind, logical = schema["type"], schema.get("logicalType")
    if isinstance(kind, (list, dict)):
        return avro_type(kind)
    if logical == "date":
        return t.DateType()
    if logical in ("timestamp-millis", "timestamp-micros"):
        return t.TimestampType()
    if logical in ("local-timestamp-millis", "local-timestamp-micros"):
        return t.TimestampNTZType()
    if logical == "decimal":
        return t.DecimalType(schema["precision"], schema.get("scale", 0))
    simple = {"boolean": t.BooleanType, "int": t.IntegerType, "long": t.LongType, "float": t.FloatType,
              "double": t.DoubleType, "string": t.StringType, "enum": t.StringType, "bytes": t.BinaryType,
              "fixed": t.BinaryType}
    if kind in simple:
        return simple[kind]()
    if kind == "array":
        return t.ArrayType(avro_type(schema["items"]), True)
    if kind == "map":
        return t.MapType(t.StringType(), avro_type(schema["values"]), True)
    if kind == "record":
        return t.StructType([t.StructField(f["name"], avro_type(f["type"]), True) for f in schema["fields"]])
    return t.StringType()


def file_schema(fmt: str, path: str, typed: bool, format_options: dict[str, str]) -> StructType:
    """The schema one file suggests."""
    t = _t()
    if fmt == "parquet" or fmt == "orc":
        from pyspark.sql.pandas.types import from_arrow_schema

        if fmt == "parquet":
            import pyarrow.parquet as pq

            arrow = pq.read_schema(path)
        else:
            import pyarrow.orc as orc

            arrow = orc.ORCFile(path).schema
        return from_arrow_schema(arrow)
    if fmt == "avro":
        from lakeport_autoloader.avro import AvroFile

        schema = avro_type(AvroFile(path).schema)
        return schema if isinstance(schema, t.StructType) else t.StructType([t.StructField("value", schema)])
    found = t.StructType()
    if fmt == "csv":
        columns: dict[str, DataType] = {}
        for record in records(fmt, path, format_options):
            if isinstance(record, Malformed):
                continue
            for name, value in record.items():
                columns[name] = merge(columns.get(name, t.NullType()), csv_type(value, typed))
        return t.StructType([t.StructField(n, no_nulls(dt), True) for n, dt in columns.items()])
    for record in records(fmt, path, format_options):
        if isinstance(record, Malformed):
            continue
        found = merge_structs(found, json_type(record, typed), sort=True)  # type: ignore[arg-type]
    return found


def infer(fmt: str, paths: Iterable[str], typed: bool, format_options: dict[str, str]) -> StructType:
    t = _t()
    if fmt == "text":
        return t.StructType([t.StructField("value", t.StringType(), True)])
    if fmt == "binaryfile":
        return t.StructType([t.StructField("path", t.StringType(), True),
                             t.StructField("modificationTime", t.TimestampType(), True),
                             t.StructField("length", t.LongType(), True),
                             t.StructField("content", t.BinaryType(), True)])
    schema = t.StructType()
    for path in paths:  # JSON sorts fields by name, as Spark's inference does
        schema = merge_structs(schema, file_schema(fmt, path, typed, format_options), sort=fmt == "json")
    return no_nulls(schema)  # type: ignore[return-value]


# -- cloudFiles.schemaHints: "id bigint, price decimal(10,2), tags array<string>" ----------------------
def parse_hints(text: str) -> list[tuple[str, DataType]]:
    """``name type`` pairs, comma separated: the DDL of a table's ``schema``, so lakeport's one parser."""
    from lakeport.api import parse_ddl

    return [(field.name, field.dataType) for field in parse_ddl(text).fields]


def apply_hints(schema: StructType, hints: list[tuple[str, DataType]]) -> StructType:
    """Hinted columns get the hinted type; hinted columns the files lack are added at the end."""
    t = _t()
    fields = list(schema.fields)
    by_name = {f.name.lower(): i for i, f in enumerate(fields)}
    for name, dt in hints:
        index = by_name.get(name.lower())
        if index is None:
            by_name[name.lower()] = len(fields)
            fields.append(t.StructField(name, dt, True))
        else:
            fields[index] = t.StructField(fields[index].name, dt, True)
    return t.StructType(fields)
