"""Errors of the foreachBatch plugin."""

from __future__ import annotations

from lakeport.api import ConfigError, LakeportError


class StreamError(LakeportError):
    """A streaming query could not start or failed while running."""


class CheckpointMismatch(ConfigError):
    """The checkpoint was written by a query with another source or target."""
