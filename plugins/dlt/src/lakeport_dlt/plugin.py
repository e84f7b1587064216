"""Entry point of lakeport-dlt: the pipeline kind ``dlt`` and the ``lakeport dlt`` command. Nothing heavy imported."""

from __future__ import annotations

from typing import Any

from lakeport.api import hookimpl


@hookimpl
def lakeport_register_pipeline_kinds(register: Any) -> None:
    register(
        "dlt",
        "lakeport_dlt.run:build",
        options="lakeport_dlt.spec:DltPipeline",
        check="lakeport_dlt.graph:check_pipeline",
    )


@hookimpl
def lakeport_register_commands(cli: Any) -> None:
    cli.add_command("dlt", help="declarative pipelines: render, deploy to Databricks, bundle, show the graph",
                    configure="lakeport_dlt.cli:configure", run="lakeport_dlt.cli:run")
