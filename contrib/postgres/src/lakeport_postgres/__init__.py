"""lakeport-postgres: the ``postgres`` table kind (PostgreSQL through Spark's JDBC source).

Names load on first use, so discovering the plugin (``lakeport plugins``) stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lakeport_postgres.driver import (
        MAVEN_COORDINATES,
        DriverNotFound,
        PostgresError,
        PostgresSettings,
        attach_driver,
        driver_available,
        postgres_spark_conf,
    )
    from lakeport_postgres.handle import PostgresHandle, PostgresOptions

__all__ = [
    "MAVEN_COORDINATES",
    "DriverNotFound",
    "PostgresError",
    "PostgresHandle",
    "PostgresOptions",
    "PostgresSettings",
    "attach_driver",
    "driver_available",
    "postgres_spark_conf",
]


def __getattr__(name: str) -> Any:
    if name in ("PostgresHandle", "PostgresOptions"):
        from lakeport_postgres import handle

        return getattr(handle, name)
    if name in __all__:
        from lakeport_postgres import driver

        return getattr(driver, name)
    raise AttributeError(f"module 'lakeport_postgres' has no attribute {name!r}")
