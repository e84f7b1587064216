"""What the plugin machinery sees of a project, a handle and a loader: small structural types.

The hook specifications, the plugin manager and the read/write contexts sit
below projects and handles (which use them); naming the concrete classes there
would close an import cycle. These protocols say just what those low layers
rely on; :class:`~lakeport.project.Project`, :class:`~lakeport.handles.base.Handle`
and :class:`~lakeport.etl.Loader` satisfy them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, TypeVar

S = TypeVar("S")


class ProjectView(Protocol):
    """A loaded project file with its plugins."""

    @property
    def source(self) -> str: ...

    @property
    def root(self) -> Path: ...

    @property
    def hooks(self) -> Any: ...

    @property
    def warehouse(self) -> str: ...

    def spark(self) -> Any: ...

    def table(self, name: str) -> Any: ...

    def table_options(self, name: str) -> Any: ...

    def handle(self, name: str) -> Any: ...

    def plugin_settings(self, cls: type[S]) -> S: ...


class HandleView(Protocol):
    """A table a read or write goes through."""

    table: str
    project: ProjectView | None
    expectations: tuple[Any, ...]
    quarantine_table: str | None

    @property
    def kind(self) -> str: ...

    @property
    def hooks(self) -> Any: ...

    def counts_rule_mask(self, mode: str) -> bool: ...


class LoaderView(Protocol):
    """The loader a stream-loader plugin wraps."""

    def save(self, df: Any) -> Any: ...
