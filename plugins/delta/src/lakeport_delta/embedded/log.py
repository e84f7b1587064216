"""Reading Delta tables' state: delta-rs snapshots and raw ``_delta_log`` commits.

delta-rs answers questions about a snapshot (schema, files, partition values typed,
statistics, application transactions); the streaming reader needs the actions of one
commit, which it reads straight from ``_delta_log/%020d.json``. Both are collected here
so that the reader, the writer and the stream agree on paths and partition values.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import json
import logging
import os
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import unquote, urlparse

from lakeport.api import LakeportError, TableNotFound, UnsupportedTableFeature

if TYPE_CHECKING:  # pragma: no cover
    from deltalake import DeltaTable
    from pyspark.sql.types import DataType, StructType

log = logging.getLogger(__name__)

LOG_DIR = "_delta_log"
STAGING_DIR = "_lakeport_staging"
WRITE_ID_KEY = "lakeport.writeId"
NATIVE_ADVICE = (
    'Use the native Delta backend ([plugins.delta] backend = "native", with pip install lakeport-delta[spark]), '
    "or rewrite the table without the feature."
)
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"


class DataFile(NamedTuple):
    """One data file of a snapshot or a commit, as the readers need it."""

    path: str  # relative to the table root, URI-decoded (or absolute)
    size: int
    partition_values: dict  # column -> typed Python value (None for null)
    num_records: int | None = None
    stats: dict | None = None  # column -> (min, max, null_count), planning only


# --------------------------------------------------------------------------- paths


def table_root(path: str | os.PathLike) -> str:
    """Absolute local directory of a table; the embedded engine writes with os calls."""
    text = os.fspath(path)
    parsed = urlparse(text)
    if parsed.scheme in ("", "file") or (len(parsed.scheme) == 1 and os.name == "nt"):
        local = unquote(parsed.path) if parsed.scheme == "file" else text
        return os.path.abspath(local)
    raise LakeportError(
        f"Delta table {text!r}: the embedded Delta backend only handles local paths "
        f"(got scheme {parsed.scheme!r}); use the native backend for object stores"
    )


def file_path(root: str, relative: str) -> str:
    """Local path of a data file named in the log (``path`` is a URI-encoded, maybe absolute, URI)."""
    if "://" in relative or relative.startswith("file:"):
        return unquote(urlparse(relative).path)
    if os.path.isabs(relative):
        return relative
    return os.path.join(root, relative)


def commit_file(root: str, version: int) -> str:
    return os.path.join(root, LOG_DIR, f"{version:020d}.json")


def is_delta_table(root: str) -> bool:
    from deltalake import DeltaTable

    return DeltaTable.is_deltatable(root)


# --------------------------------------------------------------------------- loading


def load_table(root: str, *, version: int | None = None, timestamp: Any = None) -> DeltaTable:
    """Open the table at ``root``, optionally time travelled, with errors that name the path."""
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError, TableNotFoundError

    if version is not None and timestamp is not None:
        raise LakeportError(f"Delta table {root!r}: give either version or timestamp, not both")
    try:
        dt = DeltaTable(root)
    except TableNotFoundError as e:
        raise TableNotFound(f"no Delta table at {root!r}") from e
    except DeltaError as e:
        if "unsupported" in str(e).lower():  # delta-rs refuses a protocol or feature it does not know
            raise UnsupportedTableFeature(
                f"Delta table {root!r} needs what delta-rs cannot read ({e}); {NATIVE_ADVICE}"
            ) from e
        raise LakeportError(f"cannot open Delta table {root!r}: {e}") from e
    if version is not None:
        try:
            dt.load_as_version(int(version))
        except DeltaError as e:
            raise LakeportError(f"Delta table {root!r} has no version {version} (latest is {dt.version()}): {e}") from e
    elif timestamp is not None:
        ts = timestamp
        if isinstance(ts, _dt.datetime) and ts.tzinfo is None:
            ts = ts.replace(tzinfo=_dt.timezone.utc)
        try:
            dt.load_as_version(ts)
        except (DeltaError, ValueError, TypeError) as e:
            raise LakeportError(f"Delta table {root!r} has no version at timestamp {timestamp!s}: {e}") from e
    return dt


#: Reader features whose tables still have plain parquet data files and a log delta-rs replays.
READABLE_FEATURES = frozenset({"timestampNtz", "vacuumProtocolCheck", "v2Checkpoint"})
#: Writer features the embedded writer honours (or that ask nothing of a writer of add/remove actions).
WRITABLE_FEATURES = READABLE_FEATURES | {"appendOnly", "domainMetadata", "clustering"}
#: Writer features delta-spark lists on upgraded tables whether used or not: refused only where used.
USE_CHECKED_FEATURES = frozenset({"invariants", "checkConstraints", "generatedColumns", "identityColumns", "changeDataFeed"})
#: The newest protocol versions the embedded backend knows (3/7 = table features).
MAX_READER_VERSION, MAX_WRITER_VERSION = 3, 7
WRITE_OPERATIONS = ("write to", "upsert into", "delete from", "truncate")
REWRITING_OPERATIONS = ("upsert into", "delete from")


def unsupported_features(dt: DeltaTable, operation: str = "read") -> list[str]:
    """Table features that the embedded backend would misread, or a write ``operation`` silently violate.

    Its readers scan data files as plain parquet, and its writer commits add/remove actions
    through delta-rs without evaluating the table's constraints, generated or identity
    columns, row ids or change data files: a table that relies on any of those is refused.
    """
    writing = operation in WRITE_OPERATIONS
    features = []
    config = {k.lower(): str(v).lower() for k, v in (dt.metadata().configuration or {}).items()}
    protocol = dt.protocol()
    reader_features = set(protocol.reader_features or ())
    writer_features = set(protocol.writer_features or ())
    if protocol.min_reader_version > MAX_READER_VERSION:
        features.append(f"reader protocol version {protocol.min_reader_version} (newest known: {MAX_READER_VERSION})")
    if writing and protocol.min_writer_version > MAX_WRITER_VERSION:
        features.append(f"writer protocol version {protocol.min_writer_version} (newest known: {MAX_WRITER_VERSION})")
    mode = config.get("delta.columnmapping.mode", "none")
    if mode != "none" or "columnMapping" in reader_features:
        features.append(f"column mapping (delta.columnMapping.mode={mode})")
    if (
        "deletionVectors" in reader_features
        or "deletionVectors" in writer_features
        or config.get("delta.enabledeletionvectors") == "true"
    ):
        features.append("deletion vectors")
    known = {"columnMapping", "deletionVectors"}
    features += [f"table feature {name!r}" for name in sorted(reader_features - READABLE_FEATURES - known)]
    if writing:
        features += [
            f"table feature {name!r}"
            for name in sorted(writer_features - reader_features - WRITABLE_FEATURES - USE_CHECKED_FEATURES - known)
        ]
        features += _writer_obligations(dt, config, rewrites=operation in REWRITING_OPERATIONS)
    return features


def _writer_obligations(dt: DeltaTable, config: dict[str, str], *, rewrites: bool) -> list[str]:
    """The rules a table asks its writers to evaluate, found where they are used.

    Legacy protocol versions imply these features without listing them, and table-feature
    tables may list them unused, so look at their use: constraints in the configuration,
    generation and identity expressions or invariants in the fields' metadata, and change data
    feed, whose change files an operation that ``rewrites`` rows (MERGE, DELETE) must write.
    """
    found = []
    constraints = sorted(k.removeprefix("delta.constraints.") for k in config if k.startswith("delta.constraints."))
    if constraints:
        found.append(f"CHECK constraints ({', '.join(constraints)})")
    if rewrites and config.get("delta.enablechangedatafeed") == "true":
        found.append("change data feed (delta.enableChangeDataFeed=true)")
    schema = json.loads(dt.schema().to_json())
    for field in schema.get("fields", []):
        metadata = field.get("metadata") or {}
        for key, label in (
            ("delta.generationExpression", "generated column"),
            ("delta.identity.start", "identity column"),
            ("delta.invariants", "invariant on column"),
        ):
            if key in metadata:
                found.append(f"{label} {field['name']!r}")
    return found


def check_supported(dt: DeltaTable, root: str, operation: str) -> None:
    """Refuse tables whose files would be misread as plain parquet, or whose rules a write would skip."""
    features = unsupported_features(dt, operation)
    if features:
        raise UnsupportedTableFeature(
            f"Delta table {root!r} uses {' and '.join(features)}; the embedded Delta backend "
            f"cannot {operation} such tables. {NATIVE_ADVICE}"
        )


def spark_schema(dt: DeltaTable) -> StructType:
    """Delta's schema JSON is Spark's StructType JSON."""
    from pyspark.sql.types import StructType

    return StructType.fromJson(json.loads(dt.schema().to_json()))


# --------------------------------------------------------------------------- files


def snapshot_files(dt: DeltaTable, *, with_stats: bool = False) -> list[DataFile]:
    """Files of the loaded snapshot with typed partition values, ordered by (mtime, path).

    The order is stable for a given version, which the streaming reader relies on when
    it indexes into the initial snapshot.
    """
    import pyarrow as pa

    actions = pa.table(dt.get_add_actions(flatten=True))
    if actions.num_rows == 0:
        return []
    partition_columns = dt.metadata().partition_columns
    columns = {
        name: actions.column(name).to_pylist()
        for name in actions.column_names
        if name in ("path", "size_bytes", "modification_time", "num_records")
    }
    parts = {
        c: actions.column(f"partition.{c}").to_pylist()
        for c in partition_columns
        if f"partition.{c}" in actions.column_names
    }
    stats_cols: dict[str, tuple[list, list, list | None]] = {}
    if with_stats:
        names = set(actions.column_names)
        for name in names:
            if name.startswith("min."):
                col = name[4:]
                if "." in col or f"max.{col}" not in names:
                    continue
                nulls = actions.column(f"null_count.{col}").to_pylist() if f"null_count.{col}" in names else None
                stats_cols[col] = (
                    actions.column(name).to_pylist(),
                    actions.column(f"max.{col}").to_pylist(),
                    nulls,
                )
    files = []
    for i, path in enumerate(columns["path"]):
        pvals = {c: parts[c][i] if c in parts else None for c in partition_columns}
        stats = None
        if with_stats:
            stats = {
                c: (mins[i], maxs[i], nulls[i] if nulls else None) for c, (mins, maxs, nulls) in stats_cols.items()
            }
        num = columns.get("num_records", [None] * len(columns["path"]))[i]
        files.append(
            (
                columns["modification_time"][i],
                path,
                DataFile(unquote(path), columns["size_bytes"][i], pvals, num, stats),
            )
        )
    files.sort(key=lambda t: (t[0], t[1]))
    return [f for _, _, f in files]


# --------------------------------------------------------------------------- commits


def read_commit(root: str, version: int) -> list[dict] | None:
    """All actions of commit ``version``; None when the commit file does not exist."""
    try:
        with open(commit_file(root, version), encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    except FileNotFoundError:
        return None


def latest_version(root: str, known: int | None = None) -> int | None:
    """Newest committed version, probing forward from ``known`` instead of listing the log."""
    if known is None:
        try:
            names = os.listdir(os.path.join(root, LOG_DIR))
        except FileNotFoundError:
            return None
        versions = [int(n[:20]) for n in names if len(n) == 25 and n.endswith(".json") and n[:20].isdigit()]
        if not versions:
            checkpoint = os.path.join(root, LOG_DIR, "_last_checkpoint")
            if os.path.exists(checkpoint):
                with open(checkpoint, encoding="utf-8") as fh:
                    return int(json.load(fh)["version"])
            return None
        known = max(versions)
    while os.path.exists(commit_file(root, known + 1)):
        known += 1
    return known


def find_commit(root: str, after: int, key: str, value: str) -> int | None:
    """Version of the first commit after ``after`` whose commitInfo has ``key == value``."""
    version = after + 1
    while True:
        actions = read_commit(root, version)
        if actions is None:
            return None
        for action in actions:
            info = action.get("commitInfo")
            if info is not None and info.get(key) == value:
                return version
        version += 1


def commit_timestamp(root: str, version: int) -> int | None:
    """Commit time in ms: commitInfo's timestamp, else the commit file's mtime."""
    actions = read_commit(root, version)
    if actions is None:
        return None
    for action in actions:
        info = action.get("commitInfo")
        if info is not None and "timestamp" in info:
            return int(info["timestamp"])
    return int(os.path.getmtime(commit_file(root, version)) * 1000)


# --------------------------------------------------------------------------- partition values


def parse_partition_value(text: str | None, dtype: DataType) -> Any:
    """Typed value of a serialized Delta partition value (the protocol's string forms)."""
    from pyspark.sql import types as T

    if text is None or text == HIVE_NULL:
        return None
    if isinstance(dtype, T.StringType):
        return text
    if text == "":
        return None
    if isinstance(dtype, (T.ByteType, T.ShortType, T.IntegerType, T.LongType)):
        return int(text)
    if isinstance(dtype, (T.FloatType, T.DoubleType)):
        return float(text)
    if isinstance(dtype, T.BooleanType):
        return text.lower() == "true"
    if isinstance(dtype, T.DecimalType):
        return decimal.Decimal(text)
    if isinstance(dtype, T.DateType):
        return _dt.date.fromisoformat(text[:10])
    if isinstance(dtype, T.TimestampNTZType):
        return _parse_timestamp(text).replace(tzinfo=None)
    if isinstance(dtype, T.TimestampType):
        value = _parse_timestamp(text)
        return value if value.tzinfo else value.replace(tzinfo=_dt.timezone.utc)
    if isinstance(dtype, T.BinaryType):
        return text.encode("utf-8")
    raise LakeportError(f"unsupported partition column type {dtype.simpleString()}")


def _parse_timestamp(text: str) -> _dt.datetime:
    cleaned = text.strip().replace("T", " ")
    if cleaned.endswith("Z"):
        cleaned = cleaned[:-1] + "+00:00"
    return _dt.datetime.fromisoformat(cleaned)


def encode_partition_value(value: Any, dtype: DataType) -> str | None:
    """The protocol's string form of a partition value (timestamps in UTC)."""
    from pyspark.sql import types as T

    if value is None:
        return None
    if isinstance(dtype, T.BooleanType):
        return "true" if value else "false"
    if isinstance(dtype, T.TimestampType):
        if value.tzinfo is not None:
            value = value.astimezone(_dt.timezone.utc).replace(tzinfo=None)
        return value.isoformat(sep=" ", timespec="microseconds")
    if isinstance(dtype, T.TimestampNTZType):
        return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    if isinstance(dtype, T.DateType):
        return value.isoformat()
    if isinstance(dtype, T.BinaryType):
        return bytes(value).decode("utf-8", "backslashreplace")
    return str(value)


_ESCAPE = set("\"#%'*/:=?\\\x7f{[]^")


def escape_path_name(text: str) -> str:
    """Hive-style escaping of a partition directory value (what Spark writes)."""
    return "".join(f"%{ord(ch):02X}" if ch in _ESCAPE or ord(ch) < 0x20 else ch for ch in text)


# --------------------------------------------------------------------------- stats


def stats_json(metadata: Any, num_rows: int) -> str:
    """Delta file statistics from a written parquet footer (no second pass over the data)."""
    mins: dict[str, Any] = {}
    maxs: dict[str, Any] = {}
    nulls: dict[str, int] = {}
    unusable: set[str] = set()
    for rg_index in range(metadata.num_row_groups):
        rg = metadata.row_group(rg_index)
        for col_index in range(rg.num_columns):
            column = rg.column(col_index)
            name = column.path_in_schema
            if "." in name:  # nested leaves: Delta nests them; not worth it here
                continue
            st = column.statistics
            if st is None:
                unusable.add(name)
                continue
            if st.null_count is not None:
                nulls[name] = nulls.get(name, 0) + st.null_count
            else:
                unusable.add(name)
            if not st.has_min_max:
                if st.null_count != rg.num_rows:  # an all-null row group has no min/max
                    unusable.add(name)
                continue
            lo, hi = _stat_value(st.min, False), _stat_value(st.max, True)
            if lo is _SKIP or hi is _SKIP:
                unusable.add(name)
                continue
            if name not in mins or lo < mins[name]:
                mins[name] = lo
            if name not in maxs or hi > maxs[name]:
                maxs[name] = hi
    stats: dict[str, Any] = {"numRecords": num_rows}
    good_min = {k: _json_value(v, False) for k, v in mins.items() if k not in unusable}
    good_max = {k: _json_value(v, True) for k, v in maxs.items() if k not in unusable}
    stats["minValues"] = {k: v for k, v in good_min.items() if v is not _SKIP}
    stats["maxValues"] = {k: v for k, v in good_max.items() if v is not _SKIP}
    stats["nullCount"] = {k: v for k, v in nulls.items() if k not in unusable}
    return json.dumps(stats, separators=(",", ":"))


_SKIP = object()


def _stat_value(value: Any, is_max: bool) -> Any:
    if isinstance(value, bool) or isinstance(value, (bytes, bytearray)):
        return _SKIP
    if isinstance(value, float) and value != value:
        return _SKIP
    if isinstance(value, str) and len(value) > 32 and is_max:
        return _SKIP  # a truncated max would not be an upper bound
    return value


def _json_value(value: Any, is_max: bool) -> Any:
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(_dt.timezone.utc)
        # Delta keeps milliseconds: round the max up so it stays an upper bound.
        millis = value.replace(microsecond=(value.microsecond // 1000) * 1000)
        if is_max and millis != value:
            millis += _dt.timedelta(milliseconds=1)
        text = millis.replace(tzinfo=None).isoformat(timespec="milliseconds")
        return text + "Z" if value.tzinfo is not None else text
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return _SKIP  # a JSON float could round past the bound
    if isinstance(value, str):
        return value[:32]
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return _SKIP
    return value


def transaction_done(root: str, txn: Any) -> bool:
    """Whether application ``txn[0]`` has committed version ``txn[1]`` or later."""
    from deltalake import DeltaTable

    done = DeltaTable(root).transaction_version(str(txn[0]))
    return done is not None and done >= int(txn[1])
