"""Plugin entry point: registers kind ``queue`` by import reference (nothing heavy imported)."""

from __future__ import annotations

from typing import Any

from lakeport.api import hookimpl


@hookimpl
def lakeport_register_handle_kinds(register: Any) -> None:
    register(
        "queue",
        "lakeport_queue.handle:QueueHandle.from_config",
        options="lakeport_queue.handle:QueueOptions",
    )
