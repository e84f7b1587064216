"""The registry of handle kinds that plugins fill through a ``register`` callable.

Kinds may be registered by import reference (``"pkg.module:Class.from_config"``)
so that loading plugins imports nothing heavy.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Union

from lakeport.errors import PluginError

#: Kinds written by the lakeport project itself, and the distribution to install.
FIRST_PARTY_KINDS = {
    "delta": "lakeport-delta",
    "autoloader": "lakeport-autoloader",
    "queue": "lakeport-queue",
}

Reference = Union[str, Callable[..., Any], type, None]


def resolve_reference(reference: Reference, *, what: str) -> Any:
    """``"pkg.mod:attr.sub"`` -> the object; objects are returned as they are."""
    if not isinstance(reference, str):
        return reference
    module_name, _, attribute = reference.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise PluginError(f"{what}: cannot load {reference!r}: {exc}") from exc
    return target


class HandleKind:
    """One registered kind: how to build its handles and validate its options."""

    def __init__(
        self,
        name: str,
        factory: Reference,
        plugin: str,
        options: Reference = None,
        describe_backend: Callable[[Any], str] | None = None,
    ) -> None:
        self.name = name
        self.plugin = plugin
        self._factory = factory
        self._options = options
        #: ``describe_backend(project) -> str`` for kinds with several backends.
        self.describe_backend = describe_backend

    def __repr__(self) -> str:
        return f"<HandleKind {self.name!r} from plugin {self.plugin!r}>"

    @property
    def factory(self) -> Callable[..., Any]:
        """``factory(project, table_name) -> Handle``."""
        return resolve_reference(self._factory, what=f"kind {self.name!r} factory")

    @property
    def options(self) -> type | None:
        """attrs class for the kind's own table keys, structured by the project converter."""
        return resolve_reference(self._options, what=f"kind {self.name!r} options")


class HandleKindRegistry:
    """Owns the kinds; reports a kind registered twice."""

    def __init__(self) -> None:
        self._kinds: dict[str, HandleKind] = {}

    def registrar_for(self, plugin: str) -> HandleKindRegistrar:
        return HandleKindRegistrar(self, plugin)

    def add(self, kind: HandleKind) -> None:
        existing = self._kinds.get(kind.name)
        if existing is not None:
            raise PluginError(
                f"handle kind {kind.name!r} is registered by both plugin {existing.plugin!r} "
                f"and plugin {kind.plugin!r}; disable one of them"
            )
        self._kinds[kind.name] = kind

    def get(self, name: str) -> HandleKind | None:
        return self._kinds.get(name)

    def names(self) -> list[str]:
        return sorted(self._kinds)

    def provided_by(self, plugin: str) -> list[HandleKind]:
        return [k for k in self._kinds.values() if k.plugin == plugin]

    def unknown_kind_message(self, name: str) -> str:
        installed = ", ".join(self.names()) or "none"
        message = f'unknown kind "{name}" (installed kinds: {installed})'
        if name in FIRST_PARTY_KINDS:
            dist = FIRST_PARTY_KINDS[name]
            message += f'; kind "{name}" is provided by {dist}: pip install {dist}'
        return message


class HandleKindRegistrar:
    """The ``register`` callable handed to ``lakeport_register_handle_kinds``."""

    def __init__(self, registry: HandleKindRegistry, plugin: str) -> None:
        self.registry = registry
        self.plugin = plugin

    def __call__(
        self,
        name: str,
        factory: Reference,
        *,
        options: Reference = None,
        describe_backend: Callable[[Any], str] | None = None,
    ) -> None:
        self.registry.add(HandleKind(name, factory, self.plugin, options, describe_backend))
