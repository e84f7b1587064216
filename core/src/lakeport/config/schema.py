"""The :class:`~lakeport.config.loader.ConfigSchema` of the installed plugins.

Tables, pipelines and ``[plugins.<name>]`` sections are each structured by the
class their plugin registered, with the project's one converter, so a plugin's
keys get the same precise errors as core's.
"""

from __future__ import annotations

from typing import Any, Collection, Mapping

import attrs

from lakeport.config.converter import structure
from lakeport.config.model import COMMON_TABLE_KEYS, PipelineSpec, TableSpec
from lakeport.errors import ConfigError
from lakeport.first_party import install_hint, plugin_named, providing_pipeline_key
from lakeport.kinds import HandleKindRegistry, PipelineKindRegistry
from lakeport.plugin_settings import SettingsRegistry

DEFAULT_PIPELINE_KIND = "etl"


class PluginSchema:
    """Structures a project file's plugin-owned parts; raises ConfigError naming the key path."""

    def __init__(
        self,
        *,
        source: str,
        handle_kinds: HandleKindRegistry,
        pipeline_kinds: PipelineKindRegistry,
        settings: SettingsRegistry,
        expectation_actions: Collection[str],
        plugins: Collection[str],
        disabled: Collection[str] = (),
    ) -> None:
        self.source = source
        self.handle_kinds = handle_kinds
        self.pipeline_kinds = pipeline_kinds
        self.settings = settings
        self.expectation_actions = tuple(expectation_actions)
        self.plugins = set(plugins)
        self.disabled = set(disabled)

    # -- tables -----------------------------------------------------------------------
    def table_options(self, table: str, spec: TableSpec) -> Any:
        where = f"tables.{table}"
        self._check_actions(where, spec)
        kind = self.handle_kinds.get(spec.kind)
        if kind is None:
            raise ConfigError(f"{where}.kind: {self.handle_kinds.unknown_kind_message(spec.kind, self.disabled)}")
        own_class = kind.options
        own_keys = [a.name for a in attrs.fields(own_class)] if own_class is not None else []
        unknown = sorted(set(spec.options or {}) - set(own_keys))
        if unknown:
            common = f"{', '.join(COMMON_TABLE_KEYS)} (every table's)"
            valid = f"{', '.join(own_keys)} (kind {spec.kind!r}) and {common}" if own_keys else f"{common}; kind {spec.kind!r} has no keys of its own"
            raise ConfigError([
                f"{where}: unknown key(s) {key}{_did_you_mean(key, [*own_keys, *COMMON_TABLE_KEYS])}; valid keys: {valid}"
                for key in unknown
            ])
        if own_class is None:
            return None
        return structure(spec.options or {}, own_class, source=self.source, path=where)

    def _check_actions(self, where: str, spec: TableSpec) -> None:
        valid = self.expectation_actions
        problems = []
        if spec.expectation_action not in valid:
            problems.append(f"{where}.expectation_action: expected one of {', '.join(valid)}; got {spec.expectation_action!r}")
        for index, rule in enumerate(spec.expectations):
            if rule.action is not None and rule.action not in valid:
                problems.append(f"{where}.expectations[{index}].action: expected one of {', '.join(valid)}; got {rule.action!r}")
        if problems:
            raise ConfigError(problems)

    # -- pipelines --------------------------------------------------------------------
    def pipeline(self, name: str, keys: dict[str, Any]) -> PipelineSpec:
        where = f"pipelines.{name}"
        kind_name = keys.pop("kind", DEFAULT_PIPELINE_KIND)
        if not isinstance(kind_name, str):
            raise ConfigError(f"{where}.kind: expected a string, got {type(kind_name).__name__} {kind_name!r}")
        kind = self.pipeline_kinds.get(kind_name)
        if kind is None:
            raise ConfigError(f"{where}.kind: {self.pipeline_kinds.unknown_kind_message(kind_name, self.disabled)}")
        extension_classes = self.settings.pipeline_keys_for(kind_name)
        own_class = kind.options
        own_keys = {a.name for a in attrs.fields(own_class)} if own_class is not None else set()
        claimed = {plugin: {a.name for a in attrs.fields(cls)} for plugin, cls in extension_classes.items()}
        valid = sorted(own_keys.union(*claimed.values()))
        unknown = sorted(set(keys) - set(valid))
        if unknown:
            raise ConfigError([self._unknown_pipeline_key(where, key, kind_name, valid) for key in unknown])

        problems: list[str] = []
        extensions = {}
        for plugin, cls in extension_classes.items():
            mine = {k: keys.pop(k) for k in list(keys) if k in claimed[plugin]}
            if mine:
                try:
                    extensions[plugin] = structure(mine, cls, source=self.source, path=where)
                except ConfigError as exc:
                    problems.extend(exc.problems)
        options = None
        try:
            options = structure(keys, own_class, source=self.source, path=where) if own_class is not None else None
        except ConfigError as exc:
            problems.extend(exc.problems)
        if problems:
            raise ConfigError(problems)
        return PipelineSpec(name=name, kind=kind_name, options=options, extensions=extensions)

    def _unknown_pipeline_key(self, where: str, key: str, kind: str, valid: list[str]) -> str:
        provider = providing_pipeline_key(key) if kind == DEFAULT_PIPELINE_KIND else None
        if provider is not None:
            state = "disabled" if provider.plugin in self.disabled else "not installed"
            return f"{where}.{key}: this key belongs to {install_hint(provider)}, which is {state}"
        return f"{where}: unknown key {key!r} for pipeline kind {kind!r}{_did_you_mean(key, valid)}; valid keys: kind, {', '.join(valid)}"

    def check_pipeline(self, spec: PipelineSpec, tables: Mapping[str, Any]) -> list[str]:
        kind = self.pipeline_kinds.get(spec.kind)
        check = kind.check if kind is not None else None
        return list(check(spec, tables, f"pipelines.{spec.name}")) if check is not None else []

    # -- [plugins.<name>] ----------------------------------------------------------------
    def plugin_settings(self, sections: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        problems: list[str] = []
        structured: dict[str, Any] = {}
        for plugin, section in sections.items():
            where = f"plugins.{plugin}"
            if plugin not in self.plugins:
                problems.append(f"{where}: {self._missing_plugin(plugin)}")
                continue
            declared = self.settings.by_plugin.get(plugin)
            cls = declared.section_class() if declared is not None else None
            if cls is None:
                if section:
                    problems.append(f"{where}: plugin {plugin!r} takes no settings; unknown key(s) {', '.join(sorted(section))}")
                continue
            try:
                structured[plugin] = structure(section, cls, source=self.source, path=where)
            except ConfigError as exc:
                problems.extend(exc.problems)
        if problems:
            raise ConfigError(problems)
        for plugin, declared in self.settings.by_plugin.items():
            cls = declared.section_class()
            if plugin not in structured and cls is not None:
                structured[plugin] = structure({}, cls, source=self.source, path=f"plugins.{plugin}")
        return structured

    def _missing_plugin(self, plugin: str) -> str:
        first_party = plugin_named(plugin)
        if plugin in self.disabled:
            return f"plugin {plugin!r} is disabled (remove it from [lakeport] disable or LAKEPORT_DISABLE_PLUGINS)"
        installed = ", ".join(sorted(self.plugins)) or "none"
        if first_party is not None:
            return f"{install_hint(first_party)} is not installed (installed plugins: {installed})"
        return f"no plugin named {plugin!r} is installed (installed plugins: {installed})"


def _did_you_mean(key: str, valid: Collection[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.7)
    return f" (did you mean {close[0]!r}?)" if close else ""
