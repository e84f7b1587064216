"""Records to rows of the stream's schema, with Auto Loader's rescued data.

What does not fit goes to the rescued-data column as a JSON object, with the
source file under ``_file_path``: fields the schema lacks (in ``rescue`` mode, or
``none`` with a rescued-data column), values of the wrong type (the column is
then null), fields that differ from a column only by case, and whole records that
could not be parsed (under ``_corrupt_record``). Without a rescued-data column a
malformed record fails the batch instead of vanishing.
"""

from __future__ import annotations

import datetime
import decimal
import json
import os
from typing import TYPE_CHECKING, Any, Callable

from lakeport_autoloader.errors import MalformedRecordError
from lakeport_autoloader.formats import Malformed
from lakeport_autoloader.listing import FileInfo

if TYPE_CHECKING:
    from pyspark.sql.types import DataType, StructType

_UTC = datetime.timezone.utc


class Mismatch(Exception):
    """A value that does not fit its column's type."""


def _int_range(bits: int) -> tuple[int, int]:
    return -(2 ** (bits - 1)), 2 ** (bits - 1)


def _timestamp(value: Any, ntz: bool = False) -> datetime.datetime:
    if isinstance(value, datetime.datetime):
        result = value
    elif isinstance(value, str):
        try:
            result = datetime.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise Mismatch from None
    else:
        raise Mismatch
    if ntz:
        return result.replace(tzinfo=None) if result.tzinfo is None else result.astimezone(_UTC).replace(tzinfo=None)
    return result.replace(tzinfo=_UTC) if result.tzinfo is None else result


def _date(value: Any) -> datetime.date:
    if isinstance(value, datetime.datetime):
        raise Mismatch
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value.strip())
        except ValueError:
            raise Mismatch from None
    raise Mismatch


def _json_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, decimal.Decimal, float)):
        return str(value)
    return json.dumps(value, separators=(",", ":"), default=str)


def converter(dt: DataType, kind: str) -> Callable[[Any], Any]:
    """A function from a record's value to the column's value; raises :class:`Mismatch`."""
    import pyspark.sql.types as t

    if isinstance(dt, t.StringType):
        if kind == "json":
            return _json_text
        if kind == "csv":
            return lambda v: v

        def string(v: Any) -> str:
            if isinstance(v, str):
                return v
            raise Mismatch

        return string
    if isinstance(dt, (t.LongType, t.IntegerType, t.ShortType, t.ByteType)):
        low, high = _int_range({"LongType": 64, "IntegerType": 32, "ShortType": 16, "ByteType": 8}[type(dt).__name__])

        def integer(v: Any) -> int:
            if kind == "csv" and isinstance(v, str):
                try:
                    v = int(v.strip())
                except ValueError:
                    raise Mismatch from None
            if isinstance(v, bool) or not isinstance(v, int) or not low <= v < high:
                raise Mismatch
            return v

        return integer
    if isinstance(dt, (t.DoubleType, t.FloatType)):
        def floating(v: Any) -> float:
            if kind == "csv" and isinstance(v, str):
                try:
                    return float(v)
                except ValueError:
                    raise Mismatch from None
            if isinstance(v, bool) or not isinstance(v, (int, float, decimal.Decimal)):
                raise Mismatch
            return float(v)

        return floating
    if isinstance(dt, t.DecimalType):
        def dec(v: Any) -> decimal.Decimal:
            if kind == "csv" and isinstance(v, str):
                try:
                    v = decimal.Decimal(v.strip())
                except decimal.InvalidOperation:
                    raise Mismatch from None
            if isinstance(v, bool) or not isinstance(v, (int, decimal.Decimal)):
                raise Mismatch
            number = decimal.Decimal(v)
            quantized = number.quantize(decimal.Decimal(1).scaleb(-dt.scale))
            if quantized != number or len(quantized.as_tuple().digits) > dt.precision:
                raise Mismatch  # would lose digits: rescued, not rounded
            return quantized

        return dec
    if isinstance(dt, t.BooleanType):
        def boolean(v: Any) -> bool:
            if kind == "csv" and isinstance(v, str) and v.strip().lower() in ("true", "false"):
                return v.strip().lower() == "true"
            if not isinstance(v, bool):
                raise Mismatch
            return v

        return boolean
    if isinstance(dt, t.TimestampNTZType):
        return lambda v: _timestamp(v, ntz=True)
    if isinstance(dt, t.TimestampType):
        return _timestamp
    if isinstance(dt, t.DateType):
        return _date
    if isinstance(dt, t.BinaryType):
        def binary(v: Any) -> bytes:
            if isinstance(v, (bytes, bytearray)):
                return bytes(v)
            raise Mismatch

        return binary
    if isinstance(dt, t.ArrayType):
        element = converter(dt.elementType, kind)

        def array(v: Any) -> list:
            if not isinstance(v, list):
                raise Mismatch
            return [None if x is None else element(x) for x in v]

        return array
    if isinstance(dt, t.MapType):
        value_of = converter(dt.valueType, kind)

        def mapping(v: Any) -> list:
            items = v.items() if isinstance(v, dict) else v if isinstance(v, list) else None
            if items is None:
                raise Mismatch
            return [(k, None if x is None else value_of(x)) for k, x in items]

        return mapping
    if isinstance(dt, t.StructType):
        children = [(f.name, converter(f.dataType, kind)) for f in dt.fields]

        def struct(v: Any) -> dict:
            if not isinstance(v, dict):
                raise Mismatch
            return {name: None if v.get(name) is None else convert(v[name]) for name, convert in children}

        return struct
    raise Mismatch


class RowBuilder:
    """Builds Arrow batches of ``schema`` from one file's records at a time.

    ``on_new_columns``: ``"stop"`` collects names the schema lacks (the reader then
    stops the stream), ``"rescue"`` puts them into the rescued-data column (or drops
    them when there is none).
    """

    def __init__(self, schema: StructType, kind: str, *, rescue_column: str | None, metadata_column: str | None,
                 case_sensitive: bool = True, on_new_columns: str = "rescue", root: str = "",
                 partition_columns: tuple[str, ...] = (), malformed: str = "permissive") -> None:
        self.schema = schema
        self.rescue_column = rescue_column
        self.metadata_column = metadata_column
        self.case_sensitive = case_sensitive
        self.on_new_columns = on_new_columns
        special = {rescue_column, metadata_column}
        self.data_fields = [f for f in schema.fields if f.name not in special]
        self.index = {f.name: i for i, f in enumerate(self.data_fields)}
        self.lower = {f.name.lower(): f.name for f in self.data_fields}
        self.convert = [converter(f.dataType, kind) for f in self.data_fields]
        self.new_columns: dict[str, None] = {}
        self.root = root
        #: the parser ``mode``: permissive keeps a malformed record (rescued), failfast fails, dropmalformed drops.
        self.malformed = malformed.lower()
        self.dropped = 0
        #: partition column -> (its index, a converter from the folder name's text)
        self.partitions = {name: (self.index[name], converter(self.data_fields[self.index[name]].dataType, "csv"))
                           for name in partition_columns if name in self.index}

    def _partition_values(self, info: FileInfo) -> tuple[list[tuple[int, Any]], dict[str, Any]]:
        """The file's partition columns (index, value), and folder values that do not fit their type."""
        if not self.partitions:
            return [], {}
        from lakeport_autoloader.listing import partition_values

        values, rescued = [], {}
        for name, text in partition_values(self.root, info.path).items():
            if name not in self.partitions or text is None:
                continue
            index, convert = self.partitions[name]
            try:
                values.append((index, convert(text)))
            except Mismatch:
                rescued[name] = text
        return values, rescued

    def rows(self, records: Any, info: FileInfo) -> list[tuple]:
        out = []
        file_path = "file:" + info.path
        metadata = {"file_path": file_path, "file_name": os.path.basename(info.path), "file_size": info.size,
                    "file_modification_time": datetime.datetime.fromtimestamp(info.mtime_ms / 1000, tz=_UTC)}
        width = len(self.data_fields)
        from_folders, folder_rescued = self._partition_values(info)
        for record in records:
            values: list[Any] = [None] * width
            rescued: dict[str, Any] = dict(folder_rescued)
            if isinstance(record, Malformed):
                if self.malformed == "dropmalformed":
                    self.dropped += 1
                    continue
                if self.rescue_column is None or self.malformed == "failfast":
                    raise MalformedRecordError(info.path, record.line, record.text)
                rescued["_corrupt_record"] = record.text
            else:
                for key, value in record.items():
                    index = self.index.get(key)
                    if index is None and not self.case_sensitive and key.lower() in self.lower:
                        index = self.index[self.lower[key.lower()]]
                    if index is not None:
                        if value is None:
                            continue
                        try:
                            values[index] = self.convert[index](value)
                        except Mismatch:
                            rescued[key] = value
                    elif key.lower() in self.lower:  # differs from a column only by case
                        rescued[key] = value
                    elif self.on_new_columns == "stop":
                        self.new_columns.setdefault(key)
                    elif value is not None:
                        rescued[key] = value
            for index, value in from_folders:  # a folder's value wins over a field of the same name
                values[index] = value
            row = values
            if self.rescue_column is not None:
                row = row + [json.dumps({**rescued, "_file_path": file_path}, default=str) if rescued else None]
            elif rescued and isinstance(record, Malformed):
                raise MalformedRecordError(info.path, record.line, record.text)
            if self.metadata_column is not None:
                row = row + [metadata]
            out.append(tuple(row))
        return out

    def order(self) -> list[str]:
        """Column names in the order :meth:`rows` fills them."""
        names = [f.name for f in self.data_fields]
        if self.rescue_column is not None:
            names.append(self.rescue_column)
        if self.metadata_column is not None:
            names.append(self.metadata_column)
        return names


def to_batch(rows: list[tuple], schema: StructType, order: list[str]) -> Any:
    """Rows (in ``order``) as an Arrow record batch in the schema's column order."""
    import pyarrow as pa

    from lakeport.api import to_arrow

    arrow_schema = to_arrow(schema)
    position = {name: i for i, name in enumerate(order)}
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in order]
    arrays = [pa.array(list(columns[position[field.name]]), type=field.type) for field in arrow_schema]
    return pa.RecordBatch.from_arrays(arrays, schema=arrow_schema)
