"""The plugins the lakeport project itself publishes: the one table core, docs and tests read.

Core uses it only to tell a user what to install: a kind, a pipeline key or a
``[plugins.<name>]`` section that no installed plugin provides. A test checks
every row against the plugin's ``pyproject.toml``, its registrations and its README.
"""

from __future__ import annotations

from typing import NamedTuple


class FirstPartyPlugin(NamedTuple):
    plugin: str
    distribution: str
    kinds: tuple[str, ...] = ()
    pipeline_kinds: tuple[str, ...] = ()
    #: keys the plugin adds to ``[pipelines.<name>]`` entries.
    pipeline_keys: tuple[str, ...] = ()


FIRST_PARTY_PLUGINS: tuple[FirstPartyPlugin, ...] = (
    FirstPartyPlugin("delta", "lakeport-delta", kinds=("delta",)),
    FirstPartyPlugin("queue", "lakeport-queue", kinds=("queue",)),
    FirstPartyPlugin("autoloader", "lakeport-autoloader", kinds=("autoloader",)),
    FirstPartyPlugin("dlt", "lakeport-dlt", pipeline_kinds=("dlt",)),
    FirstPartyPlugin(
        "foreachbatch", "lakeport-foreachbatch",
        pipeline_keys=("trigger", "trigger_interval", "checkpoint_path", "query_name"),
    ),
)


def plugin_named(name: str) -> FirstPartyPlugin | None:
    return next((p for p in FIRST_PARTY_PLUGINS if p.plugin == name), None)


def providing_kind(kind: str) -> FirstPartyPlugin | None:
    return next((p for p in FIRST_PARTY_PLUGINS if kind in p.kinds), None)


def providing_pipeline_kind(kind: str) -> FirstPartyPlugin | None:
    return next((p for p in FIRST_PARTY_PLUGINS if kind in p.pipeline_kinds), None)


def providing_pipeline_key(key: str) -> FirstPartyPlugin | None:
    return next((p for p in FIRST_PARTY_PLUGINS if key in p.pipeline_keys), None)


def install_hint(plugin: FirstPartyPlugin) -> str:
    return f"plugin {plugin.plugin!r} from {plugin.distribution} (pip install {plugin.distribution})"
