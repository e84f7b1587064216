"""Deploy as plan then apply: the plan reads the workspace only, so ``--dry-run`` is the plan printed.

Idempotent by construction: a file is uploaded only when its content hash
differs, the pipeline is found by name (one, never a second), and it is edited
only when a setting lakeport manages differs from what the workspace has.
A run stopped half-way leaves nothing a rerun does not converge from.
"""

from __future__ import annotations

import logging
from typing import Any

import attrs

from lakeport.api import LakeportError
from lakeport_dlt.deploy.artifacts import MANAGED_KEYS, SETTINGS_HASH, Artifact, Deployment

log = logging.getLogger(__name__)


@attrs.frozen
class FileStep:
    artifact: Artifact
    path: str
    #: "new", "changed" or "unchanged"
    state: str


@attrs.frozen
class Plan:
    deployment: Deployment
    files: tuple[FileStep, ...]
    pipeline_id: str | None
    #: "create", "update" or "unchanged"
    action: str
    #: one line per setting that differs: ``key: old -> new``
    diff: tuple[str, ...] = ()
    permissions: bool = False

    @property
    def uploads(self) -> tuple[FileStep, ...]:
        return tuple(f for f in self.files if f.state != "unchanged")


def make_plan(workspace: Any, deployment: Deployment, secrets: tuple[str, ...] | list[str] = ()) -> Plan:
    """What deploying would change; read calls only. A setting holding one of ``secrets`` is diffed unseen."""
    files = []
    for artifact in deployment.artifacts:
        path = deployment.path(artifact)
        remote = workspace.file_sha256(path)
        state = "new" if remote is None else ("unchanged" if remote == artifact.sha256 else "changed")
        files.append(FileStep(artifact, path, state))
    pipeline_id = find_pipeline(workspace, deployment.name)
    if pipeline_id is None:
        return Plan(deployment, tuple(files), None, "create", permissions=bool(deployment.permissions))
    current = workspace.pipeline(pipeline_id)
    diff = settings_diff(current, deployment.settings, secrets)
    permissions = bool(deployment.permissions) and _acl(workspace.permissions(pipeline_id)) != _acl(deployment.permissions)
    return Plan(deployment, tuple(files), pipeline_id, "update" if diff else "unchanged", tuple(diff), permissions)


def find_pipeline(workspace: Any, name: str) -> str | None:
    ids = workspace.pipelines_named(name)
    if len(ids) > 1:
        raise LakeportError(f"{workspace.host}: {len(ids)} pipelines are named {name!r} ({', '.join(ids)}); "
                            "delete all but one, then deploy again")
    return ids[0] if ids else None


def settings_diff(current: dict[str, Any], wanted: dict[str, Any], secrets: Any = ()) -> list[str]:
    """``key: old -> new`` for every managed setting that differs; what the server filled in is no change.

    A setting differs when the workspace lacks part of it (someone edited it there) or when
    lakeport's hash of what it sent last differs (a key was removed from the file).
    """
    spec = dict(current.get("spec") or {})
    if "run_as" not in spec and current.get("run_as_user_name"):  # the API reports run_as on the pipeline
        spec["run_as"] = {"user_name": current["run_as_user_name"]}
    previous = str((spec.get("configuration") or {}).get(MANAGED_KEYS, "")).split(",")
    lines = []
    for key in sorted({*wanted, *(k for k in previous if k)}):
        old, new = spec.get(key), wanted.get(key)
        if key == "configuration":
            old, new = old or {}, new or {}
            lines += [_line(f"{key}.{k}", old.get(k), new.get(k), secrets) for k in sorted({*old, *new})
                      if old.get(k) != new.get(k) and k != SETTINGS_HASH]
        elif not _covers(old, new):
            lines.append(_line(key, old, new, secrets))
    sent = ((spec.get("configuration") or {}).get(SETTINGS_HASH), (wanted.get("configuration") or {}).get(SETTINGS_HASH))
    if not lines and sent[0] != sent[1]:
        lines.append("a key inside a setting was removed or changed (the settings hash differs)")
    return lines


def _covers(current: Any, wanted: Any) -> bool:
    """``current`` holds everything in ``wanted`` (tables may hold more: the server's defaults)."""
    if isinstance(wanted, dict):
        return isinstance(current, dict) and all(k in current and _covers(current[k], v) for k, v in wanted.items())
    if isinstance(wanted, list):
        return isinstance(current, list) and len(current) == len(wanted) and all(map(_covers, current, wanted))
    return bool(current == wanted)


def _line(key: str, old: Any, new: Any, secrets: Any) -> str:
    if any(secret and secret in _show(value) for secret in secrets for value in (old, new)):
        return f"{key}: (a secret) changed"
    return f"{key}: {_show(old)} -> {_show(new)}"


def _show(value: Any) -> str:
    import json

    return "(unset)" if value is None else json.dumps(value, sort_keys=True)


def _acl(entries: Any) -> list[tuple[tuple[str, str], ...]]:
    return sorted(tuple(sorted(e.items())) for e in entries)


def apply(workspace: Any, plan: Plan) -> str:
    """Make the workspace match the plan; returns the pipeline id."""
    deployment = plan.deployment
    folders = sorted({step.path.rsplit("/", 1)[0] for step in plan.uploads if step.state == "new"})  # a changed file's exists
    for folder in folders:
        workspace.mkdirs(folder)
    for step in plan.uploads:
        workspace.upload(step.path, step.artifact.content)
        log.debug("uploaded %s (%s)", step.path, step.state)
    pipeline_id = plan.pipeline_id
    if pipeline_id is None:
        pipeline_id = workspace.create(deployment.settings)
        log.debug("created pipeline %r (%s)", deployment.name, pipeline_id)
    elif plan.action == "update":
        workspace.edit(pipeline_id, deployment.settings)
        log.debug("updated pipeline %r (%s)", deployment.name, pipeline_id)
    if plan.permissions:
        workspace.set_permissions(pipeline_id, deployment.permissions)
    return pipeline_id


def describe(plan: Plan, host: str) -> list[str]:
    """The plan as a person reads it: files, then the pipeline, then a field-by-field diff."""
    deployment = plan.deployment
    lines = [f"{host}: pipeline {deployment.name!r} (env {deployment.env}), files in {deployment.folder}"]
    for step in plan.files:
        verb = {"new": "upload (new)", "changed": "upload (changed)", "unchanged": "unchanged"}[step.state]
        lines.append(f"  file {step.artifact.name}: {verb}")
    if plan.action == "create":
        lines.append("  pipeline: create")
    elif plan.action == "update":
        lines.append(f"  pipeline {plan.pipeline_id}: update")
        lines += [f"    {line}" for line in plan.diff]
    else:
        lines.append(f"  pipeline {plan.pipeline_id}: unchanged")
    if plan.permissions:
        lines.append("  permissions: set")
    return lines


def redact(lines: list[str], secrets: list[str]) -> list[str]:
    """``***`` for every secret value (those of ``${env:VAR}`` references, the token) in ``lines``."""
    secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
    out = []
    for line in lines:
        for secret in secrets:
            line = line.replace(secret, "***")
        out.append(line)
    return out
