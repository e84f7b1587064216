"""Delta Lake tables for lakeport (kind ``delta``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lakeport_delta.handle import DeltaHandle, DeltaOptions

__all__ = ["DeltaHandle", "DeltaOptions"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from lakeport_delta import handle

        return getattr(handle, name)
    raise AttributeError(f"module 'lakeport_delta' has no attribute {name!r}")
