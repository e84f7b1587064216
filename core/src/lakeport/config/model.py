"""Frozen attrs classes for the project file; structured by :mod:`lakeport.config.converter`."""

from __future__ import annotations

import enum
from typing import Any, Mapping, TypeVar

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


@attrs.frozen
class LakeportSettings:
    """The ``[lakeport]`` section."""

    default_env: str | None = None
    disable: tuple[str, ...] = ()
    #: where ``db.table`` names live for backends without a metastore.
    warehouse: str | None = None
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


T = TypeVar("T")


@attrs.frozen
class PipelineSpec:
    """A ``[pipelines.<name>]`` entry; its ``kind`` (default ``etl``) picks the plugin that runs it."""

    name: str
    kind: str = "etl"
    #: the kind's own keys, structured by the kind's options class.
    options: Any = None
    #: keys other plugins add to the entry: plugin name -> instance of its ``pipeline_keys`` class.
    extensions: Mapping[str, Any] = attrs.field(factory=dict)

    def extension(self, cls: type[T]) -> T | None:
        """The keys of ``cls`` (a plugin's ``pipeline_keys`` class), if the entry used any."""
        return next((value for value in self.extensions.values() if isinstance(value, cls)), None)


@attrs.frozen
class ProjectConfig:
    """A loaded, resolved project file."""

    source: str
    env: str | None
    settings: LakeportSettings
    vars: Mapping[str, Any]
    tables: Mapping[str, TableSpec]
    pipelines: Mapping[str, PipelineSpec]
    #: ``[plugins.<name>]`` sections, each structured by its plugin's settings class
    #: (defaults where the file has no section): plugin name -> instance.
    plugin_settings: Mapping[str, Any] = attrs.field(factory=dict)
