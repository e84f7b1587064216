"""lakeport-postgres: the ``postgres`` table kind."""

from lakeport_postgres.handle import PostgresHandle, PostgresOptions

__all__ = ["PostgresHandle", "PostgresOptions"]
