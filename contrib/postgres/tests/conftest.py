"""A throwaway PostgreSQL server for the run, and the JDBC driver in the shared Spark session."""

from __future__ import annotations

import uuid
from typing import Any, Iterator

import pytest

PASSWORD_ENV = "LAKEPORT_TEST_PG_PASSWORD"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    """A server on 127.0.0.1 for the whole run (Debian's binaries, installed if absent)."""
    from lakeport_postgres.local_server import local_server

    with local_server(install=True) as server:
        yield server


@pytest.fixture(scope="session")
def postgres_spark(spark: Any) -> Any:
    """The shared session, with the PostgreSQL JDBC driver.

    A session started with ``lakeport_postgres.postgres_spark_conf()`` has it; one
    started without it (the repo-wide ``spark`` fixture) gets it attached at run time.
    """
    from lakeport_postgres import attach_driver, driver_available

    if not driver_available(spark):
        attach_driver(spark)
    return spark


@pytest.fixture
def pg_password(postgres_server: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """The name of the environment variable that holds the test user's password."""
    monkeypatch.setenv(PASSWORD_ENV, postgres_server.password)
    return PASSWORD_ENV


@pytest.fixture
def pg_table() -> str:
    """A table name no other test uses."""
    return "t_" + uuid.uuid4().hex[:12]
