"""The public plugin API: the one module a lakeport plugin imports from.

Everything a handle kind, loader or pipeline kind needs from the core is named
here; the other ``lakeport.*`` modules are the core's own business and may
change between releases. Importing this module stays cheap (``lakeport
plugins`` loads every plugin's entry point): the names below are loaded on
first use, and none pulls in pyspark, deltalake or databricks-sdk.
"""

from __future__ import annotations

import importlib
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
    pass

#: public name -> (module, attribute), loaded on first use.
_LAZY: dict[str, tuple[str, str]] = {
    "Handle": ("lakeport.handles.base", "Handle"),
    "common_handle_kwargs": ("lakeport.handles.base", "common_handle_kwargs"),
    "ReadContext": ("lakeport.context", "ReadContext"),
    "WriteContext": ("lakeport.context", "WriteContext"),
    "WriteResult": ("lakeport.context", "WriteResult"),
    "Loader": ("lakeport.etl", "Loader"),
    "SimpleLoader": ("lakeport.etl", "SimpleLoader"),
    "import_callable": ("lakeport.etl.pipelines", "import_callable"),
    "describe_rule": ("lakeport.expectations", "describe_rule"),
    "RuleCounts": ("lakeport.expectations.mask", "RuleCounts"),
    "RuleMask": ("lakeport.expectations.mask", "RuleMask"),
    "Project": ("lakeport.project", "Project"),
    "add_project_arguments": ("lakeport.cli", "add_project_arguments"),
    "load_project": ("lakeport.cli", "load_project"),
    "PipelineSpec": ("lakeport.config.model", "PipelineSpec"),
    "PipelineResult": ("lakeport.results", "PipelineResult"),
    "describe_write": ("lakeport.results", "describe_write"),
    "listen_query_events": ("lakeport.query_events", "listen"),
    "parse_ddl": ("lakeport.schema", "parse_ddl"),
    "quote_identifier": ("lakeport.schema", "quote_identifier"),
    "to_arrow": ("lakeport.schema", "to_arrow"),
    "active_session": ("lakeport.session", "active_session"),
    "python_streams_unsupported": ("lakeport.session", "python_streams_unsupported"),
    "register_data_source": ("lakeport.session", "register_data_source"),
}

__all__ = [
    "ConfigError",
    "ExpectationFailed",
    "LakeportError",
    "PluginError",
    "SchemaMismatch",
    "TableNotFound",
    "UnsupportedOperation",
    "UnsupportedTableFeature",
    "WriteConflict",
    "hookimpl",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'lakeport.api' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
