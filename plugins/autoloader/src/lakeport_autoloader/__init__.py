"""lakeport kind ``autoloader``: Databricks Auto Loader, and its emulation off Databricks.

Nothing heavy is imported here; the handle loads pyspark on use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lakeport_autoloader.errors import MalformedRecordError, NewColumnsError, SchemaInferenceError
    from lakeport_autoloader.handle import AutoloaderHandle, AutoloaderOptions, register_cloud_files

__all__ = ["AutoloaderHandle", "AutoloaderOptions", "MalformedRecordError", "NewColumnsError",
           "SchemaInferenceError", "register_cloud_files"]


def __getattr__(name: str) -> Any:
    if name in ("AutoloaderHandle", "AutoloaderOptions", "register_cloud_files"):
        from lakeport_autoloader import handle

        return getattr(handle, name)
    if name in ("MalformedRecordError", "NewColumnsError", "SchemaInferenceError"):
        from lakeport_autoloader import errors

        return getattr(errors, name)
    raise AttributeError(name)
