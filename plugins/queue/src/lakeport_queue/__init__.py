"""lakeport kind ``queue``: a ``queue.Queue`` or iterable in the driver as a streaming DataFrame.

Nothing heavy is imported here; ``QueueHandle`` loads pyspark and pyarrow on use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lakeport_queue.feed import QueueItemError
    from lakeport_queue.handle import QueueHandle, QueueOptions

__all__ = ["QueueHandle", "QueueItemError", "QueueOptions"]


def __getattr__(name: str) -> Any:
    if name in ("QueueHandle", "QueueOptions"):
        from lakeport_queue import handle

        return getattr(handle, name)
    if name == "QueueItemError":
        from lakeport_queue.feed import QueueItemError

        return QueueItemError
    raise AttributeError(name)
