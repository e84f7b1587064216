"""Parse Spark DDL schema strings without a JVM (``lakeport validate`` runs without Spark).

Covers what table declarations use: primitive types, ``DECIMAL(p, s)``,
``ARRAY<..>``, ``MAP<..,..>``, ``STRUCT<..>``, ``NOT NULL`` and ``COMMENT '..'``.
"""

from __future__ import annotations

import functools
import inspect
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql.types import DataType, StructType


def quote_identifier(name: str) -> str:
    """``name`` as one Spark SQL identifier: in backticks, a backtick inside doubled."""
    return "`" + name.replace("`", "``") + "`"


class SchemaSyntaxError(ValueError):
    """A DDL string that does not parse; the message says where."""


_TOKENS = re.compile(r"\s*(?:(`[^`]*`)|('(?:[^'\\]|\\.)*')|([A-Za-z_][A-Za-z0-9_]*)|(\d+)|([<>(),:]))")

_PRIMITIVES = {
    "string": "StringType", "varchar": "StringType", "char": "StringType",
    "bigint": "LongType", "long": "LongType",
    "int": "IntegerType", "integer": "IntegerType",
    "smallint": "ShortType", "short": "ShortType",
    "tinyint": "ByteType", "byte": "ByteType",
    "double": "DoubleType", "float": "FloatType", "real": "FloatType",
    "boolean": "BooleanType", "bool": "BooleanType",
    "date": "DateType", "timestamp": "TimestampType", "timestamp_ltz": "TimestampType", "timestamp_ntz": "TimestampNTZType",
    "binary": "BinaryType", "void": "NullType",
}


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, int]] = []
        pos = 0
        while pos < len(text):
            match = _TOKENS.match(text, pos)
            if not match or match.end() == pos:
                if text[pos:].strip() == "":
                    break
                raise SchemaSyntaxError(f"unexpected character {text[pos]!r} at position {pos + 1} in {text!r}")
            token = next(g for g in match.groups() if g is not None)
            self.tokens.append((token, match.start(match.lastindex or 0) + 1))
            pos = match.end()
        self.index = 0

    def peek(self) -> str | None:
        return self.tokens[self.index][0] if self.index < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        if self.index >= len(self.tokens):
            raise SchemaSyntaxError(f"unexpected end of schema {self.text!r}" + (f", expected {expected!r}" if expected else ""))
        token, position = self.tokens[self.index]
        if expected is not None and token.lower() != expected:
            raise SchemaSyntaxError(f"expected {expected!r} at position {position} in {self.text!r}, found {token!r}")
        self.index += 1
        return token

    def position(self) -> int:
        return self.tokens[self.index][1] if self.index < len(self.tokens) else len(self.text)

    def fields(self, closing: str | None) -> list:
        from pyspark.sql.types import StructField

        fields = []
        while True:
            name = self.take()
            if name.startswith("`"):
                name = name[1:-1]
            elif not re.match(r"[A-Za-z_]", name):
                raise SchemaSyntaxError(f"expected a column name at position {self.position()} in {self.text!r}, found {name!r}")
            if self.peek() == ":":
                self.take(":")
            data_type = self.data_type()
            nullable, metadata = True, {}
            while (word := self.peek()) is not None and word.lower() in ("not", "comment"):
                if self.take().lower() == "not":
                    self.take("null")
                    nullable = False
                else:
                    metadata["comment"] = self.take()[1:-1]
            fields.append(StructField(name, data_type, nullable, metadata))
            if self.peek() == ",":
                self.take(",")
                continue
            if self.peek() == closing:
                return fields
            found = self.peek()
            raise SchemaSyntaxError(
                f"expected ',' after column {name!r} at position {self.position()} in {self.text!r}, found {found!r}"
            )

    def data_type(self) -> DataType:
        from pyspark.sql import types as T

        position = self.position()
        name = self.take().lower()
        if name in _PRIMITIVES:
            if name in ("varchar", "char") and self.peek() == "(":
                self.take("(")
                self.take()
                self.take(")")
            return getattr(T, _PRIMITIVES[name])()
        if name in ("decimal", "dec", "numeric"):
            precision, scale = 10, 0
            if self.peek() == "(":
                self.take("(")
                precision = int(self.take())
                if self.peek() == ",":
                    self.take(",")
                    scale = int(self.take())
                self.take(")")
            return T.DecimalType(precision, scale)
        if name == "array":
            self.take("<")
            element = self.data_type()
            self.take(">")
            return T.ArrayType(element, True)
        if name == "map":
            self.take("<")
            key = self.data_type()
            self.take(",")
            value = self.data_type()
            self.take(">")
            return T.MapType(key, value, True)
        if name == "struct":
            self.take("<")
            if self.peek() == ">":
                self.take(">")
                return T.StructType([])
            fields = self.fields(">")
            self.take(">")
            return T.StructType(fields)
        raise SchemaSyntaxError(f"unknown type {name.upper()!r} at position {position} in {self.text!r}")


def parse_ddl(text: str) -> StructType:
    """``"id BIGINT, name STRING"`` -> StructType; raises SchemaSyntaxError."""
    from pyspark.sql.types import StructType

    parser = _Parser(text)
    if parser.peek() is None:
        raise SchemaSyntaxError("empty schema")
    fields = parser.fields(None)
    if parser.peek() is not None:
        raise SchemaSyntaxError(f"unexpected {parser.peek()!r} at position {parser.position()} in {text!r}")
    return StructType(fields)


def to_struct(schema: StructType | str | None) -> StructType | None:
    if schema is None or not isinstance(schema, str):
        return schema
    return parse_ddl(schema)


def to_arrow(schema: StructType) -> pa.Schema:
    """The Arrow schema Spark expects from Python data sources for ``schema`` (timestamps in UTC)."""
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(schema, **_utc_timestamps())


@functools.cache
def _utc_timestamps() -> dict[str, Any]:
    """PySpark 4.2 takes ``timezone="UTC"``; 4.1 has ``timestamp_utc=True``, which means the same."""
    from pyspark.sql.pandas.types import to_arrow_schema

    if "timezone" in inspect.signature(to_arrow_schema).parameters:
        return {"timezone": "UTC"}
    return {"timestamp_utc": True}
