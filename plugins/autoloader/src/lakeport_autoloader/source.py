"""The Spark Python data source ``cloudFiles``: Auto Loader off Databricks.

Spark 4.2 falls back to registered Python data sources for format names it does
not know, so once this is registered, unchanged Databricks code
(``spark.readStream.format("cloudFiles").option(...).load(path)``) runs on any
Spark. Everything here runs in Spark's Python processes: the planner (``schema``),
the streaming source runner (offsets, listing, the file log) and the workers
(parsing files into Arrow batches). None has a SparkSession, so files are parsed
in Python (pyarrow, ``json``, ``csv``, the Avro decoder); see the README.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Iterator

from pyspark.sql.datasource import DataSource, DataSourceReader, DataSourceStreamReader, InputPartition
from pyspark.sql.types import StringType, StructField, StructType

try:
    from pyspark.sql.streaming.datasource import ReadAllAvailable, ReadMaxFiles, SupportsTriggerAvailableNow
except ImportError:  # pragma: no cover - PySpark < 4.2; the handle refuses it (python_streams_unsupported)
    ReadAllAvailable = ReadMaxFiles = None  # type: ignore[assignment,misc]
    SupportsTriggerAvailableNow = object  # type: ignore[assignment,misc]

from lakeport_autoloader.errors import CorruptFileError, NewColumnsError, SchemaInferenceError
from lakeport_autoloader.formats import VALUE_KIND, records
from lakeport_autoloader.inference import SAMPLE_FILES, apply_hints, file_schema, infer, parse_hints
from lakeport_autoloader.listing import FileInfo, Lister, list_files
from lakeport_autoloader.options import (
    METADATA_COLUMN,
    RESCUED_COLUMN,
    AutoloaderOptionError,
    CloudFilesOptions,
    metadata_type,
)
from lakeport_autoloader.rescue import RowBuilder, to_batch
from lakeport_autoloader.schema_store import SchemaStore
from lakeport_autoloader.state import FileLog, state_directory

log = logging.getLogger(__name__)

NAME = "cloudFiles"
#: files of one partition, at most (bytes); a partition holds at least one file.
PARTITION_BYTES = 64 * 1024 * 1024
ROWS_PER_BATCH = 8192
#: where the file log lives when neither lakeport.stateLocation nor cloudFiles.schemaLocation is set
#: (``$LAKEPORT_AUTOLOADER_STATE`` as Spark's Python workers see it, else the user's cache folder).
DEFAULT_STATE = os.environ.get("LAKEPORT_AUTOLOADER_STATE") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "lakeport-autoloader")
FIXED_SCHEMA_FORMATS = ("text", "binaryfile")


def _hints(opts: CloudFilesOptions) -> list:
    if not opts.schema_hints:
        return []
    try:
        return parse_hints(opts.schema_hints)
    except ValueError as exc:
        raise AutoloaderOptionError(f"option cloudFiles.schemaHints: {exc}") from None


def data_schema(opts: CloudFilesOptions) -> StructType:
    """The stored schema, else one inferred from the files (and stored as version 0)."""
    if opts.format in FIXED_SCHEMA_FORMATS:
        return infer(opts.format, [], False, opts.format_options)
    if not opts.schema_location:
        raise SchemaInferenceError(
            f"cloudFiles.schemaLocation is needed to infer the schema of {opts.path} (Auto Loader keeps the "
            "inferred schema there); set it, or give a schema")
    store = SchemaStore(opts.schema_location)
    stored = store.latest()
    if stored is not None:
        return stored
    files = list_files(opts.path, glob=opts.path_glob_filter)[:SAMPLE_FILES]
    if not files:
        raise SchemaInferenceError(
            f"cannot infer a schema: there are no {opts.format} files in {opts.path} yet; add files or give a schema")
    found = infer(opts.format, [f.path for f in files], opts.infer_column_types, opts.format_options)
    known = {f.name.lower() for f in found.fields}
    partitions = [StructField(c, StringType()) for c in partition_columns(opts) if c.lower() not in known]
    schema = apply_hints(StructType([*found.fields, *partitions]), _hints(opts))
    log.info("inferred the schema of %s from %d files: %s", opts.path, len(files), schema.simpleString())
    return store.initial(schema)


def partition_columns(opts: CloudFilesOptions) -> tuple[str, ...]:
    """cloudFiles.partitionColumns, unless recursiveFileLookup switches partition columns off (as in Spark)."""
    if opts.partition_columns and opts.recursive_file_lookup:
        log.warning("Auto Loader on %s: recursiveFileLookup=true: cloudFiles.partitionColumns %s are not read",
                    opts.path, ", ".join(opts.partition_columns))
        return ()
    return opts.partition_columns


def inferred_schema(opts: CloudFilesOptions) -> StructType:
    """What ``load()`` without a schema gives: the data schema, the rescued-data column, ``_metadata``."""
    fields = list(data_schema(opts).fields)
    mode = opts.evolution_mode or "addNewColumns"
    if opts.format not in FIXED_SCHEMA_FORMATS and (mode != "none" or opts.rescued_data_column):
        fields.append(StructField(opts.rescued_data_column or RESCUED_COLUMN, StringType()))
    if opts.include_metadata:
        fields.append(StructField(METADATA_COLUMN, metadata_type()))
    return StructType(fields)


class ReadPlan:
    """How one query reads files: the schema, its special columns, what new columns do."""

    def __init__(self, opts: CloudFilesOptions, schema: StructType, inferred: bool, streaming: bool) -> None:
        self.opts = opts
        self.schema = schema
        names = {f.name for f in schema.fields}
        if inferred:
            self.mode = opts.evolution_mode or "addNewColumns"
        else:
            self.mode = opts.evolution_mode or "none"
            if self.mode == "addNewColumns":
                raise AutoloaderOptionError(
                    "option cloudFiles.schemaEvolutionMode: addNewColumns is not supported when a schema is given; "
                    "use rescue, failOnNewColumns or none, or let Auto Loader infer the schema")
        rescue = opts.rescued_data_column or RESCUED_COLUMN
        self.rescue_column = rescue if rescue in names and opts.format not in FIXED_SCHEMA_FORMATS else None
        if (opts.rescued_data_column or self.mode == "rescue") and self.rescue_column is None and not inferred:
            log.warning("Auto Loader on %s: column %r is not in the given schema: add it (STRING) to keep rescued "
                        "data; without it, what does not fit is dropped", opts.path, rescue)
        self.metadata_column = METADATA_COLUMN if METADATA_COLUMN in names else None
        stops = streaming and self.mode in ("addNewColumns", "failOnNewColumns")
        self.on_new_columns = "stop" if stops else "rescue"
        self.ignore_corrupt_files = opts.format_options.get("ignorecorruptfiles", "false").lower() == "true"

    def builder(self) -> RowBuilder:
        return RowBuilder(self.schema, VALUE_KIND.get(self.opts.format, "typed"), rescue_column=self.rescue_column,
                          metadata_column=self.metadata_column, case_sensitive=self.opts.reader_case_sensitive,
                          on_new_columns=self.on_new_columns, root=self.opts.path,
                          partition_columns=partition_columns(self.opts),
                          malformed=self.opts.format_options.get("mode", "permissive"))

    def read(self, files: list[FileInfo]) -> Iterator[Any]:
        """Arrow batches of the files' rows; stops the stream at a file with new columns."""
        builder = self.builder()
        order = builder.order()
        for info in files:
            if not os.path.exists(info.path):
                log.warning("Auto Loader: %s was listed but is gone; skipped", info.path)
                continue
            try:
                rows = builder.rows(records(self.opts.format, info.path, self.opts.format_options), info)
            except (OSError, ValueError, EOFError, UnicodeDecodeError) as exc:  # pyarrow's errors are ValueErrors
                if not self.ignore_corrupt_files:
                    raise CorruptFileError(info.path, f"{type(exc).__name__}: {exc}") from None
                log.warning("Auto Loader: skipping corrupt file %s (%s)", info.path, exc)
                continue
            if builder.new_columns:
                self._stop_for_new_columns(info.path, list(builder.new_columns))
            if builder.dropped:
                log.warning("Auto Loader: dropped %d malformed records of %s (mode DROPMALFORMED)", builder.dropped,
                            info.path)
                builder.dropped = 0
            for start in range(0, len(rows), ROWS_PER_BATCH):
                yield to_batch(rows[start:start + ROWS_PER_BATCH], self.schema, order)

    def _stop_for_new_columns(self, path: str, names: list[str]) -> None:
        if self.mode == "failOnNewColumns" or not self.opts.schema_location:
            raise NewColumnsError(path, names, evolved_to=None)
        found = apply_hints(file_schema(self.opts.format, path, self.opts.infer_column_types, self.opts.format_options),
                            _hints(self.opts))
        wanted = {n.lower() for n in names}
        store = SchemaStore(self.opts.schema_location)
        store.add_columns([f for f in found.fields if f.name.lower() in wanted])
        raise NewColumnsError(path, names, evolved_to=f"{store.root}/{store.versions()[-1]}")


class FilesPartition(InputPartition):
    def __init__(self, files: list[FileInfo]) -> None:
        super().__init__([tuple(f) for f in files])
        self.files = files


def partitioned(files: list[FileInfo]) -> list[InputPartition]:
    parts: list[InputPartition] = []
    chunk: list[FileInfo] = []
    size = 0
    for info in files:
        if chunk and size + info.size > PARTITION_BYTES:
            parts.append(FilesPartition(chunk))
            chunk, size = [], 0
        chunk.append(info)
        size += info.size
    if chunk:
        parts.append(FilesPartition(chunk))
    return parts


def file_log(opts: CloudFilesOptions) -> FileLog:
    base = opts.state_location or opts.schema_location
    if base is None:
        base = DEFAULT_STATE
        log.info("Auto Loader on %s: no cloudFiles.schemaLocation or lakeport.stateLocation; the file log is kept "
                 "under %s", opts.path, base)
    key = (os.path.abspath(opts.path.removeprefix("file:")), opts.format, opts.path_glob_filter or "",
           str(opts.allow_overwrites))
    lister = Lister(opts.path, glob=opts.path_glob_filter)
    return FileLog(state_directory(base, key), lister, allow_overwrites=opts.allow_overwrites,
                   max_file_age_seconds=opts.max_file_age_seconds)


class CloudFilesStreamReader(DataSourceStreamReader, SupportsTriggerAvailableNow):
    """Offsets ``{"seq": n}``: the first n files of the stream's file log (see lakeport_autoloader.state)."""

    def __init__(self, plan: ReadPlan) -> None:
        self.plan = plan
        self.opts = plan.opts
        self.log = file_log(plan.opts)
        self.target: int | None = None

    def initialOffset(self) -> dict:  # noqa: N802 - pyspark API
        if self.opts.include_existing_files:
            return {"seq": 0}
        return {"seq": self.log.discover()}  # what is there now is left alone

    def getDefaultReadLimit(self) -> Any:  # noqa: N802
        return ReadMaxFiles(self.opts.max_files_per_trigger)

    def prepareForTriggerAvailableNow(self) -> None:  # noqa: N802
        self.target = self.log.discover()

    def latestOffset(self, start: dict, limit: Any = None) -> dict:  # noqa: N802
        total = self.target if self.target is not None else self.log.discover()
        begin = int(start["seq"])
        if begin > len(self.log.entries):
            raise SchemaInferenceError(
                f"Auto Loader on {self.opts.path}: the checkpoint is at file {begin} but the file log at "
                f"{self.log.path} has {len(self.log.entries)} files (was the state removed?); start from a new "
                "checkpoint")
        if ReadAllAvailable is not None and isinstance(limit, ReadAllAvailable):
            return {"seq": max(begin, total)}
        max_files = getattr(limit, "max_files", None) or self.opts.max_files_per_trigger
        max_bytes = self.opts.max_bytes_per_trigger
        end, taken = begin, 0
        entries = self.log.entries
        while end < total and end - begin < max_files:
            size = entries[end].size
            if max_bytes is not None and end > begin and taken + size > max_bytes:
                break
            taken += size
            end += 1
        return {"seq": end}

    def partitions(self, start: dict, end: dict) -> list[InputPartition]:
        return partitioned(self.log.between(int(start["seq"]), int(end["seq"])))

    def read(self, partition: InputPartition) -> Iterator[Any]:
        assert isinstance(partition, FilesPartition)
        yield from self.plan.read(partition.files)

    def commit(self, end: dict) -> None:
        log.debug("Auto Loader on %s: files below %s committed", self.opts.path, end)


class CloudFilesBatchReader(DataSourceReader):
    """``spark.read.format("cloudFiles")``: every file there now, with the stream's schema logic."""

    def __init__(self, plan: ReadPlan) -> None:
        self.plan = plan

    def partitions(self) -> list[InputPartition]:
        opts = self.plan.opts
        return partitioned(list_files(opts.path, glob=opts.path_glob_filter))

    def read(self, partition: InputPartition) -> Iterator[Any]:
        assert isinstance(partition, FilesPartition)
        yield from self.plan.read(partition.files)


class CloudFilesDataSource(DataSource):
    """Auto Loader's ``cloudFiles`` format: options as Databricks spells them."""

    @classmethod
    def name(cls) -> str:
        return NAME

    def _options(self) -> CloudFilesOptions:
        return CloudFilesOptions.from_options(self.options)

    def schema(self) -> StructType:
        schema = inferred_schema(self._options())
        self.inferred = True  # travels with the pickled source to the readers
        return schema

    def _plan(self, schema: StructType, streaming: bool) -> ReadPlan:
        return ReadPlan(self._options(), schema, getattr(self, "inferred", False), streaming)

    def streamReader(self, schema: StructType) -> DataSourceStreamReader:  # noqa: N802
        return CloudFilesStreamReader(self._plan(schema, streaming=True))

    def reader(self, schema: StructType) -> DataSourceReader:
        return CloudFilesBatchReader(self._plan(schema, streaming=False))
