"""The built-in files kind passes the same contract every connector must pass."""

from __future__ import annotations

import pytest

from lakeport.handles.files import FilesHandle
from lakeport.testing import HandleContract


class TestFilesParquet(HandleContract):
    capabilities = frozenset({"read", "read_stream", "append", "overwrite", "truncate", "drop", "create", "exists", "schema"})

    @pytest.fixture
    def make_handle(self, tmp_lake):
        counter = iter(range(1000))

        def make(schema, expectations=()):
            return FilesHandle(str(tmp_lake / f"t{next(counter)}"), schema=schema, expectations=expectations, table="people")

        return make


class TestFilesJson(TestFilesParquet):
    @pytest.fixture
    def make_handle(self, tmp_lake):
        counter = iter(range(1000))

        def make(schema, expectations=()):
            return FilesHandle(str(tmp_lake / f"j{next(counter)}"), format="json", schema=schema, expectations=expectations, table="events")

        return make


def test_reading_a_missing_folder_names_table_and_path(spark, tmp_lake):
    from lakeport import TableNotFound

    handle = FilesHandle(str(tmp_lake / "nothing"), table="ghost")
    with pytest.raises(TableNotFound, match=f"files table 'ghost' has no data at {tmp_lake}/nothing"):
        handle.read()
