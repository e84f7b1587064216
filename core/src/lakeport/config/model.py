"""Frozen attrs classes for the project file; structured by :mod:`lakeport.config.converter`."""

from __future__ import annotations

import enum
from typing import Any, Mapping

import attrs


class Action(str, enum.Enum):
    """What happens to rows that fail an expectation."""

    ALLOW = "allow"
    DROP = "drop"
    FAIL = "fail"
    QUARANTINE = "quarantine"


class WriteMode(str, enum.Enum):
    APPEND = "append"
    OVERWRITE = "overwrite"
    UPSERT = "upsert"


class Trigger(str, enum.Enum):
    AVAILABLE_NOW = "available_now"
    ONCE = "once"
    PROCESSING_TIME = "processing_time"


class Backend(str, enum.Enum):
    AUTO = "auto"
    EMBEDDED = "embedded"
    NATIVE = "native"


@attrs.frozen
class LakeportSettings:
    """The ``[lakeport]`` section."""

    default_env: str | None = None
    disable: tuple[str, ...] = ()
    #: where ``db.table`` names live for backends without a metastore.
    warehouse: str | None = None
    backend: Backend = Backend.AUTO
    spark_conf: Mapping[str, str] = attrs.field(factory=dict)
    #: a table that stores expectation results per write, like DLT's event log.
    event_log: str | None = None


@attrs.frozen
class ExpectationSpec:
    name: str
    constraint: str
    #: a built-in :class:`Action` or one a plugin registered; checked by the Project.
    action: str | None = None


@attrs.frozen
class TableSpec:
    """The keys every table has; a kind's own keys land in ``options``."""

    kind: str
    name: str | None = None
    path: str | None = None
    schema: str | None = None
    comment: str | None = None
    expectations: tuple[ExpectationSpec, ...] = ()
    #: dltflow form: one action for every rule that names none.
    expectation_action: str = Action.ALLOW.value
    quarantine_table: str | None = None
    checkpoint_path: str | None = None
    #: the kind's own keys, structured by the kind's options class.
    options: Any = None


#: keys of a table that are not the kind's own.
COMMON_TABLE_KEYS = tuple(a.name for a in attrs.fields(TableSpec) if a.name != "options")


@attrs.frozen
class PipelineSpec:
    """A ``[pipelines.<name>]`` entry: source -> optional transform -> target."""

    source: str
    target: str
    transform: str | None = None
    mode: WriteMode = WriteMode.APPEND
    keys: tuple[str, ...] = ()
    sequence_by: str | None = None
    #: a trigger makes the pipeline a streaming one (foreachBatch plugin).
    trigger: Trigger | None = None
    trigger_interval: str | None = None
    checkpoint_path: str | None = None
    query_name: str | None = None
    options: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class ProjectConfig:
    """A loaded, resolved project file."""

    source: str
    env: str | None
    settings: LakeportSettings
    vars: Mapping[str, Any]
    tables: Mapping[str, TableSpec]
    pipelines: Mapping[str, PipelineSpec]
    #: ``[plugins.<name>]`` sections, resolved but validated by each plugin.
    plugin_settings: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
