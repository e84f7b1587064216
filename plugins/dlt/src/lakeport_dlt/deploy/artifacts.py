"""What a deploy puts on the workspace: the files, and the pipeline settings in the API's JSON shape.

Built from the project alone, with no call to the workspace (the current user,
for ``--as-individual``, is passed in), so deploy, ``--dry-run`` and the bundle
all start from the same :class:`Deployment`.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import attrs

from lakeport.api import ConfigError
from lakeport_dlt.deploy.settings import DeployTarget, for_env, problems

#: configuration key recording which settings lakeport set, so a key removed from the file is removed on the
#: workspace too (and server defaults are not mistaken for changes).
MANAGED_KEYS = "lakeport.managed_keys"
#: configuration key holding the hash of the settings lakeport sent: a key removed deep inside a setting
#: changes it, while what the server fills in (nested defaults) does not.
SETTINGS_HASH = "lakeport.settings_sha256"


@attrs.frozen
class Artifact:
    """One file for the workspace folder: ``name`` is relative to it."""

    name: str
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@attrs.frozen
class Deployment:
    pipeline: str
    env: str
    #: the Databricks pipeline's name: what deploy looks the pipeline up by.
    name: str
    folder: str
    artifacts: tuple[Artifact, ...]
    #: the create/edit request body (no ``id``).
    settings: dict[str, Any]
    #: access control entries (``user_name``/``group_name``/``service_principal_name`` + ``permission_level``).
    permissions: tuple[dict[str, str], ...] = ()
    #: the ``~/.databrickscfg`` profile the settings name (None: the SDK's own lookup).
    profile: str | None = None

    def path(self, artifact: Artifact) -> str:
        return f"{self.folder}/{artifact.name}"


def source_name(pipeline: str) -> str:
    """The rendered source's file name: never the name of the module it imports."""
    return f"{pipeline}_pipeline.py"


def build(project: Any, pipeline: str, env: str, *, user: str | None = None) -> Deployment:
    """The deployment of ``pipeline`` in ``env``; ``user`` (a user name) makes it that user's own copy."""
    from lakeport_dlt.graph import pipeline_graph
    from lakeport_dlt.render import render

    spec = project.pipeline_spec(pipeline)
    if spec.kind != "dlt":
        raise ConfigError(f"pipelines.{pipeline}: kind is {spec.kind!r}, not \"dlt\"", source=project.source)
    settings = spec.options.deploy
    target = for_env(settings, env)
    where = f"pipelines.{pipeline}.deploy" + (f".env.{env}" if settings is not None and env in settings.env else "")
    found = problems(target, where)
    if found:
        raise ConfigError(found, source=project.source)

    name = target.name or f"{pipeline}_{env}"
    if user:
        short = re.sub(r"[^A-Za-z0-9]+", "_", user.split("@")[0]).strip("_")
        folder = f"/Workspace/Users/{user}/lakeport/{name}"
        name = f"{short}_{name}"
    else:
        folder = (target.workspace_folder or f"/Workspace/Shared/lakeport/{name}").rstrip("/")

    project_file = Path(project.source)
    source = render(pipeline_graph(project, spec), spec.options, api="dlt", project_file=project_file.name)
    artifacts = [Artifact(source_name(pipeline), source.encode())]
    if spec.options.code is not None:
        code = project.root / spec.options.code
        artifacts.append(Artifact(code.name, _read(code, f"pipelines.{pipeline}.code", project.source)))
    artifacts.append(Artifact(project_file.name, _read(project_file, "the project file", project.source)))
    wheels = []
    for index, wheel in enumerate(target.wheels or ()):
        local = project.root / wheel
        artifacts.append(Artifact(f"wheels/{local.name}", _read(local, f"{where}.wheels[{index}]", project.source)))
        wheels.append(f"{folder}/wheels/{local.name}")

    body = _settings(target, spec.options, name=name, folder=folder, pipeline=pipeline, env=env,
                     project_file=project_file.name, wheels=wheels)
    permissions = tuple(
        {**{k: v for k, v in (("user_name", p.user_name), ("group_name", p.group_name),
                              ("service_principal_name", p.service_principal_name)) if v},
         "permission_level": p.level.value}
        for p in target.permissions or ()
    )
    return Deployment(pipeline, env, name, folder, tuple(artifacts), body, permissions, target.profile)


def _read(path: Path, what: str, source: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{what}: cannot read {path}: {exc.strerror}", source=source) from None


def _settings(target: DeployTarget, options: Any, *, name: str, folder: str, pipeline: str, env: str,
              project_file: str, wheels: list[str]) -> dict[str, Any]:
    """The Pipelines API create/edit body; unset keys are left out (the API's defaults apply)."""
    body: dict[str, Any] = {
        "name": name,
        "catalog": target.catalog or options.catalog,
        "schema": target.schema or (None if target.target else options.target_schema),
        "target": target.target,
        "storage": target.storage,
        "root_path": target.root_path or folder,
        "development": target.development,
        "continuous": target.continuous,
        "edition": _value(target.edition),
        "channel": _value(target.channel),
        "photon": target.photon,
        "serverless": target.serverless,
    }
    if target.clusters:
        body["clusters"] = [_clean(attrs.asdict(c, value_serializer=lambda _i, _a, v: _value(v))) for c in target.clusters]
    body["configuration"] = {
        **dict(options.configuration),
        **dict(target.configuration or {}),
        "lakeport.project_file": f"{folder}/{project_file}",
        "lakeport.env": env,
    }
    source = f"{folder}/{source_name(pipeline)}"
    libraries = [_library(lib) for lib in target.libraries or ()]
    own = {"glob": {"include": source}} if any("glob" in lib for lib in libraries) else {"file": {"path": source}}
    body["libraries"] = [own, *libraries]
    dependencies = [*(target.dependencies or ()), *wheels] if target.serverless else []
    if dependencies:
        body["environment"] = {"dependencies": dependencies}
    elif wheels:
        body["libraries"] += [{"whl": wheel} for wheel in wheels]
    if target.notifications:
        body["notifications"] = [_clean({"email_recipients": list(n.email_recipients), "alerts": list(n.alerts)})
                                 for n in target.notifications]
    body["tags"] = dict(target.tags or {})
    if target.run_as is not None:
        body["run_as"] = _clean(attrs.asdict(target.run_as))
    body = _clean(body)
    body["configuration"][MANAGED_KEYS] = ",".join(sorted(body))
    body["configuration"][SETTINGS_HASH] = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
    return body


def _library(library: Any) -> dict[str, Any]:
    if library.file:
        return {"file": {"path": library.file}}
    if library.notebook:
        return {"notebook": {"path": library.notebook}}
    if library.glob:
        return {"glob": {"include": library.glob}}
    if library.maven:
        return {"maven": {"coordinates": library.maven}}
    return {"whl": library.whl} if library.whl else {"jar": library.jar}


def _value(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _clean(value: Any) -> Any:
    """Without None and empty tables/lists, recursively: what the API is not told, it defaults."""
    if isinstance(value, dict):
        cleaned = {k: _clean(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v is not None and v != {} and v != [] and v != ()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value
