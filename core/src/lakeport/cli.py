"""The ``lakeport`` command: plugins, validate, run, init, plus plugin commands.

Keep imports here light: ``lakeport --help`` and ``lakeport plugins`` must not
import pyspark.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any, Sequence

from lakeport.commands import Command, CommandRegistry
from lakeport.errors import ConfigError, LakeportError

log = logging.getLogger("lakeport.cli")

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


def add_project_arguments(parser: argparse.ArgumentParser) -> None:
    """``-c/--config`` and ``--env``, the way every project command takes them."""
    parser.add_argument("-c", "--config", default="lakeport.toml", help="project file (default: lakeport.toml)")
    parser.add_argument("--env", default=None, help="environment (default: $LAKEPORT_ENV, then [lakeport].default_env)")


def load_project(args: argparse.Namespace) -> Any:
    from lakeport.project import Project

    return Project.from_file(args.config, env=args.env)


# -- built-in commands ---------------------------------------------------------------
def _configure_plugins(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print a JSON list")
    add_project_arguments(parser)


def _run_plugins(args: argparse.Namespace) -> int:
    from lakeport.plugins import Hooks

    project = None
    if os.path.isfile(args.config):
        project = load_project(args)
        hooks = project.hooks
    else:  # the plugins main() loaded to find the commands (loading them again costs as much)
        hooks = getattr(args, "_hooks", None) or Hooks.load()
    infos = hooks.describe(project)
    output = _plugins_output(infos, as_json=args.json)
    sys.stdout.write(output)
    args._plugins_output = output  # main() caches it
    return EXIT_OK


def _plugins_output(infos: Sequence[Any], *, as_json: bool) -> str:
    """What ``lakeport plugins [--json]`` prints (the cache stores exactly this text)."""
    if as_json:
        return json.dumps([
            {"name": i.name, "distribution": i.distribution, "version": i.version, "kinds": list(i.kinds),
             "backends": dict(i.backends), "pipeline_kinds": list(i.pipeline_kinds)}
            for i in infos
        ], indent=2) + "\n"
    rows = [("plugin", "distribution", "version", "kinds")]
    rows += [(i.name, i.distribution, i.version, _kinds_cell(i)) for i in infos]
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    for info in infos:
        for kind, backend in info.backends.items():
            lines.append(f"backend for kind {kind}: {backend}")
    return "".join(line + "\n" for line in lines)


def _kinds_cell(info: Any) -> str:
    kinds = [*info.kinds, *(f"pipeline {k}" for k in info.pipeline_kinds)]
    return ", ".join(kinds) or "-"


def _configure_validate(parser: argparse.ArgumentParser) -> None:
    add_project_arguments(parser)
    parser.add_argument("--no-spark", action="store_true", help="skip checks that need a Spark session")
    parser.add_argument("--json", action="store_true", help="print the resolved configuration as JSON")


def _run_validate(args: argparse.Namespace) -> int:
    from lakeport.validate import validate_project

    project = load_project(args)
    resolved = validate_project(project, spark=not args.no_spark)
    if args.json:
        print(json.dumps(resolved, indent=2, default=str))
    else:
        print(f"{project.source}: ok (env {project.config.env or '-'}; "
              f"{len(project.config.tables)} tables, {len(project.config.pipelines)} pipelines)")
        for name, table in resolved["tables"].items():
            where = table.get("location") or table.get("path") or table.get("name") or ""
            print(f"  table {name}: kind {table['kind']} {where}".rstrip())
        for name, pipeline in resolved["pipelines"].items():
            if pipeline["kind"] == "etl":
                print(f"  pipeline {name}: {pipeline['source']} -> {pipeline['target']} ({pipeline['mode']})")
            else:
                print(f"  pipeline {name}: kind {pipeline['kind']}")
    return EXIT_OK


def _configure_run(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pipeline", help="name of a [pipelines.<name>] entry")
    add_project_arguments(parser)


def _run_run(args: argparse.Namespace) -> int:
    """Dispatch on the entry's kind: its plugin builds the run, whose ``result()`` says what was done."""
    project = load_project(args)
    run = project.pipeline(args.pipeline)
    try:
        run.execute()
    finally:  # also after Ctrl-C / SIGTERM: say what was done
        for line in run.result().summary:
            print(line, flush=True)
    return EXIT_OK


def _configure_init(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", nargs="?", default=None,
                        help="where to create it (default: . for a project, ./lakeport-NAME for a plugin)")
    parser.add_argument("--plugin", metavar="NAME", default=None,
                        help="create a connector distribution lakeport-NAME with kind NAME instead of a project")


def _run_init(args: argparse.Namespace) -> int:
    from pathlib import Path

    if args.plugin is not None:
        from lakeport.scaffold import create_plugin

        target = Path(args.directory or f"lakeport-{args.plugin}")
        for path in create_plugin(args.plugin, target):
            print(f"created {path}")
        print(f'next: cd {target} && pip install -e ".[test]" && pytest')
        return EXIT_OK

    from lakeport.starter import create_starter

    args.directory = args.directory or "."
    created = create_starter(Path(args.directory))
    for path in created:
        print(f"created {path}")
    print(f"next: cd {args.directory} && lakeport run ingest")
    return EXIT_OK


BUILTIN_COMMANDS = (
    Command("plugins", "list installed plugins, their kinds and backends", _configure_plugins, _run_plugins),
    Command("validate", "check a project file and print it resolved", _configure_validate, _run_validate),
    Command("run", "run a pipeline of the project file", _configure_run, _run_run),
    Command("init", "create a starter project", _configure_init, _run_init),
)


def build_parser(registry: CommandRegistry, argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser of every command; with ``argv`` naming a command, of that command only.

    Every sub-parser and argument costs (argparse formats each one), and ``lakeport
    plugins`` should start about as fast as Python does.
    """
    parser = argparse.ArgumentParser(prog="lakeport", description="Pipelines of handles, hooks and plugins on Spark.",
                                     formatter_class=_formatter)
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    chosen = _command_named(registry, argv)
    for command in registry.commands.values() if chosen is None else (chosen,):
        command_parser = sub.add_parser(command.name, help=command.help, description=command.help,
                                        formatter_class=_formatter)
        command.configure(command_parser)
        command_parser.set_defaults(_run=command.run)
    return parser


def _command_named(registry: CommandRegistry, argv: Sequence[str] | None) -> Command | None:
    """The command ``argv`` runs: its first word (lakeport's own options take no values)."""
    if argv is None:
        return None
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    if first is None or any(arg in ("-h", "--help") for arg in argv[: list(argv).index(first)]):
        return None
    return registry.commands.get(first)


def _formatter(prog: str) -> argparse.HelpFormatter:
    """argparse's formatter, without the ``import shutil`` (and bz2, lzma, ...) it does for the width."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns if sys.__stdout__ else 80
        except (AttributeError, ValueError, OSError):
            columns = 80
    return argparse.HelpFormatter(prog, width=max(columns, 1) - 2)


class _CurrentStderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record comes (test captures swap it)."""

    _lakeport_cli = True

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def _setup_logging(verbosity: int, packages: Sequence[str] = ()) -> None:
    """INFO (or DEBUG with -vv) of ``lakeport`` and of the loaded plugins' packages; WARNING of the rest."""
    level = logging.DEBUG if verbosity > 1 else logging.INFO
    root = logging.getLogger()
    if not any(getattr(h, "_lakeport_cli", False) for h in root.handlers):
        handler = _CurrentStderrHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
        root.addHandler(handler)
    root.setLevel(logging.WARNING)
    for name in dict.fromkeys(("lakeport", *packages)):
        logging.getLogger(name).setLevel(level if verbosity else logging.INFO)
    logging.getLogger("py4j").setLevel(logging.ERROR)
    # a foreachBatch function's exception is reported by what it stopped; py4j would log its traceback too
    logging.getLogger("py4j.clientserver").setLevel(logging.CRITICAL)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; ``argv`` None means the process's command line.

    Only a real command line (``argv`` None) reads and writes the cache of ``lakeport
    plugins`` (:mod:`lakeport.plugins_cache`): a caller passing ``argv`` may have
    swapped plugins in a way no file on disk shows.
    """
    if argv is not None:
        return _main(list(argv))
    from lakeport import plugins_cache

    argv = sys.argv[1:]
    slot = plugins_cache.slot_for(argv)  # before plugins load: one could change sys.path
    if slot is None:
        return _main(argv)
    cached = plugins_cache.cached_output(slot)  # the console script asked already; `python -m lakeport.cli` did not
    if cached is not None:
        sys.stdout.write(cached)
        return EXIT_OK
    watch = plugins_cache.StderrWatch(sys.stderr)
    sys.stderr = watch  # a run that printed a warning is not cached
    try:
        outcome: dict[str, Any] = {}
        code = _main(argv, outcome)
    finally:
        if sys.stderr is watch:
            sys.stderr = watch.stream
    output = outcome.get("plugins_output")
    if code == EXIT_OK and isinstance(output, str) and not watch.written:
        plugins_cache.store(slot, output)
    return code


def _main(argv: list[str], outcome: dict[str, Any] | None = None) -> int:
    registry = CommandRegistry()
    for command in BUILTIN_COMMANDS:
        registry.commands[command.name] = command
    try:
        from lakeport.plugins import Hooks

        hooks = Hooks.load()
        hooks.register_commands(registry)
    except LakeportError as exc:
        print(f"lakeport: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    args = build_parser(registry, argv).parse_args(argv)
    args._hooks = hooks
    _setup_logging(args.verbose, hooks.plugin_packages())
    had_session = _active_spark_session() is not None
    try:
        code = int(args._run(args) or 0)
        if outcome is not None:
            outcome["plugins_output"] = getattr(args, "_plugins_output", None)
        return code
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except LakeportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        if not had_session:
            _stop_session_started_by(args)


def _active_spark_session() -> Any:
    """The active SparkSession, without importing pyspark when nothing has."""
    if "pyspark.sql" not in sys.modules:
        return None
    return sys.modules["pyspark.sql"].SparkSession.getActiveSession()


def _stop_session_started_by(args: argparse.Namespace) -> None:
    """Stop the Spark the command started, so its listener threads do not outlive Python's callbacks."""
    spark = _active_spark_session()
    if spark is not None:
        log.debug("stopping the Spark session started by %s", args.command)
        spark.stop()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
