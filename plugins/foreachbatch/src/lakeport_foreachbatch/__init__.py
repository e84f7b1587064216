"""Structured Streaming into any lakeport handle through ``foreachBatch``.

``StreamLoader`` is spetlr's loader of the same name: it wraps a
``SimpleLoader`` and writes every micro-batch through the target handle's
writer hooks, exactly once where the handle supports idempotent writes.
Names load on first use, so discovering the plugin stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lakeport_foreachbatch.errors import CheckpointMismatch, StreamError
    from lakeport_foreachbatch.loader import BatchStats, StreamLoader

__all__ = ["BatchStats", "CheckpointMismatch", "StreamError", "StreamLoader"]


def __getattr__(name: str) -> Any:
    if name in ("CheckpointMismatch", "StreamError"):
        from lakeport_foreachbatch import errors

        return getattr(errors, name)
    if name in ("BatchStats", "StreamLoader"):
        from lakeport_foreachbatch import loader

        return getattr(loader, name)
    raise AttributeError(f"module 'lakeport_foreachbatch' has no attribute {name!r}")
