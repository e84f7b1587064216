"""Entry point of lakeport-delta: registers kind ``delta``. Imports nothing heavy."""

from __future__ import annotations

import os
from typing import Any

from lakeport.api import hookimpl


def describe_backend(project: Any) -> str:
    """What ``auto`` would choose, and why, without starting Spark."""
    backend, adds_jars = "auto", False  # DeltaSettings()'s defaults: without a project nothing is configured
    if project is not None:  # (and attrs, which the settings class needs, is not imported for `lakeport plugins`)
        from lakeport_delta.settings import DeltaSettings

        settings = project.plugin_settings(DeltaSettings)
        backend, adds_jars = settings.backend.value, settings.adds_jars
    jars = " with delta-spark's jars in the session lakeport builds" if adds_jars else ""
    if backend != "auto":
        return f"{backend} (configured in [plugins.delta]){jars}"
    if os.environ.get("DATABRICKS_RUNTIME_VERSION"):
        return "native (auto: Databricks runtime)"
    if os.environ.get("SPARK_REMOTE"):
        return "auto: native if the Spark Connect server has Delta, else embedded"
    if adds_jars:
        return "native (auto: [plugins.delta] jars = true puts delta-spark in the session lakeport builds)"
    return "embedded (auto: a local session has no Delta jars); [plugins.delta] jars = true would add them"


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


@hookimpl
def lakeport_spark_conf(project: Any) -> dict[str, str] | None:
    """delta-spark's jars, extension and catalog when ``[plugins.delta]`` asks for them."""
    from lakeport_delta.settings import DeltaSettings

    if project is None or not project.plugin_settings(DeltaSettings).adds_jars:
        return None
    from lakeport_delta.spark_conf import delta_spark_conf

    return delta_spark_conf()


@hookimpl
def lakeport_explain_session_failure(error: BaseException, conf: Any) -> str | None:
    from lakeport_delta.spark_conf import explain_jar_failure

    return explain_jar_failure(error, conf)
