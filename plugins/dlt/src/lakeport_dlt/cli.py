"""``lakeport dlt render|graph``: what a pipeline of kind dlt becomes on Databricks, and its shape."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from lakeport.api import ConfigError, add_project_arguments, load_project

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="dlt_command", metavar="SUBCOMMAND")
    sub.required = True
    render = sub.add_parser("render", help="write the Databricks pipeline source")
    render.add_argument("pipeline", help="a [pipelines.<name>] entry with kind = \"dlt\"")
    render.add_argument("--api", choices=("dlt", "pipelines"), default="dlt",
                        help="import dlt (default) or from pyspark import pipelines as dp")
    render.add_argument("-o", "--output", default=None, help="folder to write <pipeline>.py into (default: print it)")
    add_project_arguments(render)
    graph = sub.add_parser("graph", help="print the pipeline's dataflow graph")
    graph.add_argument("pipeline")
    graph.add_argument("--format", choices=("mermaid", "dot"), default="mermaid")
    add_project_arguments(graph)


def run(args: argparse.Namespace) -> int:
    project = load_project(args)
    spec = project.pipeline_spec(args.pipeline)
    if spec.kind != "dlt":
        raise ConfigError(f"pipelines.{args.pipeline}: kind is {spec.kind!r}, not \"dlt\"", source=project.source)
    graph = pipeline_graph(project, spec)
    if args.dlt_command == "render":
        from lakeport_dlt.render import render

        source = render(graph, spec.options, api=args.api, project_file=Path(project.source).name)
        if args.output is None:
            print(source, end="")
        else:
            target = Path(args.output) / f"{args.pipeline}.py"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(source)
            print(f"wrote {target}")
        return 0
    from lakeport_dlt.draw import draw

    print(draw(graph, args.format), end="")
    return 0


def pipeline_graph(project: Any, spec: Any) -> Any:
    from lakeport_dlt.graph import build_graph

    graph, problems = build_graph(spec.name, spec.options, project.config.tables, f"pipelines.{spec.name}")
    if problems:  # the project checked it on load; only a changed file gets here
        raise ConfigError(problems, source=project.source)
    return graph
