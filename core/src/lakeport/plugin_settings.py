"""The settings classes plugins declare: their ``[plugins.<name>]`` section and extra pipeline keys.

Filled through the ``register`` callable of ``lakeport_register_settings``;
classes may be given by import reference so loading plugins stays cheap.
"""

from __future__ import annotations

import attrs

from lakeport.errors import PluginError
from lakeport.kinds import Reference, resolve_settings_class


@attrs.define
class PluginSettings:
    """What one plugin declared."""

    plugin: str
    section: Reference = None
    pipeline_keys: Reference = None
    #: the pipeline kind whose entries take ``pipeline_keys``.
    pipeline_kind: str = "etl"

    def section_class(self) -> type | None:
        return resolve_settings_class(self.section, what=f"plugin {self.plugin!r} settings")

    def pipeline_keys_class(self) -> type | None:
        return resolve_settings_class(self.pipeline_keys, what=f"plugin {self.plugin!r} pipeline keys", reserved=("kind",))


class SettingsRegistry:
    """plugin name -> its declared settings; a pipeline key claimed twice is an error."""

    def __init__(self) -> None:
        self.by_plugin: dict[str, PluginSettings] = {}

    def registrar_for(self, plugin: str) -> SettingsRegistrar:
        return SettingsRegistrar(self, plugin)

    def add(self, declared: PluginSettings) -> None:
        if declared.plugin in self.by_plugin:
            raise PluginError(f"plugin {declared.plugin!r} registered its settings twice")
        self.by_plugin[declared.plugin] = declared

    def pipeline_keys_for(self, kind: str) -> dict[str, type]:
        """plugin -> its pipeline-keys class, for entries of ``kind``; checks no key is claimed twice."""
        classes: dict[str, type] = {}
        owner: dict[str, str] = {}
        for plugin, declared in self.by_plugin.items():
            cls = declared.pipeline_keys_class() if declared.pipeline_kind == kind else None
            if cls is None:
                continue
            for key in (a.name for a in attrs.fields(cls)):
                if key in owner:
                    raise PluginError(
                        f"pipeline key {key!r} of kind {kind!r} is declared by both plugin {owner[key]!r} "
                        f"and plugin {plugin!r}; disable one of them"
                    )
                owner[key] = plugin
            classes[plugin] = cls
        return classes


class SettingsRegistrar:
    """The ``register`` callable handed to ``lakeport_register_settings``."""

    def __init__(self, registry: SettingsRegistry, plugin: str) -> None:
        self.registry = registry
        self.plugin = plugin

    def __call__(self, section: Reference = None, *, pipeline_keys: Reference = None, pipeline_kind: str = "etl") -> None:
        """``section``: attrs class of ``[plugins.<this plugin>]``; ``pipeline_keys``: attrs class of
        the keys this plugin adds to ``[pipelines.<name>]`` entries of ``pipeline_kind``."""
        self.registry.add(PluginSettings(self.plugin, section, pipeline_keys, pipeline_kind))


