"""``[pipelines.<name>.deploy]``: where and how a dlt pipeline runs on Databricks, per environment.

A key of the dlt kind's own options (:class:`lakeport_dlt.spec.DltPipeline`), so core's
converter structures it with the rest and a wrong key is an error naming its path.

Keys mirror the Pipelines API's create/edit request, so a team reads them the way
the API documents them. ``[pipelines.<name>.deploy.env.<env>]`` holds the same
keys for one environment: a key set there replaces the base key (tables such as
``configuration`` and ``tags`` are merged key by key). ``{var}`` from
``[env.<env>.vars]`` and ``${env:VAR}`` (secrets) work as everywhere else.
"""

from __future__ import annotations

import enum
from typing import Any, Mapping

import attrs


class Edition(str, enum.Enum):
    CORE = "CORE"
    PRO = "PRO"
    ADVANCED = "ADVANCED"


class Channel(str, enum.Enum):
    CURRENT = "CURRENT"
    PREVIEW = "PREVIEW"


class AutoscaleMode(str, enum.Enum):
    ENHANCED = "ENHANCED"
    LEGACY = "LEGACY"


class PermissionLevel(str, enum.Enum):
    CAN_VIEW = "CAN_VIEW"
    CAN_RUN = "CAN_RUN"
    CAN_MANAGE = "CAN_MANAGE"
    IS_OWNER = "IS_OWNER"


@attrs.frozen
class Autoscale:
    min_workers: int
    max_workers: int
    mode: AutoscaleMode | None = None


@attrs.frozen
class Cluster:
    """One entry of the API's ``clusters`` (classic compute only)."""

    label: str = "default"
    node_type_id: str | None = None
    driver_node_type_id: str | None = None
    num_workers: int | None = None
    autoscale: Autoscale | None = None
    policy_id: str | None = None
    spark_conf: Mapping[str, str] = attrs.field(factory=dict)
    spark_env_vars: Mapping[str, str] = attrs.field(factory=dict)
    custom_tags: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class Library:
    """One entry of the API's ``libraries``, besides the rendered source lakeport adds itself."""

    file: str | None = None
    notebook: str | None = None
    glob: str | None = None
    whl: str | None = None
    jar: str | None = None
    maven: str | None = None


@attrs.frozen
class Notification:
    email_recipients: tuple[str, ...] = ()
    #: on-update-success, on-update-failure, on-update-fatal-failure, on-flow-failure
    alerts: tuple[str, ...] = ()


@attrs.frozen
class Permission:
    """One access control entry; exactly one of the three principals."""

    level: PermissionLevel
    user_name: str | None = None
    group_name: str | None = None
    service_principal_name: str | None = None


@attrs.frozen
class RunAs:
    user_name: str | None = None
    service_principal_name: str | None = None


@attrs.frozen
class DeployTarget:
    """The settings of one environment; None means "not set" (the API's default, or the base's value)."""

    #: default: ``<pipeline>_<env>``
    name: str | None = None
    #: the ``~/.databrickscfg`` profile to deploy with (``--profile`` wins); not sent to the API.
    profile: str | None = None
    catalog: str | None = None
    schema: str | None = None
    #: the deprecated Hive metastore form of ``schema``; not both.
    target: str | None = None
    storage: str | None = None
    #: the workspace folder the files go to; default ``/Workspace/Shared/lakeport/<name>``
    #: (``/Workspace/Users/<you>/lakeport/<name>`` with ``--as-individual``).
    workspace_folder: str | None = None
    #: the pipeline's root folder (on ``sys.path``); default: ``workspace_folder``.
    root_path: str | None = None
    development: bool | None = None
    continuous: bool | None = None
    edition: Edition | None = None
    channel: Channel | None = None
    photon: bool | None = None
    serverless: bool | None = None
    clusters: tuple[Cluster, ...] | None = None
    configuration: Mapping[str, str] | None = None
    libraries: tuple[Library, ...] | None = None
    #: PyPI requirements (``lakeport-dlt==0.1.0``) or workspace wheel paths: the serverless
    #: environment's dependencies.
    dependencies: tuple[str, ...] | None = None
    #: local wheel files (relative to the project file) uploaded beside the source: a ``whl``
    #: library on classic compute, a dependency on serverless.
    wheels: tuple[str, ...] | None = None
    notifications: tuple[Notification, ...] | None = None
    tags: Mapping[str, str] | None = None
    permissions: tuple[Permission, ...] | None = None
    run_as: RunAs | None = None


#: keys whose tables are merged key by key when an environment sets them.
MERGED_KEYS = ("configuration", "tags")


@attrs.frozen
class DeploySettings(DeployTarget):
    #: environment name -> the keys that differ there.
    env: Mapping[str, DeployTarget] = attrs.field(factory=dict)


def for_env(settings: DeploySettings | None, env: str) -> DeployTarget:
    """The settings of ``env``: the base with the environment's keys laid over it."""
    if settings is None:
        return DeployTarget()
    base = {a.name: getattr(settings, a.name) for a in attrs.fields(DeployTarget)}
    override = settings.env.get(env)
    if override is not None:
        for key, value in attrs.asdict(override, recurse=False).items():
            if value is None:
                continue
            if key in MERGED_KEYS and base[key] is not None:
                value = {**base[key], **value}
            base[key] = value
    return DeployTarget(**base)


def problems(target: DeployTarget, where: str) -> list[str]:
    """Settings the API would refuse, or that contradict each other; ``where`` is the key path."""
    found = []
    if target.schema and target.target:
        found.append(f"{where}: schema and target both set; target is the deprecated form of schema, keep one")
    if target.serverless and target.clusters:
        found.append(f"{where}: serverless = true with clusters; serverless pipelines take no clusters")
    if target.serverless and target.photon is not None:
        found.append(f"{where}.photon: serverless pipelines always use Photon; remove photon")
    if not target.serverless and target.dependencies:
        found.append(f"{where}.dependencies: only serverless pipelines take an environment's dependencies; "
                     "on classic compute give wheels")
    for index, library in enumerate(target.libraries or ()):
        kinds = [a.name for a in attrs.fields(Library) if getattr(library, a.name) is not None]
        if len(kinds) != 1:
            found.append(f"{where}.libraries[{index}]: expected exactly one of "
                         f"{', '.join(a.name for a in attrs.fields(Library))}; got {', '.join(kinds) or 'none'}")
    libraries = target.libraries or ()
    if any(lib.glob for lib in libraries) and any(lib.file or lib.notebook for lib in libraries):
        found.append(f"{where}.libraries: glob libraries with file or notebook libraries; use one form")
    for index, cluster in enumerate(target.clusters or ()):
        if cluster.num_workers is not None and cluster.autoscale is not None:
            found.append(f"{where}.clusters[{index}]: num_workers and autoscale both set; keep one")
        if cluster.autoscale is not None and cluster.autoscale.min_workers > cluster.autoscale.max_workers:
            found.append(f"{where}.clusters[{index}].autoscale: min_workers is above max_workers")
    for index, entry in enumerate(target.permissions or ()):
        principals = [p for p in ("user_name", "group_name", "service_principal_name") if getattr(entry, p)]
        if len(principals) != 1:
            found.append(f"{where}.permissions[{index}]: expected exactly one of user_name, group_name, "
                         f"service_principal_name")
    if target.run_as is not None and bool(target.run_as.user_name) == bool(target.run_as.service_principal_name):
        found.append(f"{where}.run_as: expected exactly one of user_name, service_principal_name")
    return found


def check(spec: Any, where: str) -> list[str]:
    """Problems of the base settings and of every environment's, found when the project loads."""
    settings = spec.options.deploy
    if settings is None:
        return []
    base = f"{where}.deploy"
    found = problems(for_env(settings, ""), base)
    for env in settings.env:
        at = f"{base}.env.{env}"  # a base problem is reported once, not again for every environment
        found += [p for p in problems(for_env(settings, env), at) if base + p[len(at):] not in found]
    return found
