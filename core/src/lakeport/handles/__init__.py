"""Handles: named tables and streams. Kinds are registered in :mod:`lakeport.kinds`."""

from lakeport.handles.base import OPERATIONS, Handle, common_handle_kwargs

__all__ = ["OPERATIONS", "Handle", "common_handle_kwargs"]
