"""``lakeport dlt render|graph|run-local|deploy|destroy|bundle``: a pipeline of kind dlt, locally and on Databricks."""

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
    render.add_argument("--spec", action="store_true",
                        help="with --api pipelines -o DIR: also write DIR/spark-pipeline.yml for `spark-pipelines run`")
    add_project_arguments(render)
    local = sub.add_parser("run-local", help="run a dlt pipeline, or unchanged `import dlt` code, on the local lake")
    local.add_argument("target", help="a [pipelines.<name>] entry of kind dlt, or a .py file of pipeline code")
    local.add_argument("--full-refresh", nargs="?", const="", default=None, metavar="DATASETS",
                       help="start every dataset and checkpoint empty; or only DATASETS (comma-separated) and their flows'")
    local.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE",
                       help="a pipeline setting the code reads with spark.conf.get (repeatable)")
    local.add_argument("--warehouse", default=None, help="where the Delta tables land (default: the project's warehouse)")
    local.add_argument("--schema", default=None, help="the schema folder for a code file's datasets (default: default)")
    add_project_arguments(local)
    graph = sub.add_parser("graph", help="print the pipeline's dataflow graph")
    graph.add_argument("pipeline")
    graph.add_argument("--format", choices=("mermaid", "dot"), default="mermaid")
    add_project_arguments(graph)
    from lakeport_dlt.deploy.commands import configure as configure_deploy

    configure_deploy(sub)


def run(args: argparse.Namespace) -> int:
    if args.dlt_command == "run-local":
        return run_local(args)
    if args.dlt_command in ("deploy", "destroy", "bundle"):
        from lakeport_dlt.deploy.commands import run as run_deploy

        return run_deploy(args, out=lambda line: print(line, flush=True))
    project = load_project(args)
    spec = project.pipeline_spec(args.pipeline)
    if spec.kind != "dlt":
        raise ConfigError(f"pipelines.{args.pipeline}: kind is {spec.kind!r}, not \"dlt\"", source=project.source)
    from lakeport_dlt.graph import pipeline_graph

    graph = pipeline_graph(project, spec)
    if args.dlt_command == "render":
        from lakeport_dlt.render import render

        if args.spec and (args.api != "pipelines" or args.output is None):
            raise ConfigError("render --spec: spark-pipelines runs `from pyspark import pipelines as dp` source from a file; "
                              "add --api pipelines -o DIR")
        source = render(graph, spec.options, api=args.api, project_file=Path(project.source).name)
        if args.output is None:
            print(source, end="")
        else:
            target = Path(args.output) / f"{args.pipeline}_pipeline.py"  # never the name of the module it imports
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(source)
            print(f"wrote {target}")
            if args.spec:
                print(f"wrote {_write_spark_pipelines_spec(project, spec, target, args.env)}")
        return 0
    from lakeport_dlt.draw import draw

    print(draw(graph, args.format), end="")
    return 0


def _write_spark_pipelines_spec(project: Any, spec: Any, source: Path, env: str | None) -> Path:
    """``spark-pipeline.yml`` beside the rendered source; checkpoints under the project's warehouse."""
    from lakeport_dlt.spark_pipelines import SPEC_FILE, spec_text

    configuration = {"lakeport.project_file": str(Path(project.source).resolve())}
    if env:
        configuration["lakeport.env"] = env
    text = spec_text(spec.name, source.name, storage=Path(project.warehouse) / "_spark_pipelines" / spec.name,
                     configuration=configuration)
    target = source.parent / SPEC_FILE
    target.write_text(text)
    return target


def run_local(args: argparse.Namespace) -> int:
    from lakeport.api import Project

    code = Path(args.target)
    conf = dict(_setting(item) for item in args.conf)
    if args.env:  # rendered source opens the project in the same environment (spark.conf "lakeport.env")
        conf.setdefault("lakeport.env", args.env)
    if code.suffix == ".py" or code.is_file():
        config = Path(args.config)
        if config.is_file():
            project = load_project(args)
        else:  # code alone: its folder is the project's
            project = Project.from_dict({}, source=str(code), root=code.resolve().parent)
        _use_warehouse(project, args.warehouse)
        from lakeport_dlt.emulation import CodeRun

        pipeline_run: Any = CodeRun(project, code, schema=args.schema, conf=conf, full_refresh=args.full_refresh is not None,
                                    refresh_datasets=_names(args.full_refresh))
    else:
        project = load_project(args)
        _use_warehouse(project, args.warehouse)
        spec = project.pipeline_spec(args.target)
        if spec.kind != "dlt":
            raise ConfigError(f"pipelines.{args.target}: kind is {spec.kind!r}, not \"dlt\"", source=project.source)
        from lakeport_dlt.run import DltRun

        pipeline_run = DltRun(project, spec, full_refresh=args.full_refresh is not None,
                              refresh_datasets=_names(args.full_refresh), conf=conf)
    from lakeport_dlt.lake import FlowReport, summary_table

    try:
        pipeline_run.execute()
    finally:
        result = pipeline_run.result()
        for line in result.summary:
            print(line, flush=True)
        if result.summary:
            print()
            for line in summary_table(FlowReport(**flow) for flow in result.details["flows"]):
                print(line, flush=True)
    return 0


def _names(text: str | None) -> list[str]:
    return [name.strip() for name in (text or "").split(",") if name.strip()]


def _setting(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"--conf {item!r}: expected KEY=VALUE")
    return key, value


def _use_warehouse(project: Any, warehouse: str | None) -> None:
    if warehouse:
        project.use_warehouse(Path(warehouse).resolve())
