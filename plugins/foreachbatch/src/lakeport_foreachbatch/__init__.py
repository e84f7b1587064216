"""Structured Streaming into any lakeport handle through ``foreachBatch``.

``StreamLoader`` is spetlr's loader of the same name: it wraps a
``SimpleLoader`` and writes every micro-batch through the target handle's
writer hooks, exactly once where the handle supports idempotent writes.
"""

from lakeport_foreachbatch.errors import CheckpointMismatch, StreamError
from lakeport_foreachbatch.loader import BatchStats, StreamLoader

__all__ = ["BatchStats", "CheckpointMismatch", "StreamError", "StreamLoader"]
