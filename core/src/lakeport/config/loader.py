"""Read a project file: TOML -> environment -> templates -> frozen attrs classes."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Mapping, Protocol

import attrs

from lakeport.config.converter import structure
from lakeport.config.model import COMMON_TABLE_KEYS, LakeportSettings, PipelineSpec, ProjectConfig, TableSpec
from lakeport.config.templating import Resolver
from lakeport.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 by the nox matrix
    import tomli as tomllib

TOP_LEVEL_KEYS = ("lakeport", "env", "tables", "pipelines", "plugins")
ENV_VAR = "LAKEPORT_ENV"


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse a TOML file; a syntax error names the file, line and column."""
    source = str(path)
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"project file not found (cwd: {os.getcwd()})", source=source) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", source=source) from None


class ConfigSchema(Protocol):
    """What the installed plugins make of the parts of a project file they own.

    Each method raises ConfigError naming the key path; parse_config reports
    them with every other problem.
    """

    def table_options(self, table: str, spec: TableSpec) -> Any:
        """A table's own (kind) keys, given raw in ``spec.options`` -> the kind's class."""

    def pipeline(self, name: str, keys: dict[str, Any]) -> PipelineSpec:
        """A resolved ``[pipelines.<name>]`` entry -> its kind's spec."""

    def check_pipeline(self, spec: PipelineSpec, tables: Mapping[str, Any]) -> list[str]:
        """Problems of an entry that need the other entries (e.g. unknown tables)."""

    def plugin_settings(self, sections: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        """Resolved ``[plugins.<name>]`` sections -> plugin name -> its settings instance."""


def parse_config(
    raw: Mapping[str, Any],
    *,
    source: str,
    schema: ConfigSchema,
    env: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> ProjectConfig:
    """Resolve and validate a project file; the parts plugins own go through ``schema``."""
    environ = os.environ if environ is None else environ
    problems: list[str] = []
    unknown = sorted(set(raw) - set(TOP_LEVEL_KEYS))
    if unknown:
        problems.append(f"unknown top-level section(s) {', '.join(unknown)}; valid: {', '.join(TOP_LEVEL_KEYS)}")

    raw_settings = raw.get("lakeport", {})
    if isinstance(raw_settings, dict) and "backend" in raw_settings:
        raise ConfigError(
            "lakeport.backend: the Delta backend is the Delta plugin's setting now; "
            f"write it as [plugins.delta] backend = {raw_settings['backend']!r}",
            source=source,
        )
    settings = structure(raw_settings, LakeportSettings, source=source, path="lakeport")
    env_name, variables = _select_env(raw.get("env", {}), env or environ.get(ENV_VAR) or settings.default_env, source)

    raw_tables = _sections(raw, "tables", source)
    raw_pipelines = _sections(raw, "pipelines", source)
    resolver = Resolver(source=source, variables=variables, tables=raw_tables, environ=environ, env_name=env_name)

    resolved_vars = {}
    for name in variables:
        resolved_vars[name] = _collect(problems, lambda n=name: resolver.var(n, f"env.{env_name}.vars.{n}"))

    if settings.warehouse:
        warehouse = _collect(problems, lambda: resolver.expand(settings.warehouse, "lakeport.warehouse"))
        if warehouse is not None:
            settings = attrs.evolve(settings, warehouse=warehouse)

    tables: dict[str, TableSpec] = {}
    for table_name, table_raw in raw_tables.items():
        spec = _collect(problems, lambda t=table_name, r=table_raw: _table(resolver, t, r, source))
        if spec is not None:
            options = _collect(problems, lambda t=table_name, s=spec: schema.table_options(t, s))
            spec = None if options is None and spec.options else attrs.evolve(spec, options=options)
        if spec is not None:
            tables[table_name] = spec

    pipelines: dict[str, PipelineSpec] = {}
    for pipeline_name, pipeline_raw in raw_pipelines.items():
        where = f"pipelines.{pipeline_name}"
        pipeline = _collect(
            problems, lambda n=pipeline_name, r=pipeline_raw, w=where: schema.pipeline(n, resolver.expand(r, w))
        )
        if pipeline is not None:
            problems.extend(schema.check_pipeline(pipeline, raw_tables))
            pipelines[pipeline_name] = pipeline

    sections = {}
    for plugin_name, section in _sections(raw, "plugins", source).items():
        sections[plugin_name] = _collect(problems, lambda p=plugin_name, s=section: resolver.expand(s, f"plugins.{p}"))
    plugin_settings = _collect(problems, lambda: schema.plugin_settings(sections)) or {}

    if problems:
        raise ConfigError(problems, source=source)
    return ProjectConfig(
        source=source,
        env=env_name,
        settings=settings,
        vars=resolved_vars,
        tables=tables,
        pipelines=pipelines,
        plugin_settings=plugin_settings,
    )


def _collect(problems: list[str], build: Any) -> Any:
    try:
        return build()
    except ConfigError as exc:
        problems.extend(exc.problems)
        return None


def _sections(raw: Mapping[str, Any], key: str, source: str) -> dict[str, dict[str, Any]]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: expected a table of named entries ([{key}.<name>])", source=source)
    bad = [name for name, entry in value.items() if not isinstance(entry, dict)]
    if bad:
        raise ConfigError(
            [f"{key}.{name}: expected a table ([{key}.{name}]), got {type(value[name]).__name__}" for name in bad],
            source=source,
        )
    return value


def _select_env(envs: Any, wanted: str | None, source: str) -> tuple[str | None, dict[str, Any]]:
    if not isinstance(envs, dict):
        raise ConfigError("env: expected tables like [env.dev.vars]", source=source)
    for env_name, env_raw in envs.items():
        if not isinstance(env_raw, dict) or set(env_raw) - {"vars"}:
            extra = ", ".join(sorted(set(env_raw) - {"vars"})) if isinstance(env_raw, dict) else type(env_raw).__name__
            raise ConfigError(f"env.{env_name}: unknown key(s) {extra}; valid keys: vars", source=source)
        if not isinstance(env_raw.get("vars", {}), dict):
            raise ConfigError(f"env.{env_name}.vars: expected a table of name = value", source=source)
    if wanted is None:
        if len(envs) == 1:
            wanted = next(iter(envs))
        else:
            return None, {}
    if wanted not in envs:
        defined = ", ".join(sorted(envs)) or "none"
        raise ConfigError(f"env {wanted!r} is not defined (defined: {defined})", source=source)
    return wanted, dict(envs[wanted].get("vars", {}))


def _table(resolver: Resolver, table_name: str, table_raw: dict[str, Any], source: str) -> TableSpec:
    return table_spec(table_name, resolver.expand(table_raw, f"tables.{table_name}"), source)


def table_spec(table_name: str, resolved: Mapping[str, Any], source: str) -> TableSpec:
    """A table's resolved keys -> its spec; the kind's own keys stay raw in ``options``."""
    where = f"tables.{table_name}"
    if "kind" not in resolved:
        raise ConfigError(f"{where}.kind: required key is missing (e.g. kind = \"delta\")", source=source)
    common = {k: v for k, v in resolved.items() if k in COMMON_TABLE_KEYS}
    options = {k: v for k, v in resolved.items() if k not in COMMON_TABLE_KEYS}
    spec = structure(common, TableSpec, source=source, path=where)
    return attrs.evolve(spec, options=options)


def find_project_file(start: str | os.PathLike[str] | None = None, filename: str = "lakeport.toml") -> Path:
    """``lakeport.toml`` in ``start`` or its parents, like git finds ``.git``."""
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / filename
        if candidate.is_file():
            return candidate
    raise ConfigError(f"no {filename} in {here} or its parents; create one with `lakeport init`")
