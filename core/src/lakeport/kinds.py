"""Registries of the kinds plugins provide: handle kinds (tables) and pipeline kinds.

Plugins fill them through the ``register`` callables of
``lakeport_register_handle_kinds`` and ``lakeport_register_pipeline_kinds``.
Kinds may be registered by import reference (``"pkg.module:Class.from_config"``)
so that loading plugins imports nothing heavy.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Collection, Generic, TypeVar, Union

from lakeport.errors import PluginError
from lakeport.first_party import FirstPartyPlugin, install_hint, providing_kind, providing_pipeline_kind

Reference = Union[str, Callable[..., Any], type, None]


def resolve_settings_class(reference: Reference, *, what: str, reserved: Collection[str] = ()) -> type | None:
    """An options or settings class: it must be an attrs class, and no field may take a ``reserved`` name."""
    import attrs

    cls = resolve_reference(reference, what=what)
    if cls is None:
        return None
    if not (isinstance(cls, type) and attrs.has(cls)):
        raise PluginError(
            f"{what}: {getattr(cls, '__qualname__', cls)!r} is not an attrs class; lakeport structures "
            "options with cattrs and reports key paths from attrs fields: declare it with @attrs.frozen"
        )
    clash = sorted({a.name for a in attrs.fields(cls)} & set(reserved))
    if clash:
        raise PluginError(
            f"{what}: field(s) {', '.join(clash)} of {cls.__qualname__} are reserved for keys every table has "
            f"and never reach a kind's options; rename them (e.g. dbtable, location)"
        )
    return cls


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
    """One registered table kind: how to build its handles and validate its options."""

    noun = "handle kind"

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
        from lakeport.config.model import COMMON_TABLE_KEYS

        return resolve_settings_class(
            self._options, what=f"kind {self.name!r} options (plugin {self.plugin!r})", reserved=COMMON_TABLE_KEYS
        )


class PipelineKind:
    """One registered pipeline kind: ``[pipelines.<name>] kind = "..."`` picks it."""

    noun = "pipeline kind"

    def __init__(self, name: str, build: Reference, plugin: str, options: Reference = None, check: Reference = None) -> None:
        self.name = name
        self.plugin = plugin
        self._build = build
        self._options = options
        self._check = check

    def __repr__(self) -> str:
        return f"<PipelineKind {self.name!r} from plugin {self.plugin!r}>"

    @property
    def build(self) -> Callable[..., Any]:
        """``build(project, pipeline_spec) -> PipelineRun`` (``execute()`` and ``result()``)."""
        return resolve_reference(self._build, what=f"pipeline kind {self.name!r} build")

    @property
    def options(self) -> type | None:
        """attrs class for the kind's keys of a ``[pipelines.<name>]`` entry."""
        return resolve_settings_class(
            self._options, what=f"pipeline kind {self.name!r} options (plugin {self.plugin!r})", reserved=("kind",)
        )

    @property
    def check(self) -> Callable[..., Any] | None:
        """``check(spec, tables, where) -> [problem, ...]``: load-time checks across entries."""
        return resolve_reference(self._check, what=f"pipeline kind {self.name!r} check")


K = TypeVar("K", HandleKind, PipelineKind)


class _KindRegistry(Generic[K]):
    """Owns kinds of one sort; reports a kind registered twice."""

    def __init__(self) -> None:
        self._kinds: dict[str, K] = {}

    def add(self, kind: K) -> None:
        existing = self._kinds.get(kind.name)
        if existing is not None:
            raise PluginError(
                f"{kind.noun} {kind.name!r} is registered by both plugin {existing.plugin!r} "
                f"and plugin {kind.plugin!r}; disable one of them"
            )
        self._kinds[kind.name] = kind

    def get(self, name: str) -> K | None:
        return self._kinds.get(name)

    def names(self) -> list[str]:
        return sorted(self._kinds)

    def provided_by(self, plugin: str) -> list[K]:
        return [k for k in self._kinds.values() if k.plugin == plugin]

    def _unknown(self, name: str, first_party: FirstPartyPlugin | None, disabled: Collection[str]) -> str:
        installed = ", ".join(self.names()) or "none"
        message = f'unknown kind "{name}" (installed kinds: {installed})'
        if first_party is not None:
            state = "disabled" if first_party.plugin in disabled else "not installed"
            message += f'; kind "{name}" is provided by {install_hint(first_party)}, which is {state}'
        return message


class HandleKindRegistry(_KindRegistry[HandleKind]):
    def registrar_for(self, plugin: str) -> HandleKindRegistrar:
        return HandleKindRegistrar(self, plugin)

    def unknown_kind_message(self, name: str, disabled: Collection[str] = ()) -> str:
        return self._unknown(name, providing_kind(name), disabled)


class PipelineKindRegistry(_KindRegistry[PipelineKind]):
    def registrar_for(self, plugin: str) -> PipelineKindRegistrar:
        return PipelineKindRegistrar(self, plugin)

    def unknown_kind_message(self, name: str, disabled: Collection[str] = ()) -> str:
        return self._unknown(name, providing_pipeline_kind(name), disabled)


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


class PipelineKindRegistrar:
    """The ``register`` callable handed to ``lakeport_register_pipeline_kinds``."""

    def __init__(self, registry: PipelineKindRegistry, plugin: str) -> None:
        self.registry = registry
        self.plugin = plugin

    def __call__(self, name: str, build: Reference, *, options: Reference = None, check: Reference = None) -> None:
        self.registry.add(PipelineKind(name, build, self.plugin, options, check))
