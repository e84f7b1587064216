"""Orchestrator, extractors, transformers and loaders (spetlr's ETL, plugin-aware)."""

from lakeport.etl.base import (
    Datasets,
    EtlBase,
    EtlError,
    Extractor,
    FunctionTransformer,
    Loader,
    Orchestrator,
    SimpleExtractor,
    SimpleLoader,
    StreamExtractor,
    Transformer,
)

__all__ = [
    "Datasets",
    "EtlBase",
    "EtlError",
    "Extractor",
    "FunctionTransformer",
    "Loader",
    "Orchestrator",
    "SimpleExtractor",
    "SimpleLoader",
    "StreamExtractor",
    "Transformer",
]
