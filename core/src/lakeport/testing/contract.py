"""A contract every handle kind passes: subclass :class:`HandleContract` in your tests.

Provide a ``make_handle`` fixture returning ``factory(schema, expectations=()) ->
Handle`` (a fresh, empty table each call) and list the operations your kind
supports in ``capabilities``. Operations not listed must raise
``UnsupportedOperation``. Set ``batch_only = True`` to run only the batch parts
(for an engine that has no streaming, e.g. a Spark Connect server without it);
``read_stream`` stays a listed capability, its test is skipped.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from lakeport.errors import UnsupportedOperation
from lakeport.expectations import Expectation
from lakeport.handles.base import OPERATIONS

SCHEMA = "id BIGINT, name STRING"
ROWS = [(1, "a"), (2, "b"), (3, "c")]


def _rows(df: Any) -> list[tuple]:
    return sorted(tuple(r) for r in df.collect())


class HandleContract:
    """Behaviour users rely on, whatever the kind."""

    capabilities: ClassVar[frozenset[str]] = frozenset(OPERATIONS)
    #: skip the streaming tests (the engine under test cannot run streams)
    batch_only: ClassVar[bool] = False

    @pytest.fixture
    def make_handle(self) -> Any:  # pragma: no cover - must be overridden
        raise NotImplementedError("subclass HandleContract and provide a make_handle fixture")

    def _need(self, operation: str) -> None:
        if operation not in self.capabilities:
            pytest.skip(f"kind does not support {operation}")

    # -- writes and reads -------------------------------------------------------------
    def test_append_then_read_returns_rows(self, spark: Any, make_handle: Any) -> None:
        self._need("append")
        handle = make_handle(SCHEMA)
        handle.append(spark.createDataFrame(ROWS[:2], SCHEMA))
        handle.append(spark.createDataFrame(ROWS[2:], SCHEMA))
        assert _rows(handle.read()) == ROWS

    def test_overwrite_replaces_rows(self, spark: Any, make_handle: Any) -> None:
        self._need("overwrite")
        handle = make_handle(SCHEMA)
        handle.overwrite(spark.createDataFrame(ROWS, SCHEMA))
        handle.overwrite(spark.createDataFrame([(9, "z")], SCHEMA))
        assert _rows(handle.read()) == [(9, "z")]

    def test_upsert_updates_matches_and_inserts_the_rest(self, spark: Any, make_handle: Any) -> None:
        self._need("upsert")
        handle = make_handle(SCHEMA)
        handle.append(spark.createDataFrame(ROWS, SCHEMA))
        handle.upsert(spark.createDataFrame([(2, "B"), (4, "d")], SCHEMA), keys=["id"])
        assert _rows(handle.read()) == [(1, "a"), (2, "B"), (3, "c"), (4, "d")]

    def test_delete_removes_matching_rows(self, spark: Any, make_handle: Any) -> None:
        self._need("delete")
        handle = make_handle(SCHEMA)
        handle.append(spark.createDataFrame(ROWS, SCHEMA))
        handle.delete("id >= 2")
        assert _rows(handle.read()) == [(1, "a")]

    def test_truncate_keeps_table_empty(self, spark: Any, make_handle: Any) -> None:
        self._need("truncate")
        handle = make_handle(SCHEMA)
        handle.append(spark.createDataFrame(ROWS, SCHEMA))
        handle.truncate()
        assert handle.exists()
        assert handle.read().count() == 0
        assert [f.name for f in handle.schema.fields] == ["id", "name"]

    def test_drop_removes_table(self, spark: Any, make_handle: Any) -> None:
        self._need("drop")
        handle = make_handle(SCHEMA)
        handle.append(spark.createDataFrame(ROWS, SCHEMA))
        assert handle.exists()
        handle.drop()
        assert not handle.exists()

    def test_create_makes_empty_table_with_declared_schema(self, spark: Any, make_handle: Any) -> None:
        self._need("create")
        handle = make_handle(SCHEMA)
        assert not handle.exists()
        handle.create()
        assert handle.exists()
        assert [f.name for f in handle.schema.fields] == ["id", "name"]
        assert handle.read().count() == 0

    def test_schema_is_what_was_written(self, spark: Any, make_handle: Any) -> None:
        self._need("schema")
        handle = make_handle(SCHEMA)
        if "append" in self.capabilities:
            handle.append(spark.createDataFrame(ROWS, SCHEMA))
        assert [(f.name, f.dataType.simpleString()) for f in handle.schema.fields] == [("id", "bigint"), ("name", "string")]

    def test_read_stream_delivers_rows_written_before_and_after(self, spark: Any, make_handle: Any, tmp_path: Any) -> None:
        if self.batch_only:
            pytest.skip("batch_only: streaming not tested on this engine")
        self._need("read_stream")
        self._need("append")
        handle = make_handle(SCHEMA)
        handle.append(spark.createDataFrame(ROWS[:2], SCHEMA))
        seen: list[tuple] = []

        def collect(batch: Any, _batch_id: int) -> None:
            seen.extend(tuple(r) for r in batch.collect())

        checkpoint = str(tmp_path / "contract-checkpoint")

        def run_once() -> None:
            query = (
                handle.read_stream().writeStream.foreachBatch(collect)
                .option("checkpointLocation", checkpoint).trigger(availableNow=True).start()
            )
            query.awaitTermination(120)

        run_once()
        assert sorted(seen) == ROWS[:2]
        handle.append(spark.createDataFrame(ROWS[2:], SCHEMA))
        run_once()
        assert sorted(seen) == ROWS  # the second run picked up only the new row

    # -- hooks and errors -------------------------------------------------------------
    def test_expectations_drop_failing_rows_on_write(self, spark: Any, make_handle: Any) -> None:
        self._need("append")
        handle = make_handle(SCHEMA, expectations=[Expectation("small_id", "id < 3", "drop")])
        result = handle.append(spark.createDataFrame(ROWS, SCHEMA))
        assert _rows(handle.read()) == ROWS[:2]
        assert result.expectations.failed("small_id") == 1
        assert result.expectations.rows_written == 2

    def test_unsupported_operations_name_kind_table_and_operation(self, spark: Any, make_handle: Any) -> None:
        handle = make_handle(SCHEMA)
        calls = {
            "read": lambda: handle.read(),
            "read_stream": lambda: handle.read_stream(),
            "append": lambda: handle.append(spark.createDataFrame(ROWS, SCHEMA)),
            "overwrite": lambda: handle.overwrite(spark.createDataFrame(ROWS, SCHEMA)),
            "upsert": lambda: handle.upsert(spark.createDataFrame(ROWS, SCHEMA), keys=["id"]),
            "delete": lambda: handle.delete("id = 1"),
            "truncate": lambda: handle.truncate(),
            "drop": lambda: handle.drop(),
            "create": lambda: handle.create(),
            "exists": lambda: handle.exists(),
        }
        unsupported = [op for op in calls if op not in self.capabilities]
        for operation in unsupported:
            with pytest.raises(UnsupportedOperation) as info:
                calls[operation]()
            message = str(info.value)
            assert handle.kind in message and handle.table in message and f"{operation}()" in message
        for operation in self.capabilities & set(calls):
            assert handle.supports(operation), f"{operation} listed in capabilities but not implemented"
