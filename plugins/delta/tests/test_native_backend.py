"""DeltaHandle on the native backend, against a real Spark Connect server: Sail (``pysail``).

One Sail server per module on 127.0.0.1 and one Spark Connect session on it. The batch
parts of the handle contract run on ``backend="native"``; every table written is then
opened with ``deltalake.DeltaTable`` to check its rows and history.

Run: ``nox -s native`` (or ``pytest -m native plugins/delta/tests`` with pysail installed).
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("pysail", reason="the native backend tests need pysail (pip install lakeport-delta[native-test])")

from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake  # noqa: E402
from pyspark.errors import UnsupportedOperationException  # noqa: E402

from lakeport import SchemaMismatch, UnsupportedOperation  # noqa: E402
from lakeport.testing import HandleContract  # noqa: E402
from lakeport_delta import DeltaHandle  # noqa: E402
from lakeport_delta.native import TXN_MARKER  # noqa: E402

pytestmark = pytest.mark.native

SCHEMA = "id BIGINT, name STRING"


@pytest.fixture(scope="module")
def sail_server():
    from pysail.spark import SparkConnectServer

    server = SparkConnectServer("127.0.0.1", 0)
    server.start(background=True)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def spark(sail_server):
    """A Spark Connect session on Sail; overrides the classic ``spark`` fixture in this module.

    pyspark refuses ``SparkSession.builder.remote()`` while a classic session runs in the
    process, and sends ``pyspark.sql.functions``/``Observation`` to Spark Connect only while
    ``SPARK_CONNECT_MODE_ENABLED`` is set. So: the Connect builder directly, the variable for
    this module only, and both undone afterwards so classic sessions of other modules work on.
    """
    from importlib.metadata import version

    from pyspark.sql.connect.session import SparkSession as ConnectSession

    _, port = sail_server.listening_address
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPARK_CONNECT_MODE_ENABLED", "1")
        session = ConnectSession.builder.remote(f"sc://127.0.0.1:{port}").create()
        try:
            session.createDataFrame([(1, "a")], SCHEMA).collect()
        except Exception as exc:  # noqa: BLE001 - only Sail refusing this client is a skip
            if "unsupported PySpark version" not in str(exc):
                raise
            session.stop()
            pytest.skip(f"pysail {version('pysail')} does not serve PySpark {version('pyspark')} clients")
        yield session
        session.stop()


@pytest.fixture(scope="module")
def project(spark, tmp_path_factory):
    from lakeport.project import Project

    return Project.from_toml("", root=tmp_path_factory.mktemp("native-project")).use_spark(spark)


@pytest.fixture
def native(project, tmp_lake):
    """``native(name, **kwargs)`` -> a native DeltaHandle at ``tmp_lake/name``."""

    def make(folder="t", **kwargs):
        kwargs.setdefault("location", str(tmp_lake / folder))
        return DeltaHandle(backend="native", project=project, **kwargs)

    return make


def rows_of(path):
    return sorted(tuple(r.values()) for r in DeltaTable(str(path)).to_pyarrow_table().to_pylist())


class TestNativeDeltaContract(HandleContract):
    batch_only = True  # Sail 0.7 runs no foreachBatch/memory sinks: streaming stays untested here

    @pytest.fixture
    def make_handle(self, tmp_lake, project):
        counter = iter(range(1000))

        def make(schema, expectations=()):
            return DeltaHandle(location=str(tmp_lake / f"d{next(counter)}"), schema=schema, expectations=expectations,
                               backend="native", table="people", project=project)

        return make

    @pytest.mark.xfail(strict=True, raises=UnsupportedOperationException, reason="Sail 0.7.2 lacks DataFrame.observe (CollectMetrics: 'collect metrics' "
                       "unsupported), which lakeport's expectation engine uses to count failing rows")
    def test_expectations_drop_failing_rows_on_write(self, spark, make_handle):
        super().test_expectations_drop_failing_rows_on_write(spark, make_handle)


def test_native_writes_are_valid_delta_tables_with_history(spark, native, tmp_lake):
    handle = native()
    assert handle.backend == "native"
    first = handle.append(spark.createDataFrame([(1, "a"), (2, "b")], SCHEMA))
    handle.append(spark.createDataFrame([(3, "c")], SCHEMA))
    handle.overwrite(spark.createDataFrame([(1, "a"), (2, "b"), (3, "c")], SCHEMA))
    upserted = handle.upsert(spark.createDataFrame([(2, "B"), (4, "d")], SCHEMA), keys=["id"])
    deleted = handle.delete("id = 3")

    path = tmp_lake / "t"
    table = DeltaTable(str(path))
    assert rows_of(path) == [(1, "a"), (2, "B"), (4, "d")]
    assert table.version() == 4 == deleted.version
    assert (first.version, first.rows_written) == (0, 2)
    assert upserted.version == 3 and upserted.details["inserted"] == 1 and upserted.details["updated"] == 1
    assert upserted.rows_written == 2 and deleted.details["deleted"] == 1
    operations = [(c["version"], c["operation"]) for c in table.history()]
    assert [op for _, op in operations][:3] == ["DELETE", "MERGE", "WRITE"]
    assert [v for v, _ in operations] == [4, 3, 2, 1, 0]
    # the handle's own history (from _delta_log on Sail) agrees with delta-rs
    assert [(c["version"], c["operation"]) for c in handle.history()] == operations
    assert [c["version"] for c in handle.history(limit=2)] == [4, 3]
    assert handle.delete("id = 99").details["deleted"] == 0


def test_time_travel_reads_old_versions(spark, native):
    handle = native()
    handle.append(spark.createDataFrame([(1, "a")], SCHEMA))
    handle.overwrite(spark.createDataFrame([(2, "b")], SCHEMA))
    assert [tuple(r) for r in handle.read(version=0).collect()] == [(1, "a")]
    assert [tuple(r) for r in handle.read().collect()] == [(2, "b")]


def test_upsert_drops_null_keys_keeps_latest_duplicate_and_creates_missing_table(spark, native, tmp_lake):
    handle = native(sequence_by="name")
    created = handle.upsert(spark.createDataFrame([(1, "a"), (1, "c"), (None, "n")], SCHEMA), keys="id")
    assert created.version == 0 and rows_of(tmp_lake / "t") == [(1, "c")]
    handle.upsert(spark.createDataFrame([(1, "x"), (1, "z"), (2, "b")], SCHEMA), keys="id")
    assert rows_of(tmp_lake / "t") == [(1, "z"), (2, "b")]
    with pytest.raises(SchemaMismatch, match="upsert column 'key'"):
        handle.upsert(spark.createDataFrame([(1, "a")], SCHEMA), keys="key")


def test_idempotent_append_is_skipped_on_replay(spark, native, tmp_lake):
    handle = native()
    df = spark.createDataFrame([(1, "a")], SCHEMA)
    first = handle.append(df, txn=("app-1", 0))
    again = handle.append(df, txn=("app-1", 0))
    later = handle.append(spark.createDataFrame([(2, "b")], SCHEMA), txn=("app-1", 1))
    assert (first.skipped, again.skipped, later.skipped) == (False, True, False)
    assert rows_of(tmp_lake / "t") == [(1, "a"), (2, "b")]
    table = DeltaTable(str(tmp_lake / "t"))
    assert table.version() == 1
    # Sail ignores txnAppId; the (app, version) is in the commit's userMetadata
    assert table.history(1)[0]["userMetadata"] == TXN_MARKER + json.dumps(["app-1", 1])


def test_idempotent_append_sees_txn_committed_by_delta_rs(spark, native, tmp_lake):
    import pyarrow as pa

    path = str(tmp_lake / "t")
    data = pa.table({"id": pa.array([1], pa.int64()), "name": ["a"]})
    write_deltalake(path, data, commit_properties=CommitProperties(app_transactions=[Transaction("app-2", 5)]))
    handle = native()
    assert handle.append(spark.createDataFrame([(1, "a")], SCHEMA), txn=("app-2", 5)).skipped
    assert not handle.append(spark.createDataFrame([(2, "b")], SCHEMA), txn=("app-2", 6)).skipped
    assert rows_of(path) == [(1, "a"), (2, "b")]


def test_idempotent_upsert_and_delete_are_refused_where_the_engine_cannot_record_them(spark, native, tmp_lake):
    handle = native(table="orders")
    handle.append(spark.createDataFrame([(1, "a")], SCHEMA))
    with pytest.raises(UnsupportedOperation, match=r"delta table 'orders' does not support upsert\(\): idempotent"):
        handle.upsert(spark.createDataFrame([(1, "b")], SCHEMA), keys=["id"], txn=("app-3", 0))
    with pytest.raises(UnsupportedOperation, match=r"does not support delete\(\)"):
        handle.delete("id = 1", txn=("app-3", 0))
    assert rows_of(tmp_lake / "t") == [(1, "a")]  # nothing was written
    assert not handle.upsert(spark.createDataFrame([(1, "b")], SCHEMA), keys=["id"]).skipped


def test_create_sets_schema_partitions_and_properties(native, tmp_lake):
    handle = native(schema="id BIGINT, name STRING, day STRING", partition_by=["day"],
                    properties={"delta.appendOnly": "false", "team": "orders"})
    assert not handle.exists()
    handle.create()
    handle.create()  # a no-op when it exists
    metadata = DeltaTable(str(tmp_lake / "t")).metadata()
    assert metadata.partition_columns == ["day"]
    assert metadata.configuration == {"delta.appendOnly": "false", "team": "orders"}
    assert [f.name for f in handle.schema.fields] == ["id", "name", "day"]


def test_merge_schema_adds_columns_and_a_mismatch_is_refused(spark, native, tmp_lake):
    handle = native()
    handle.append(spark.createDataFrame([(1, "a")], SCHEMA))
    wider = spark.createDataFrame([(2, "b", 7)], "id BIGINT, name STRING, n INT")
    with pytest.raises(Exception, match="mergeSchema"):
        handle.append(wider)
    handle.append(wider, merge_schema=True)
    assert rows_of(tmp_lake / "t") == [(1, "a", None), (2, "b", 7)]


def test_named_table_with_location(spark, native, tmp_lake):
    spark.sql("CREATE DATABASE IF NOT EXISTS shop").collect()
    handle = native(name="shop.orders", location=str(tmp_lake / "orders"), schema=SCHEMA)
    handle.create()
    assert handle.exists() and spark.catalog.tableExists("shop.orders")
    handle.append(spark.createDataFrame([(1, "a")], SCHEMA))
    assert [tuple(r) for r in spark.read.table("shop.orders").collect()] == [(1, "a")]
    assert rows_of(tmp_lake / "orders") == [(1, "a")]
    assert [c["version"] for c in handle.history()] == [1, 0]
    handle.drop()
    assert not handle.exists()
