"""The contract every lakeport kind passes, from lakeport.testing, against a real PostgreSQL server."""

import uuid

import pytest

from lakeport.testing import HandleContract
from lakeport_postgres import PostgresHandle


class TestPostgresContract(HandleContract):
    capabilities = frozenset(
        {"read", "append", "overwrite", "upsert", "delete", "truncate", "drop", "create", "exists", "schema"}
    )

    @pytest.fixture
    def make_handle(self, postgres_server, postgres_spark):
        def make(schema, expectations=()):  # a fresh, empty table per call
            return PostgresHandle(
                url=postgres_server.url, dbtable=f"contract_{uuid.uuid4().hex[:12]}", user=postgres_server.user,
                password=postgres_server.password, schema=schema, expectations=expectations, table="people",
            )

        return make
