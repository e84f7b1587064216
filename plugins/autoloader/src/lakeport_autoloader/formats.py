"""Records of one file, as Python values: the seven formats Auto Loader reads.

JSON numbers keep their text (``Decimal``) so a STRING column gets ``"1.50"``,
not ``"1.5"``. A record that cannot be parsed is yielded as :class:`Malformed`
(never dropped); the reader rescues it or fails naming the file and line.
"""

from __future__ import annotations

import csv
import datetime
import decimal
import io
import json
import os
from typing import Any, Iterator, NamedTuple


class Malformed(NamedTuple):
    text: str
    line: int


#: how values of a format are converted to the schema's types (see lakeport_autoloader.rescue).
VALUE_KIND = {"json": "json", "csv": "csv"}


def _true(options: dict[str, str], key: str, default: bool = False) -> bool:
    return str(options.get(key, default)).strip().lower() == "true"


def _json(path: str, options: dict[str, str]) -> Iterator[Any]:
    encoding = options.get("encoding", "utf-8")
    if _true(options, "multiline"):
        with open(path, encoding=encoding) as f:
            text = f.read()
        try:
            value = json.loads(text, parse_float=decimal.Decimal)
        except ValueError:
            yield Malformed(text, 1)
            return
        for item in value if isinstance(value, list) else [value]:
            yield item if isinstance(item, dict) else Malformed(json.dumps(item, default=str), 1)
        return
    with open(path, encoding=encoding) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                value = json.loads(line, parse_float=decimal.Decimal)
            except ValueError:
                yield Malformed(line.rstrip("\r\n"), number)
                continue
            yield value if isinstance(value, dict) else Malformed(line.rstrip("\r\n"), number)


def _csv(path: str, options: dict[str, str]) -> Iterator[Any]:
    delimiter = options.get("sep", options.get("delimiter", ","))
    quote = options.get("quote", '"')
    escape = options.get("escape", "\\")
    null_value = options.get("nullvalue", "")
    header = _true(options, "header")
    with open(path, encoding=options.get("encoding", "utf-8"), newline="") as f:
        reader = csv.reader(f, delimiter=delimiter, quotechar=quote or None, escapechar=escape or None,
                            doublequote=True)
        names: list[str] | None = None
        for values in reader:
            if not values or values == [""]:
                continue
            if names is None:
                if header:
                    names = values
                    continue
                names = [f"_c{i}" for i in range(len(values))]
            if len(values) > len(names):
                yield Malformed(delimiter.join(values), reader.line_num)
                continue
            yield {name: (None if value == null_value else value) for name, value in zip(names, values, strict=False)}  # short rows: the rest null


def _arrow_rows(table: Any) -> Iterator[dict[str, Any]]:
    for batch in table.to_batches(max_chunksize=8192):
        yield from batch.to_pylist()


def records(fmt: str, path: str, options: dict[str, str]) -> Iterator[Any]:
    """Dicts (column -> value) or :class:`Malformed`, in file order."""
    if fmt == "json":
        yield from _json(path, options)
    elif fmt == "csv":
        yield from _csv(path, options)
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        yield from _arrow_rows(pq.read_table(path))
    elif fmt == "orc":
        import pyarrow.orc as orc

        yield from _arrow_rows(orc.read_table(path))
    elif fmt == "avro":
        from lakeport_autoloader.avro import AvroFile

        for record in AvroFile(path).records():
            yield record if isinstance(record, dict) else {"value": record}
    elif fmt == "text":
        encoding = options.get("encoding", "utf-8")
        with open(path, encoding=encoding, newline="") as f:
            if _true(options, "wholetext"):
                yield {"value": f.read()}
                return
            for line in io.StringIO(f.read()).read().splitlines():
                yield {"value": line}
    elif fmt == "binaryfile":
        info = os.stat(path)
        with open(path, "rb") as f:
            content = f.read()
        yield {"path": "file:" + path, "modificationTime": datetime.datetime.fromtimestamp(
            info.st_mtime, tz=datetime.timezone.utc), "length": info.st_size, "content": content}
    else:
        raise ValueError(f"unsupported format {fmt!r}")
