"""Batch reads through Spark's own parquet reader over exactly a snapshot's data files.

The ``lakeport_delta`` Python data source hands Spark Arrow batches from Python workers:
correct for every table the embedded engine supports, but without column pruning and at
the cost of a Python process per task. For a batch read Spark's vectorized parquet
reader can do the same job, given the right file list and schema:

- the files are those of the snapshot (delta-rs reads the log, time travel included),
  passed one by one, so files removed from the table are never read;
- the table's schema is given explicitly, so columns added later (schema evolution) read
  as null in older files and types are the Delta schema's, not the files';
- Spark's file sources make every column nullable, so tables with NOT NULL columns (or
  nested non-null fields) keep the Python source, which reports the schema as declared;
- partition values live in the log. Spark takes them from the directory names instead
  (``basePath`` = table root), so the fast path is taken only when every file sits in
  exactly the hive-style ``col=value/...`` directories that Spark decodes to the log's
  values, for partition types whose text form is unambiguous.

:func:`read_snapshot` returns None (and logs at debug why) whenever any of that does not
hold; the caller then reads through the Python data source.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import re
from typing import TYPE_CHECKING, Any

from lakeport.api import quote_identifier

from . import log as dlog

if TYPE_CHECKING:  # pragma: no cover
    from deltalake import DeltaTable
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

logger = logging.getLogger(__name__)

#: Partition column types whose directory text Spark casts back to exactly the log's value.
_PARTITION_TYPES = ("StringType", "ByteType", "ShortType", "IntegerType", "LongType", "DateType", "BooleanType")
_INTEGER = re.compile(r"-?[0-9]+\Z")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
#: Spark's internal option that stops it from expanding ``*?[]{}`` in the given paths.
_NO_GLOB = "__globPaths__"


def read_snapshot(spark: SparkSession, root: str, dt: DeltaTable) -> DataFrame | None:
    """The loaded snapshot of ``dt`` as a DataFrame read by Spark's parquet source, or None.

    ``root`` is the table's local directory; ``dt`` must already have passed
    :func:`lakeport_delta.embedded.log.check_supported` (no deletion vectors, no column
    mapping). Columns come out in the table schema's order, as the Python source's do.
    """
    from pyspark.sql import functions as F

    schema = dlog.spark_schema(dt)
    partition_columns = list(dt.metadata().partition_columns)
    why = _unsupported_schema(schema, partition_columns)
    if why is None:
        files = dlog.snapshot_files(dt)
        if not files:
            logger.debug("Delta table %s v%s: no data files, empty DataFrame", root, dt.version())
            return spark.createDataFrame([], schema)
        paths, why = _local_paths(root, files, schema, partition_columns)
    if why is not None:
        logger.debug("Delta table %s v%s: reading through the Python source: %s", root, dt.version(), why)
        return None
    df = (
        spark.read.schema(schema)
        .option("basePath", root)
        .option(_NO_GLOB, "false")
        .option("mergeSchema", "false")
        .parquet(*paths)
    )
    logger.debug("Delta table %s v%s: reading %d files with Spark's parquet reader", root, dt.version(), len(paths))
    return df.select(*[F.col(quote_identifier(name)) for name in schema.fieldNames()])


def _unsupported_schema(schema: StructType, partition_columns: list[str]) -> str | None:
    strict = _not_null(schema.jsonValue())
    if strict:
        # Spark's file sources make every column nullable; the Python source keeps NOT NULL.
        return f"column {strict!r} is NOT NULL, which Spark's parquet source would drop"
    by_name = {f.name: f for f in schema.fields}
    for column in partition_columns:
        field = by_name.get(column)
        if field is None:
            return f"partition column {column!r} is not in the schema"
        if type(field.dataType).__name__ not in _PARTITION_TYPES:
            return f"partition column {column!r} has type {field.dataType.simpleString()}"
    return None


def _not_null(node: Any, where: str = "") -> str | None:
    """Path of the first field, element or value declared NOT NULL in a schema's JSON, or None."""
    if not isinstance(node, dict):
        return None
    kind = node.get("type")
    if kind == "struct":
        for field in node["fields"]:
            name = f"{where}.{field['name']}" if where else field["name"]
            if not field.get("nullable", True):
                return name
            found = _not_null(field["type"], name)
            if found:
                return found
    elif kind == "array":
        if not node.get("containsNull", True):
            return f"{where}[]"
        return _not_null(node["elementType"], f"{where}[]")
    elif kind == "map":
        if not node.get("valueContainsNull", True):
            return f"{where}{{}}"
        return _not_null(node["keyType"], f"{where}{{key}}") or _not_null(node["valueType"], f"{where}{{}}")
    return None


def _local_paths(
    root: str, files: list[dlog.DataFile], schema: StructType, partition_columns: list[str]
) -> tuple[list[str], str | None]:
    """Local paths of ``files`` and None, or ([], why the fast path cannot read them)."""
    types = {f.name: type(f.dataType).__name__ for f in schema.fields}
    paths = []
    for f in files:
        if "://" in f.path or f.path.startswith("file:") or os.path.isabs(f.path):
            return [], f"file {f.path!r} is not inside the table directory"
        *directories, name = f.path.split("/")
        if name.startswith((".", "_")) or any(d.startswith(".") for d in directories):
            return [], f"file {f.path!r} has a name Spark treats as hidden"
        if len(directories) != len(partition_columns):
            return [], f"file {f.path!r} is not in one directory per partition column"
        for directory, column in zip(directories, partition_columns, strict=True):
            if not _matches(directory, column, f.partition_values.get(column), types[column]):
                return [], (
                    f"directory {directory!r} of {f.path!r} does not decode to "
                    f"{column}={f.partition_values.get(column)!r} from the log"
                )
        paths.append(dlog.file_path(root, f.path))
    return paths, None


def _matches(directory: str, column: str, value: Any, type_name: str) -> bool:
    """Whether Spark decodes the directory name ``directory`` to ``column`` = ``value``."""
    key, sep, text = directory.partition("=")
    if not sep or _unescape(key) != column:
        return False
    if text == dlog.HIVE_NULL:
        return value is None
    decoded = _unescape(text)
    if decoded is None or value is None:
        return False
    if type_name == "StringType":
        return decoded == value
    if type_name == "DateType":
        return isinstance(value, _dt.date) and decoded == value.isoformat()
    if type_name == "BooleanType":
        return decoded == ("true" if value else "false")
    return bool(_INTEGER.match(decoded)) and int(decoded) == value


def _unescape(text: str) -> str | None:
    """Spark's ``unescapePathName`` for the forms it decodes unambiguously; None otherwise.

    Spark turns each ``%XX`` into the one character of code XX; a ``%`` not followed by
    two hex digits is kept, but Java's ``parseInt`` also takes signs, so such text is
    refused rather than second-guessed. Non-ASCII escapes are refused too (Spark does not
    decode them as UTF-8).
    """
    parts = _ESCAPE.split(text)
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            code = int(part, 16)
            if code >= 0x80:
                return None
            out.append(chr(code))
        elif "%" in part:
            return None
        else:
            out.append(part)
    return "".join(out)
