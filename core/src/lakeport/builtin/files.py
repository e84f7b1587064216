"""Built-in plugin: the ``files`` kind (parquet/json/csv/orc/text folders)."""

from __future__ import annotations

from typing import Any

from lakeport import hookimpl


@hookimpl
def lakeport_register_handle_kinds(register: Any) -> None:
    register(
        "files",
        "lakeport.handles.files:FilesHandle.from_config",
        options="lakeport.handles.files:FilesOptions",
    )
