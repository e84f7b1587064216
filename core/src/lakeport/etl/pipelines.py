"""Build an Orchestrator from a ``[pipelines.<name>]`` entry."""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any, Callable

from lakeport.errors import ConfigError
from lakeport.etl.base import FunctionTransformer, Orchestrator, SimpleExtractor, SimpleLoader, StreamExtractor

if TYPE_CHECKING:
    from lakeport.project import Project


def import_callable(reference: str, *, where: str, source: str, root: Any = None) -> Callable[..., Any]:
    """``"pkg.module:function"`` -> the function; errors name the key."""
    module_name, sep, attr = reference.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"{where}: expected \"module:function\", got {reference!r}", source=source)
    if root is not None and str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"{where}: cannot import module {module_name!r}: {exc}", source=source) from None
    target: Any = module
    for part in attr.split("."):
        if not hasattr(target, part):
            raise ConfigError(f"{where}: module {module_name!r} has no attribute {attr!r}", source=source)
        target = getattr(target, part)
    if not callable(target):
        raise ConfigError(f"{where}: {reference!r} is not callable", source=source)
    return target


def build_pipeline(project: Project, name: str) -> Orchestrator:
    try:
        spec = project.config.pipelines[name]
    except KeyError:
        known = ", ".join(sorted(project.config.pipelines)) or "none"
        raise ConfigError(f"unknown pipeline {name!r} (pipelines: {known})", source=project.source) from None
    where = f"pipelines.{name}"
    source = project.handle(spec.source)
    target = project.handle(spec.target)
    streaming = spec.trigger is not None
    extractor = StreamExtractor(source, dataset_key=spec.source) if streaming else SimpleExtractor(source, dataset_key=spec.source)
    orchestrator = Orchestrator().extract_from(extractor)
    if spec.transform:
        function = import_callable(spec.transform, where=f"{where}.transform", source=project.source, root=project.root)
        orchestrator.transform_with(FunctionTransformer(function, dataset_output_key=f"{name}:transformed"))
    options: dict[str, Any] = {}
    if spec.sequence_by:
        options["sequence_by"] = spec.sequence_by
    loader = SimpleLoader(target, mode=spec.mode.value, keys=spec.keys or None, **options)
    if streaming:
        stream_loader = project.hooks.make_stream_loader(project, spec, loader)
        if stream_loader is None:
            raise ConfigError(
                f"{where}.trigger: a streaming pipeline needs the foreachBatch plugin: pip install lakeport-foreachbatch",
                source=project.source,
            )
        loader = stream_loader
    return orchestrator.load_into(loader)
