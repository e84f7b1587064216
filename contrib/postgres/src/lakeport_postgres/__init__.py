"""lakeport-postgres: the ``postgres`` table kind (PostgreSQL through Spark's JDBC source)."""

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
