"""lakeport: handles, readers, writers and expectations for Spark pipelines, extended by plugins."""

from __future__ import annotations

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

TYPE_CHECKING = False  # not typing's: `import lakeport` runs first in every `lakeport` command
if TYPE_CHECKING:
    from typing import Any

    from lakeport.markers import hookimpl
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
    # Project pulls in attrs and cattrs, hookimpl pluggy; a cached `lakeport plugins` needs neither.
    if name == "hookimpl":
        from lakeport.markers import hookimpl

        return hookimpl
    if name in ("Project", "load"):
        from lakeport import project

        return getattr(project, name)
    raise AttributeError(f"module 'lakeport' has no attribute {name!r}")
