"""Plugin discovery: built-ins and entry points of group ``lakeport``.

Built-in features are plugins exactly like third-party ones. Nothing here
imports pyspark, deltalake or databricks-sdk: loading plugins must stay fast.
"""

from __future__ import annotations

import importlib
import logging
import os
import types
from typing import TYPE_CHECKING, Any, Iterable, Mapping, NamedTuple

import pluggy

from lakeport import hookspecs
from lakeport.errors import PluginError
from lakeport.markers import PROJECT_NAME

if TYPE_CHECKING:
    from lakeport.context import ReadContext, WriteContext, WriteResult
    from lakeport.kinds import HandleKindRegistry, PipelineKindRegistry
    from lakeport.plugin_settings import SettingsRegistry

log = logging.getLogger(__name__)

DISABLE_ENV_VAR = "LAKEPORT_DISABLE_PLUGINS"

#: Spark settings that are comma-separated lists: plugins' values are joined, not replaced.
LIST_SETTINGS = frozenset({"spark.jars", "spark.jars.packages", "spark.jars.repositories", "spark.sql.extensions"})

#: name -> module of the plugins that ship with the core distribution.
DEFAULT_PLUGINS: Mapping[str, str] = {
    "etl": "lakeport.builtin.etl",
    "files": "lakeport.builtin.files",
    "expectations": "lakeport.builtin.expectations",
}


def disabled_from_env(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Plugin names listed in ``LAKEPORT_DISABLE_PLUGINS`` (comma separated)."""
    raw = (environ if environ is not None else os.environ).get(DISABLE_ENV_VAR, "")
    return tuple(name.strip() for name in raw.split(",") if name.strip())


class LakeportPluginManager(pluggy.PluginManager):
    """pluggy's manager plus the distribution each entry-point plugin came from."""

    def __init__(self) -> None:
        super().__init__(PROJECT_NAME)
        #: plugin name -> (distribution, version), for ``lakeport plugins``.
        self.distributions: dict[str, tuple[str, str]] = {}


def get_plugin_manager(
    disable: Iterable[str] = (), *, entry_points: bool = True, plugins: Iterable[object] = ()
) -> LakeportPluginManager:
    """Build a fresh plugin manager: specs, blocked names, entry points, built-ins.

    ``disable`` adds to the names in ``LAKEPORT_DISABLE_PLUGINS``; ``plugins``
    are extra plugin objects (tests, notebooks) registered last.
    """
    from lakeport.entrypoints import entry_points as find_entry_points

    pm = LakeportPluginManager()
    pm.add_hookspecs(hookspecs)
    blocked = {*disable, *disabled_from_env()}
    for name in blocked:
        pm.set_blocked(name)
    found = find_entry_points(PROJECT_NAME) if entry_points else []
    for entry_point in found:
        _register_entry_point(pm, entry_point)
    for name, module_name in DEFAULT_PLUGINS.items():
        if not pm.is_blocked(name) and pm.get_plugin(name) is None:
            pm.register(importlib.import_module(module_name), name=name)
    for plugin in plugins:
        pm.register(plugin)
    pm.check_pending()
    known = {n for n, p in pm.list_name_plugin() if p is not None} | set(DEFAULT_PLUGINS) | {ep.name for ep in found}
    for name in sorted(blocked - known):
        log.warning("cannot disable plugin %r: no such plugin is installed", name)
    return pm


def _register_entry_point(pm: LakeportPluginManager, entry_point: Any) -> None:
    """Import and register one plugin; errors name it, its distribution and how to switch it off."""
    name = entry_point.name
    if pm.is_blocked(name) or pm.get_plugin(name) is not None:
        return
    where = f"plugin {name!r} ({entry_point.value}, from distribution {entry_point.distribution})"
    try:
        plugin = entry_point.load()
    except Exception as exc:  # noqa: BLE001 - any import error of a third-party plugin, reported by name
        raise PluginError(
            f"{where} failed to load: {type(exc).__name__}: {exc}. Disable it with {DISABLE_ENV_VAR}={name}"
        ) from exc
    try:
        pm.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin {name!r} is invalid: {exc}") from exc
    pm.distributions[name] = (entry_point.distribution, entry_point.version)


class PluginInfo(NamedTuple):
    """What ``lakeport plugins`` shows about one plugin."""

    name: str
    distribution: str
    version: str
    kinds: tuple[str, ...]
    backends: Mapping[str, str]
    pipeline_kinds: tuple[str, ...] = ()


class Hooks:
    """Typed calls into the plugin manager; nothing else touches ``pm.hook``."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self._kinds: HandleKindRegistry | None = None
        self._pipeline_kinds: PipelineKindRegistry | None = None
        self._settings: SettingsRegistry | None = None

    @classmethod
    def load(cls, disable: Iterable[str] = (), plugins: Iterable[object] = ()) -> Hooks:
        return cls(get_plugin_manager(disable, plugins=plugins))

    def plugin_packages(self) -> tuple[str, ...]:
        """Top-level packages of the registered plugins: their loggers are what the CLI shows."""
        packages = set()
        for _name, plugin in self.pm.list_name_plugin():
            module = plugin.__name__ if isinstance(plugin, types.ModuleType) else getattr(plugin, "__module__", None)
            if isinstance(module, str) and module != "builtins":
                packages.add(module.partition(".")[0])
        return tuple(sorted(packages))

    @property
    def handle_kinds(self) -> HandleKindRegistry:
        if self._kinds is None:
            from lakeport.kinds import HandleKindRegistry

            registry = HandleKindRegistry()
            for impl in self.pm.hook.lakeport_register_handle_kinds.get_hookimpls():
                impl.function(register=registry.registrar_for(impl.plugin_name))
            self._kinds = registry
        return self._kinds

    @property
    def pipeline_kinds(self) -> PipelineKindRegistry:
        if self._pipeline_kinds is None:
            from lakeport.kinds import PipelineKindRegistry

            registry = PipelineKindRegistry()
            for impl in self.pm.hook.lakeport_register_pipeline_kinds.get_hookimpls():
                impl.function(register=registry.registrar_for(impl.plugin_name))
            self._pipeline_kinds = registry
        return self._pipeline_kinds

    @property
    def settings(self) -> SettingsRegistry:
        if self._settings is None:
            from lakeport.plugin_settings import SettingsRegistry

            registry = SettingsRegistry()
            for impl in self.pm.hook.lakeport_register_settings.get_hookimpls():
                impl.function(register=registry.registrar_for(impl.plugin_name))
            self._settings = registry
        return self._settings

    def plugin_names(self) -> tuple[str, ...]:
        return tuple(sorted(name for name, plugin in self.pm.list_name_plugin() if plugin is not None))

    def disabled(self) -> tuple[str, ...]:
        """Names blocked by ``disable`` or ``LAKEPORT_DISABLE_PLUGINS``."""
        return tuple(sorted(name for name, plugin in self.pm.list_name_plugin() if plugin is None))

    def spark_conf(self, project: Any) -> dict[str, str]:
        """Every plugin's settings; later plugins win key by key, but list settings (jars,
        packages, extensions) are joined, so two plugins can each add a jar."""
        conf: dict[str, str] = {}
        for contributed in reversed(self.pm.hook.lakeport_spark_conf(project=project)):
            for key, value in (contributed or {}).items():
                key, value = str(key), str(value)
                if key in LIST_SETTINGS and conf.get(key):
                    items = [*conf[key].split(","), *value.split(",")]
                    value = ",".join(dict.fromkeys(item.strip() for item in items if item.strip()))
                conf[key] = value
        return conf

    def explain_session_failure(self, error: BaseException, conf: Mapping[str, str]) -> str | None:
        return self.pm.hook.lakeport_explain_session_failure(error=error, conf=conf)

    def after_read(self, read: ReadContext) -> None:
        self.pm.hook.lakeport_after_read(read=read)

    def before_write(self, write: WriteContext) -> None:
        self.pm.hook.lakeport_before_write(write=write)

    def after_write(self, write: WriteContext, result: WriteResult) -> None:
        self.pm.hook.lakeport_after_write(write=write, result=result)

    def expectation_actions(self) -> dict[str, Any]:
        actions: dict[str, Any] = {}

        def register(name: str, handler: Any) -> None:
            if name in actions:
                raise PluginError(f"expectation action {name!r} is registered twice")
            actions[name] = handler

        self.pm.hook.lakeport_register_expectation_actions(register=register)
        return actions

    def expectation_results(self, results: Any) -> None:
        self.pm.hook.lakeport_expectation_results(results=results)

    def register_commands(self, cli: Any) -> None:
        self.pm.hook.lakeport_register_commands(cli=cli)

    def make_stream_loader(self, project: Any, pipeline: Any, loader: Any) -> Any:
        return self.pm.hook.lakeport_make_stream_loader(project=project, pipeline=pipeline, loader=loader)

    def describe(self, project: Any = None) -> list[PluginInfo]:
        """Name, distribution, version and kinds of every registered plugin."""
        from lakeport.entrypoints import find_distribution

        dists = getattr(self.pm, "distributions", {})
        kinds = self.handle_kinds
        infos = []
        core: tuple[str, str] | None = None
        for name, plugin in sorted(self.pm.list_name_plugin(), key=lambda np: np[0]):
            if plugin is None:  # blocked
                continue
            if name in dists:
                dist_name, dist_version = dists[name]
            else:
                if core is None:
                    found = find_distribution(PROJECT_NAME)
                    core = (PROJECT_NAME, found.version if found is not None else "unknown")
                dist_name, dist_version = core
            own = kinds.provided_by(name)
            infos.append(
                PluginInfo(
                    name=name,
                    distribution=dist_name,
                    version=dist_version,
                    kinds=tuple(k.name for k in own),
                    backends={k.name: k.describe_backend(project) for k in own if k.describe_backend},
                    pipeline_kinds=tuple(k.name for k in self.pipeline_kinds.provided_by(name)),
                )
            )
        return infos
