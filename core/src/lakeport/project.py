"""A Project: a loaded config, its plugins and a session factory. No singletons."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, TypeVar

import attrs

from lakeport.config import PipelineSpec, ProjectConfig, TableSpec, parse_config, read_toml
from lakeport.errors import ConfigError
from lakeport.plugins import Hooks

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lakeport.config.schema import PluginSchema
    from lakeport.handles.base import Handle

log = logging.getLogger(__name__)

S = TypeVar("S")

DEFAULT_FILE = "lakeport.toml"


class Project:
    """Tables, pipelines and plugins of one project file in one environment."""

    def __init__(self, config: ProjectConfig, hooks: Hooks, *, root: Path | None = None) -> None:
        self.config = config
        self.hooks = hooks
        self.root = root or Path.cwd()
        self._spark: SparkSession | None = None
        self._warehouse: str | None = None
        #: tables declared in code with :meth:`add_table`.
        self._added_tables: dict[str, TableSpec] = {}

    # -- construction ---------------------------------------------------------------
    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str] = DEFAULT_FILE, env: str | None = None, *, disable: Iterable[str] = (),
        plugins: Iterable[object] = (),
    ) -> Project:
        path = Path(path)
        return cls.from_dict(
            read_toml(path), source=str(path), env=env, root=path.resolve().parent, disable=disable, plugins=plugins
        )

    @classmethod
    def from_toml(
        cls, text: str, *, source: str = "<string>", env: str | None = None, root: Path | None = None,
        disable: Iterable[str] = (), plugins: Iterable[object] = (), hooks: Hooks | None = None,
    ) -> Project:
        from lakeport.config.loader import tomllib

        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"invalid TOML: {exc}", source=source) from None
        return cls.from_dict(raw, source=source, env=env, root=root, disable=disable, plugins=plugins, hooks=hooks)

    @classmethod
    def from_dict(
        cls, raw: dict[str, Any], *, source: str, env: str | None = None, root: Path | None = None,
        disable: Iterable[str] = (), plugins: Iterable[object] = (), hooks: Hooks | None = None,
    ) -> Project:
        """``plugins``: extra plugin objects for this project only (tests, notebooks);
        ``hooks``: an already loaded plugin set instead of the installed one."""
        root = root or Path.cwd()
        raw = _with_builtin_vars(raw, root)
        if hooks is None:
            settings = raw.get("lakeport", {})
            configured = settings.get("disable", []) if isinstance(settings, dict) else []
            configured = [n for n in configured if isinstance(n, str)] if isinstance(configured, list) else []
            hooks = Hooks.load(disable=(*configured, *disable), plugins=plugins)
        config = parse_config(raw, source=source, env=env, schema=_schema(hooks, source))
        return cls(config, hooks, root=root)

    # -- configuration lookups (spetlr's Configurator) --------------------------------
    @property
    def source(self) -> str:
        return self.config.source

    def table(self, name: str) -> TableSpec:
        spec = self.config.tables.get(name) or self._added_tables.get(name)
        if spec is None:
            known = ", ".join(sorted({*self.config.tables, *self._added_tables})) or "none"
            raise ConfigError(f"unknown table {name!r} (tables: {known})", source=self.source)
        return spec

    def add_table(self, name: str, keys: dict[str, Any]) -> TableSpec:
        """Declare table ``name`` in code, as ``[tables.<name>]`` with ``keys`` would, checked the same way.

        For plugins that create tables of their own (a declarative pipeline's
        datasets); ``project.handle(name)`` then builds it like any table.
        """
        from lakeport.config.loader import table_spec

        if name in self.config.tables:  # declared again in code (a rerun), it is replaced
            raise ConfigError(f"tables.{name}: already declared in the project file", source=self.source)
        try:
            spec = table_spec(name, keys, self.source)
            spec = attrs.evolve(spec, options=_schema(self.hooks, self.source).table_options(name, spec))
        except ConfigError as exc:
            raise ConfigError(exc.problems, source=self.source) from None
        self._added_tables[name] = spec
        return spec

    def table_options(self, name: str) -> Any:
        """The kind's own options of table ``name``, structured by its plugin."""
        return self.table(name).options

    def get(self, table: str, prop: str = "name") -> Any:
        """A resolved property of a table, e.g. ``project.get("MyTblMirror", "checkpoint_path")``."""
        spec = self.table(table)
        if spec.options is not None and attrs.has(type(spec.options)) and prop in attrs.fields_dict(type(spec.options)):
            value = getattr(spec.options, prop)
            if value is not None:
                return value
        if prop in attrs.fields_dict(TableSpec) and prop != "options":
            value = getattr(spec, prop)
            if value is not None:
                return value
        raise ConfigError(f"tables.{table}: has no property {prop!r}", source=self.source)

    def plugin_settings(self, cls: type[S]) -> S:
        """The ``[plugins.<name>]`` section a plugin declared with ``cls`` (its defaults if absent)."""
        for value in self.config.plugin_settings.values():
            if isinstance(value, cls):
                return value
        raise ConfigError(
            f"no plugin declared settings class {cls.__qualname__} (register it in lakeport_register_settings)",
            source=self.source,
        )

    def pipeline_spec(self, name: str) -> PipelineSpec:
        try:
            return self.config.pipelines[name]
        except KeyError:
            known = ", ".join(sorted(self.config.pipelines)) or "none"
            raise ConfigError(f"unknown pipeline {name!r} (pipelines: {known})", source=self.source) from None

    @property
    def warehouse(self) -> str:
        """Where ``db.table`` names live for backends without a metastore."""
        return self._warehouse or self.config.settings.warehouse or str(self.root / "spark-warehouse")

    def use_warehouse(self, path: str | os.PathLike[str]) -> Project:
        """Put the warehouse at ``path`` instead of the file's (a command's ``--warehouse``)."""
        self._warehouse = str(path)
        return self

    # -- runtime --------------------------------------------------------------------
    def spark(self) -> SparkSession:
        if self._spark is None:
            from lakeport.session import get_or_create_session

            conf = {"spark.sql.warehouse.dir": self.warehouse, **self.hooks.spark_conf(self)}
            conf.update(self.config.settings.spark_conf)
            self._spark = get_or_create_session(conf, explain_failure=self.hooks.explain_session_failure)
        return self._spark

    def use_spark(self, spark: SparkSession) -> Project:
        """Use an existing session (tests, notebooks)."""
        self._spark = spark
        return self

    def handle(self, name: str) -> Handle:
        spec = self.table(name)
        kind = self.hooks.handle_kinds.get(spec.kind)
        if kind is None:
            raise ConfigError(f"tables.{name}.kind: {self.hooks.handle_kinds.unknown_kind_message(spec.kind)}", source=self.source)
        return kind.factory(self, name)

    def pipeline(self, name: str) -> Any:
        """Build pipeline ``name`` with its kind's plugin: an object with ``execute()`` and ``result()``.

        For the built-in kind ``etl`` that is an :class:`~lakeport.etl.Orchestrator`.
        """
        spec = self.pipeline_spec(name)
        kind = self.hooks.pipeline_kinds.get(spec.kind)
        if kind is None:  # the plugin was there when the file loaded; only a swapped Hooks gets here
            message = self.hooks.pipeline_kinds.unknown_kind_message(spec.kind, self.hooks.disabled())
            raise ConfigError(f"pipelines.{name}.kind: {message}", source=self.source)
        return kind.build(self, spec)


def _schema(hooks: Hooks, source: str) -> PluginSchema:
    from lakeport.config.schema import PluginSchema
    from lakeport.expectations.values import BUILTIN_ACTIONS

    return PluginSchema(
        source=source,
        handle_kinds=hooks.handle_kinds,
        pipeline_kinds=hooks.pipeline_kinds,
        settings=hooks.settings,
        expectation_actions=(*BUILTIN_ACTIONS, *hooks.expectation_actions()),
        plugins=hooks.plugin_names(),
        disabled=hooks.disabled(),
    )


def load(path: str | os.PathLike[str] = DEFAULT_FILE, env: str | None = None) -> Project:
    """Load a project file; ``env`` defaults to ``LAKEPORT_ENV``, then ``default_env``."""
    return Project.from_file(path, env=env)


def _with_builtin_vars(raw: dict[str, Any], root: Path) -> dict[str, Any]:
    """Every environment gets ``project_dir`` unless it defines its own."""
    envs = raw.get("env", {})
    if not isinstance(envs, dict):
        return raw  # parse_config reports it
    if not envs:
        envs = {"default": {"vars": {}}}
    patched = {}
    for name, env in envs.items():
        if isinstance(env, dict) and isinstance(env.get("vars", {}), dict):
            env = {**env, "vars": {"project_dir": str(root), **env.get("vars", {})}}
        patched[name] = env
    return {**raw, "env": patched}
