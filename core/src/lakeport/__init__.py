"""lakeport: handles, readers, writers and expectations for Spark pipelines, extended by plugins."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakeport.errors import (
    ConfigError,
    ExpectationFailed,
    LakeportError,
    PluginError,
    SchemaMismatch,
    TableNotFound,
    UnsupportedOperation,
    UnsupportedTableFeature,
    WriteConflict,
)
from lakeport.markers import hookimpl

if TYPE_CHECKING:
    from lakeport.project import Project, load

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "ExpectationFailed",
    "LakeportError",
    "PluginError",
    "Project",
    "SchemaMismatch",
    "TableNotFound",
    "UnsupportedOperation",
    "UnsupportedTableFeature",
    "WriteConflict",
    "hookimpl",
    "load",
]


def __getattr__(name: str) -> Any:
    # Project pulls in attrs and cattrs; plugin loading and `lakeport --help` must not.
    if name in ("Project", "load"):
        from lakeport import project

        return getattr(project, name)
    raise AttributeError(f"module 'lakeport' has no attribute {name!r}")
