"""``lakeport dlt deploy|destroy|bundle``: the commands' arguments and the lines they show.

Lines go to ``out`` (``print``, from :mod:`lakeport_dlt.cli`), each scrubbed of secrets first.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path
from typing import Any, Callable

from lakeport.api import ConfigError, add_project_arguments, load_project


def configure(sub: Any) -> None:
    deploy = sub.add_parser("deploy", help="upload the pipeline to a Databricks workspace and create or update it")
    _common(deploy)
    deploy.add_argument("--dry-run", action="store_true", help="print the plan; make no call that writes")
    deploy.add_argument("--start", action="store_true", help="start an update once deployed")
    deploy.add_argument("--full-refresh", action="store_true", help="with --start: recompute every table")
    deploy.add_argument("--wait", action="store_true", help="with --start: follow the update until it ends")
    deploy.add_argument("--poll-interval", type=float, default=5.0, metavar="SECONDS",
                        help="with --wait: seconds between polls (default 5)")
    destroy = sub.add_parser("destroy", help="delete the deployed pipeline and the files deploy uploaded")
    _common(destroy)
    destroy.add_argument("--dry-run", action="store_true", help="print what would be deleted; delete nothing")
    bundle = sub.add_parser("bundle", help="write a Databricks Asset Bundle (databricks.yml, resources/, src/)")
    bundle.add_argument("pipeline", help="a [pipelines.<name>] entry with kind = \"dlt\"")
    bundle.add_argument("-o", "--output", required=True, help="the bundle's folder")
    add_project_arguments(bundle)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pipeline", help="a [pipelines.<name>] entry with kind = \"dlt\"")
    parser.add_argument("--as-individual", action="store_true",
                        help="your own copy: the name prefixed with your user, files in your user folder")
    parser.add_argument("--profile", default=None,
                        help="a ~/.databrickscfg profile (default: the deploy settings' profile, else the SDK's lookup)")
    add_project_arguments(parser)


def run(args: argparse.Namespace, out: Callable[[str], Any]) -> int:
    from lakeport_dlt.deploy.artifacts import build

    env = _env(args)
    project = load_project(args)
    if args.dlt_command == "bundle":
        from lakeport_dlt.deploy.bundle import write_bundle

        written = write_bundle(build(project, args.pipeline, env), Path(args.output), _env_secrets(project.source))
        out(f"wrote {len(written)} files of bundle {args.pipeline!r} (target {env}) to {args.output}")
        return 0
    if args.dlt_command == "deploy" and (args.full_refresh or args.wait) and not args.start:
        raise ConfigError("--full-refresh and --wait go with --start")
    deployment = build(project, args.pipeline, env)  # every config error before the first call
    from lakeport_dlt.deploy.workspace import Workspace

    workspace = Workspace(profile=args.profile or deployment.profile)
    user = workspace.user_name()  # also proves the credentials before anything else
    if args.as_individual:
        deployment = build(project, args.pipeline, env, user=user)
    secrets = [*_env_secrets(project.source).values(), str(getattr(workspace.client.config, "token", "") or "")]

    def say(line: str) -> None:
        from lakeport_dlt.deploy.plan import redact

        out(redact([line], secrets)[0])

    if args.dlt_command == "destroy":
        from lakeport_dlt.deploy.destroy import destroy

        destroy(workspace, deployment, dry_run=args.dry_run, say=say)
        return 0
    return _deploy(args, workspace, deployment, say, secrets)


def _deploy(args: argparse.Namespace, workspace: Any, deployment: Any, say: Any, secrets: list[str]) -> int:
    from lakeport_dlt.deploy.plan import apply, describe, make_plan

    plan = make_plan(workspace, deployment, secrets)
    for line in describe(plan, workspace.host):
        say(line)
    if args.dry_run:
        say("dry run: nothing was changed")
        return 0
    pipeline_id = apply(workspace, plan)
    outcome = {"create": "created", "update": "updated", "unchanged": "unchanged"}[plan.action]
    say(f"deployed {deployment.name!r}: pipeline {pipeline_id} {outcome}, {len(plan.uploads)} file(s) uploaded, "
        f"{len(plan.files) - len(plan.uploads)} unchanged")
    if args.start:
        from lakeport_dlt.deploy.updates import run_update

        run_update(workspace, pipeline_id, deployment.name, full_refresh=args.full_refresh, wait=args.wait,
                   poll_interval=args.poll_interval, say=say)
    return 0


def _env(args: argparse.Namespace) -> str:
    env = args.env or os.environ.get("LAKEPORT_ENV")
    if not env:
        raise ConfigError(f"lakeport dlt {args.dlt_command}: name the environment with --env ENV")
    args.env = env
    return str(env)


def _env_secrets(source: str) -> dict[str, str]:
    """Name -> value of the ``${env:VAR}`` references in the project file: values never printed or written."""
    try:
        text = Path(source).read_text()
    except OSError:
        return {}
    names = re.findall(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}", text)
    return {name: os.environ[name] for name in names if name in os.environ}
