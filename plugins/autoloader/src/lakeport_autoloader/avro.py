"""Reading Avro object container files in pure Python (null, deflate, snappy, zstandard codecs).

Spark's Python workers have no SparkSession, so the source cannot hand Avro to
Spark's ``AvroFileFormat``; this decoder gives records as Python values and the
writer's schema (for inference). Snappy and zstandard blocks are decompressed
with pyarrow's codecs.
"""

from __future__ import annotations

import datetime
import decimal
import io
import json
import struct
import zlib
from typing import Any, BinaryIO, Callable, Iterator

MAGIC = b"Obj\x01"
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


class AvroError(ValueError):
    pass


def _long(f: BinaryIO) -> int:
    shift = result = 0
    while True:
        byte = f.read(1)
        if not byte:
            raise EOFError
        b = byte[0]
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return (result >> 1) ^ -(result & 1)
        shift += 7


def _bytes(f: BinaryIO) -> bytes:
    return f.read(_long(f))


def _uvarint(data: bytes) -> int:
    shift = result = 0
    for b in data:
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result
        shift += 7
    raise AvroError("bad snappy length")


def _decompress(codec: str, data: bytes) -> bytes:
    if codec == "null":
        return data
    if codec == "deflate":
        return zlib.decompress(data, -15)
    import pyarrow as pa

    if codec == "snappy":
        body = data[:-4]  # 4-byte CRC32 of the uncompressed data follows
        return pa.decompress(body, decompressed_size=_uvarint(body[:10]), codec="snappy").to_pybytes()
    if codec == "zstandard":
        try:
            import zstandard

            return bytes(zstandard.ZstdDecompressor().decompressobj().decompress(data))
        except ImportError:
            size = int.from_bytes(data[5:13], "little") if len(data) > 13 else 0
            return pa.decompress(data, decompressed_size=size, codec="zstd").to_pybytes()
    raise AvroError(f"Avro codec {codec!r} is not supported (null, deflate, snappy, zstandard are)")


Decoder = Callable[[BinaryIO], Any]


def _decoder(schema: Any, named: dict[str, Any]) -> Decoder:
    if isinstance(schema, list):
        branches = [_decoder(s, named) for s in schema]
        return lambda f: branches[_long(f)](f)
    if isinstance(schema, str):
        if schema in named:
            return lambda f: named[schema](f)
        schema = {"type": schema}
    kind = schema["type"]
    if isinstance(kind, (list, dict)):
        return _decoder(kind, named)
    logical = schema.get("logicalType")
    if kind == "null":
        return lambda f: None
    if kind == "boolean":
        return lambda f: f.read(1) == b"\x01"
    if kind in ("int", "long"):
        if logical == "date":
            return lambda f: datetime.date(1970, 1, 1) + datetime.timedelta(days=_long(f))
        if logical in ("timestamp-millis", "local-timestamp-millis"):
            return lambda f: _EPOCH + datetime.timedelta(milliseconds=_long(f))
        if logical in ("timestamp-micros", "local-timestamp-micros"):
            return lambda f: _EPOCH + datetime.timedelta(microseconds=_long(f))
        return _long
    if kind == "float":
        return lambda f: struct.unpack("<f", f.read(4))[0]
    if kind == "double":
        return lambda f: struct.unpack("<d", f.read(8))[0]
    if kind in ("bytes", "fixed"):
        read: Decoder = (lambda f: f.read(schema["size"])) if kind == "fixed" else _bytes
        if kind == "fixed":
            named[schema["name"]] = read
        if logical == "decimal":
            scale = schema.get("scale", 0)
            return lambda f: decimal.Decimal(int.from_bytes(read(f), "big", signed=True)).scaleb(-scale)
        return read
    if kind == "string":
        return lambda f: _bytes(f).decode("utf-8")
    if kind == "enum":
        symbols = schema["symbols"]
        named[schema["name"]] = decode_enum = lambda f: symbols[_long(f)]  # noqa: E731
        return decode_enum
    if kind in ("array", "map"):
        item = _decoder(schema["items" if kind == "array" else "values"], named)

        def blocks(f: BinaryIO) -> Iterator[Any]:
            while True:
                count = _long(f)
                if count == 0:
                    return
                if count < 0:
                    count = -count
                    _long(f)  # block size in bytes
                for _ in range(count):
                    yield (_bytes(f).decode("utf-8"), item(f)) if kind == "map" else item(f)

        return (lambda f: list(blocks(f))) if kind == "array" else (lambda f: dict(blocks(f)))
    if kind in ("record", "error"):
        fields: list[tuple[str, Decoder]] = []

        def decode_record(f: BinaryIO) -> dict[str, Any]:
            return {name: decode(f) for name, decode in fields}

        named[schema["name"]] = decode_record
        if "namespace" in schema:
            named[f"{schema['namespace']}.{schema['name']}"] = decode_record
        fields.extend((field["name"], _decoder(field["type"], named)) for field in schema["fields"])
        return decode_record
    raise AvroError(f"Avro type {kind!r} is not supported")


class AvroFile:
    """One container file: its writer schema and its records."""

    def __init__(self, path: str) -> None:
        self.path = path
        with open(path, "rb") as f:
            self.data = f.read()
        stream = io.BytesIO(self.data)
        if stream.read(4) != MAGIC:
            raise AvroError(f"{path}: not an Avro object container file")
        meta: dict[str, bytes] = {}
        while True:
            count = _long(stream)
            if count == 0:
                break
            if count < 0:
                count = -count
                _long(stream)
            for _ in range(count):
                key = _bytes(stream).decode()
                meta[key] = _bytes(stream)
        self.schema = json.loads(meta["avro.schema"])
        self.codec = meta.get("avro.codec", b"null").decode()
        self.sync = stream.read(16)
        self._start = stream.tell()

    def records(self) -> Iterator[Any]:
        decode = _decoder(self.schema, {})
        stream = io.BytesIO(self.data)
        stream.seek(self._start)
        while stream.tell() < len(self.data):
            try:
                count = _long(stream)
            except EOFError:
                return
            block = io.BytesIO(_decompress(self.codec, _bytes(stream)))
            if stream.read(16) != self.sync:
                raise AvroError(f"{self.path}: sync marker mismatch (a corrupt or truncated file)")
            for _ in range(count):
                yield decode(block)
