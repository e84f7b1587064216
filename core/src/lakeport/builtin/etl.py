"""Built-in plugin: the pipeline kind ``etl`` (source -> optional transform -> target).

Registered like any plugin's pipeline kind, so a plugin kind (``dlt``) and
the default one go through the same ``lakeport run`` dispatch.
"""

from __future__ import annotations

from typing import Any

from lakeport.markers import hookimpl


@hookimpl
def lakeport_register_pipeline_kinds(register: Any) -> None:
    register(
        "etl",
        "lakeport.etl.pipelines:build_pipeline",
        options="lakeport.etl.spec:EtlOptions",
        check="lakeport.etl.spec:check_etl",
    )
