"""Build an Orchestrator from a ``[pipelines.<name>]`` entry."""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any, Callable

from lakeport.errors import ConfigError
from lakeport.etl.base import (
    Extractor,
    FunctionTransformer,
    Loader,
    Orchestrator,
    SimpleExtractor,
    SimpleLoader,
    StreamExtractor,
)

if TYPE_CHECKING:
    from lakeport.config.model import PipelineSpec
    from lakeport.etl.spec import EtlOptions
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


def build_pipeline(project: Project, spec: PipelineSpec) -> Orchestrator:
    """Kind ``etl``: read the source (as a stream when a plugin makes a stream loader), transform, write."""
    options: EtlOptions = spec.options
    where = f"pipelines.{spec.name}"
    source = project.handle(options.source)
    target = project.handle(options.target)
    writer_options: dict[str, Any] = {}
    if options.sequence_by:
        writer_options["sequence_by"] = options.sequence_by
    loader: Loader = SimpleLoader(target, mode=options.mode.value, keys=options.keys or None, **writer_options)
    stream_loader = project.hooks.make_stream_loader(project, spec, loader)
    if stream_loader is not None:
        extractor: Extractor = StreamExtractor(source, dataset_key=options.source)
        loader = stream_loader
    else:
        extractor = SimpleExtractor(source, dataset_key=options.source)
    orchestrator = Orchestrator(name=spec.name, kind=spec.kind).extract_from(extractor)
    if options.transform:
        function = import_callable(options.transform, where=f"{where}.transform", source=project.source, root=project.root)
        orchestrator.transform_with(FunctionTransformer(function, dataset_output_key=f"{spec.name}:transformed"))
    return orchestrator.load_into(loader)
