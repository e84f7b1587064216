"""The contract every lakeport kind passes, from lakeport.testing (fixtures spark, tmp_lake)."""

import pytest

from lakeport.testing import HandleContract
from lakeport_postgres import PostgresHandle


class TestPostgresContract(HandleContract):
    capabilities = frozenset({"read", "append", "overwrite", "drop", "create", "exists", "schema"})

    @pytest.fixture
    def make_handle(self, tmp_lake):
        counter = iter(range(1000))

        def make(schema, expectations=()):  # a fresh, empty table per call
            return PostgresHandle(location=str(tmp_lake / f"t{next(counter)}"), schema=schema,
                               expectations=expectations, table="people")

        return make
