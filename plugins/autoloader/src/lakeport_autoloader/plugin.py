"""Plugin entry point: registers kind ``autoloader`` by import reference (nothing heavy imported)."""

from __future__ import annotations

from typing import Any

from lakeport.api import hookimpl


@hookimpl
def lakeport_register_handle_kinds(register: Any) -> None:
    register(
        "autoloader",
        "lakeport_autoloader.handle:AutoloaderHandle.from_config",
        options="lakeport_autoloader.handle:AutoloaderOptions",
    )
