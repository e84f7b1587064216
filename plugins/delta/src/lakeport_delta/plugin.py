"""Entry point of lakeport-delta: registers kind ``delta``. Imports nothing heavy."""

from __future__ import annotations

import os
from typing import Any

from lakeport.api import hookimpl


def describe_backend(project: Any) -> str:
    """What ``auto`` would choose, without starting Spark."""
    configured = "auto"
    if project is not None:
        from lakeport_delta.settings import DeltaSettings

        configured = project.plugin_settings(DeltaSettings).backend.value
    if configured != "auto":
        return f"{configured} (configured)"
    if os.environ.get("DATABRICKS_RUNTIME_VERSION"):
        return "native (auto: Databricks runtime)"
    if os.environ.get("SPARK_REMOTE"):
        return "auto: native if the Spark Connect server has Delta, else embedded"
    return "embedded (auto: a local session has no Delta jars)"


@hookimpl
def lakeport_register_settings(register: Any) -> None:
    register("lakeport_delta.settings:DeltaSettings")


@hookimpl
def lakeport_register_handle_kinds(register: Any) -> None:
    register(
        "delta",
        "lakeport_delta.handle:DeltaHandle.from_config",
        options="lakeport_delta.handle:DeltaOptions",
        describe_backend=describe_backend,
    )
