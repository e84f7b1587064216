"""The ``cloudFiles.*`` option table: what each option means locally, its default, and validation.

Spark hands a data source its options with keys as the user spelt them; Databricks
treats them case-insensitively, so everything here works on lower-cased keys and
reports the documented spelling. Imports nothing heavy: the source, the handle and
the tests all read it.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Mapping

import attrs

from lakeport.api import ConfigError

log = logging.getLogger(__name__)

FORMATS = ("json", "csv", "parquet", "avro", "orc", "text", "binaryfile")
EVOLUTION_MODES = ("addNewColumns", "rescue", "failOnNewColumns", "none")
RESCUED_COLUMN = "_rescued_data"
METADATA_COLUMN = "_metadata"

#: ``cloudFiles.*`` options this emulation implements (documented spelling).
SUPPORTED = (
    "cloudFiles.format",
    "cloudFiles.schemaLocation",
    "cloudFiles.inferColumnTypes",
    "cloudFiles.schemaHints",
    "cloudFiles.schemaEvolutionMode",
    "cloudFiles.includeExistingFiles",
    "cloudFiles.allowOverwrites",
    "cloudFiles.maxFilesPerTrigger",
    "cloudFiles.maxBytesPerTrigger",
    "cloudFiles.maxFileAge",
    "cloudFiles.partitionColumns",
    "cloudFiles.validateOptions",
)
#: options that configure Databricks' file-notification services or its cloud accounts: they only
#: change *how* Databricks discovers files, never which rows a stream reads. Locally the folder is
#: always listed in full, so they are accepted with a warning. ``useNotifications`` and
#: ``useManagedFileEvents`` set to true are refused instead (see :func:`validate`).
DATABRICKS_ONLY = (
    "cloudFiles.useNotifications",
    "cloudFiles.useManagedFileEvents",
    "cloudFiles.backfillInterval",
    "cloudFiles.useIncrementalListing",
    "cloudFiles.useStrictGlobber",
    "cloudFiles.fetchParallelism",
    "cloudFiles.pathRewrites",
    "cloudFiles.resourceTag",
    "cloudFiles.cleanSource",
    "cloudFiles.cleanSource.retentionDuration",
    "cloudFiles.cleanSource.moveDestination",
    "cloudFiles.region",
    "cloudFiles.queueUrl",
    "cloudFiles.roleArn",
    "cloudFiles.roleExternalId",
    "cloudFiles.roleSessionName",
    "cloudFiles.stsEndpoint",
    "cloudFiles.restrictNotificationSetupToSameAWSAccountId",
    "cloudFiles.connectionString",
    "cloudFiles.resourceGroup",
    "cloudFiles.subscriptionId",
    "cloudFiles.tenantId",
    "cloudFiles.clientId",
    "cloudFiles.clientSecret",
    "cloudFiles.queueName",
    "cloudFiles.projectId",
    "cloudFiles.client",
    "cloudFiles.subscription",
    "cloudFiles.databricksServiceCredential",
)
#: Databricks-only options that change what a stream does; refused when true.
REFUSED_WHEN_TRUE = ("cloudFiles.useNotifications", "cloudFiles.useManagedFileEvents")
#: lakeport's own options (not ``cloudFiles.*``, so Databricks ignores them).
STATE_LOCATION = "lakeport.stateLocation"
INCLUDE_METADATA = "lakeport.includeMetadata"

_SPELLING = {name.lower(): name for name in (*SUPPORTED, *DATABRICKS_ONLY)}


def metadata_type() -> Any:
    """The ``_metadata`` column's type (a StructType), as Databricks has it."""
    from pyspark.sql.types import LongType, StringType, StructField, StructType, TimestampType

    return StructType([StructField("file_path", StringType()), StructField("file_name", StringType()),
                       StructField("file_size", LongType()), StructField("file_modification_time", TimestampType())])


class AutoloaderOptionError(ConfigError):
    """Options Auto Loader would refuse; the message names the option."""


def _bool(options: Mapping[str, str], key: str, default: bool) -> bool:
    value = options.get(key.lower())
    if value is None:
        return default
    text = str(value).strip().lower()
    if text not in ("true", "false"):
        raise AutoloaderOptionError(f"option {_SPELLING.get(key.lower(), key)}: expected true or false; got {value!r}")
    return text == "true"


def _int(options: Mapping[str, str], key: str, default: int | None) -> int | None:
    value = options.get(key.lower())
    if value is None:
        return default
    try:
        number = int(str(value).strip())
    except ValueError:
        raise AutoloaderOptionError(f"option {_SPELLING[key.lower()]}: expected a whole number; got {value!r}") from None
    if number <= 0:
        raise AutoloaderOptionError(f"option {_SPELLING[key.lower()]}: must be positive; got {value!r}")
    return number


_SIZE = re.compile(r"^\s*(\d+)\s*([kmgt]?)b?\s*$", re.IGNORECASE)
_DURATION = re.compile(r"^\s*(\d+)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?|d|days?|w|weeks?)\s*$",
                       re.IGNORECASE)
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_bytes(text: str, option: str = "cloudFiles.maxBytesPerTrigger") -> int:
    """``10g``, ``512m``, ``1048576``: Databricks' byte strings."""
    match = _SIZE.match(str(text))
    if not match:
        raise AutoloaderOptionError(f"option {option}: expected a byte size such as 10g or 512m; got {text!r}")
    number, unit = int(match.group(1)), match.group(2).lower()
    return number * 1024 ** " kmgt".index(unit or " ")


def parse_duration(text: str, option: str = "cloudFiles.maxFileAge") -> float:
    match = _DURATION.match(str(text))
    if not match:
        raise AutoloaderOptionError(f"option {option}: expected a duration such as 14 days or 12 hours; got {text!r}")
    return int(match.group(1)) * _SECONDS[match.group(2).lower()[0]]


@attrs.frozen
class CloudFilesOptions:
    """One stream's options, checked; built by :meth:`from_options` from what Spark passed."""

    path: str
    format: str
    schema_location: str | None = None
    infer_column_types: bool = False
    schema_hints: str | None = None
    #: None: the default for how the schema came (addNewColumns inferred, none given).
    evolution_mode: str | None = None
    include_existing_files: bool = True
    allow_overwrites: bool = False
    max_files_per_trigger: int = 1000
    max_bytes_per_trigger: int | None = None
    max_file_age_seconds: float | None = None
    path_glob_filter: str | None = None
    #: true: no partition columns from ``key=value`` folders (files in subfolders are read either way).
    recursive_file_lookup: bool = False
    #: cloudFiles.partitionColumns: ``key=value`` folder names that become columns.
    partition_columns: tuple[str, ...] = ()
    rescued_data_column: str | None = None
    reader_case_sensitive: bool = True
    state_location: str | None = None
    include_metadata: bool = False
    #: the format's own options (``header``, ``sep``, ``multiLine``, ...), lower-cased keys.
    format_options: dict[str, str] = attrs.field(factory=dict)

    @classmethod
    def from_options(cls, raw: Mapping[str, Any]) -> CloudFilesOptions:
        validate(raw)
        options = {str(k).lower(): str(v) for k, v in raw.items()}
        path = options.get("path")
        if not path:
            raise AutoloaderOptionError("cloudFiles needs a path: .load(\"/folder\") or option path")
        fmt = options.get("cloudfiles.format")
        if not fmt:
            raise AutoloaderOptionError("option cloudFiles.format is required (one of "
                                        + ", ".join(f if f != "binaryfile" else "binaryFile" for f in FORMATS) + ")")
        if fmt.lower() not in FORMATS:
            raise AutoloaderOptionError(f"option cloudFiles.format: {fmt!r} is not supported; expected one of "
                                        + ", ".join(f if f != "binaryfile" else "binaryFile" for f in FORMATS))
        mode = options.get("cloudfiles.schemaevolutionmode")
        if mode is not None:
            by_lower = {m.lower(): m for m in EVOLUTION_MODES}
            if mode.lower() not in by_lower:
                raise AutoloaderOptionError(f"option cloudFiles.schemaEvolutionMode: expected one of "
                                            f"{', '.join(EVOLUTION_MODES)}; got {mode!r}")
            mode = by_lower[mode.lower()]
        max_bytes = options.get("cloudfiles.maxbytespertrigger")
        max_age = options.get("cloudfiles.maxfileage")
        known = {*_SPELLING, "path", "pathglobfilter", "recursivefilelookup", "rescueddatacolumn",
                 "readercasesensitive", STATE_LOCATION.lower(), INCLUDE_METADATA.lower()}
        return cls(
            path=path,
            format=fmt.lower(),
            schema_location=options.get("cloudfiles.schemalocation"),
            infer_column_types=_bool(options, "cloudFiles.inferColumnTypes", False),
            schema_hints=options.get("cloudfiles.schemahints"),
            evolution_mode=mode,
            include_existing_files=_bool(options, "cloudFiles.includeExistingFiles", True),
            allow_overwrites=_bool(options, "cloudFiles.allowOverwrites", False),
            max_files_per_trigger=_int(options, "cloudFiles.maxFilesPerTrigger", 1000) or 1000,
            max_bytes_per_trigger=parse_bytes(max_bytes) if max_bytes is not None else None,
            max_file_age_seconds=parse_duration(max_age) if max_age is not None else None,
            path_glob_filter=options.get("pathglobfilter"),
            recursive_file_lookup=_bool(options, "recursiveFileLookup", False),
            partition_columns=tuple(c.strip() for c in options.get("cloudfiles.partitioncolumns", "").split(",")
                                    if c.strip()),
            rescued_data_column=options.get("rescueddatacolumn"),
            reader_case_sensitive=_bool(options, "readerCaseSensitive", True),
            state_location=options.get(STATE_LOCATION.lower()),
            include_metadata=_bool(options, INCLUDE_METADATA, False),
            format_options={k: v for k, v in options.items() if k not in known},
        )


def validate(raw: Mapping[str, Any]) -> None:
    """Unknown ``cloudFiles.*`` options are errors (unless ``cloudFiles.validateOptions=false``).

    Databricks-only options are refused when they would change what the stream reads
    (notifications switched on), else accepted with one warning each.
    """
    import difflib

    check = _bool({str(k).lower(): str(v) for k, v in raw.items()}, "cloudFiles.validateOptions", True)
    for spelt, value in raw.items():
        key = str(spelt).lower()
        if not key.startswith("cloudfiles."):
            continue
        name = _SPELLING.get(key)
        if name is None:
            if check:
                close = difflib.get_close_matches(key, list(_SPELLING), n=1)
                hint = f" (did you mean {_SPELLING[close[0]]}?)" if close else ""
                raise AutoloaderOptionError(
                    f"unknown Auto Loader option {spelt!r}{hint}; set cloudFiles.validateOptions=false to ignore it")
            log.warning("ignoring unknown Auto Loader option %r (cloudFiles.validateOptions=false)", spelt)
            continue
        if name in REFUSED_WHEN_TRUE and str(value).strip().lower() == "true":
            raise AutoloaderOptionError(
                f"option {name}=true needs Databricks' file notification services; the local Auto Loader "
                f"lists the folder instead (directory listing mode): drop {name} off Databricks")
        if name in DATABRICKS_ONLY and name not in REFUSED_WHEN_TRUE:
            log.warning("Auto Loader option %s only means something on Databricks; ignored locally", name)
