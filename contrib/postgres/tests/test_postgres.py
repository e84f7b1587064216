"""What a user sees against a real PostgreSQL server: rows in the table, and clear errors that change nothing."""

from __future__ import annotations

import json

import pytest

from lakeport.api import LakeportError, SchemaMismatch, TableNotFound, UnsupportedOperation

SCHEMA = "id BIGINT, name STRING"


@pytest.fixture
def project(lakeport_project, postgres_server, postgres_spark, pg_password, pg_table):
    """``project(**keys)``: a project with table ``T`` (kind postgres) on the test server."""

    def make(**keys):
        lines = {"url": postgres_server.url, "dbtable": pg_table, "user": postgres_server.user,
                 "password": f"${{env:{pg_password}}}", "schema": SCHEMA, **keys}
        body = "\n".join(f"{k} = {json.dumps(v)}" for k, v in lines.items() if v is not None)
        return lakeport_project(f'[tables.T]\nkind = "postgres"\n{body}\n').use_spark(postgres_spark)

    return make


def rows(df):
    return sorted(tuple(r) for r in df.collect())


def table_rows(server, table):
    return server.rows(f"SELECT id, name FROM {table} ORDER BY id")


# -- reads ----------------------------------------------------------------------------
def test_partitioned_read_and_pushed_down_query(project, postgres_server, postgres_spark, pg_table):
    postgres_server.psql(f"CREATE TABLE {pg_table} AS SELECT g::bigint AS id, 'n' || g AS name "
                         "FROM generate_series(1, 100) AS g")
    partitioned = project(partition_column="id", lower_bound=1, upper_bound=101, num_partitions=4).handle("T").read()
    assert partitioned.rdd.getNumPartitions() == 4
    assert partitioned.count() == 100
    query = project(dbtable=None, query=f"SELECT id, name FROM {pg_table} WHERE id % 10 = 0").handle("T")
    assert rows(query.read()) == [(i, f"n{i}") for i in range(10, 101, 10)]
    with pytest.raises(UnsupportedOperation, match=r"append\(\): this table is a query; set dbtable"):
        query.append(postgres_spark.createDataFrame([(1, "a")], SCHEMA))


# -- writes ---------------------------------------------------------------------------
def test_upsert_keeps_the_greatest_sequence_per_key_and_creates_a_missing_table_with_the_keys_as_primary_key(
    project, postgres_server, postgres_spark, pg_table
):
    handle = project(schema="id BIGINT, name STRING, seq INT").handle("T")
    batch = [(1, "old", 1), (1, "new", 2), (2, "b", 1)]
    result = handle.upsert(postgres_spark.createDataFrame(batch, "id BIGINT, name STRING, seq INT"), keys=["id"],
                           sequence_by="seq")
    assert result.rows_written == 2
    assert table_rows(postgres_server, pg_table) == [("1", "new"), ("2", "b")]
    assert postgres_server.psql(f"SELECT count(*) FROM pg_index WHERE indrelid = '{pg_table}'::regclass "
                                "AND indisprimary") == "1"
    handle.upsert(postgres_spark.createDataFrame([(2, "B", 5), (3, "c", 1)], "id BIGINT, name STRING, seq INT"),
                  keys="id", sequence_by="seq")
    assert table_rows(postgres_server, pg_table) == [("1", "new"), ("2", "B"), ("3", "c")]


def test_overwrite_recreate_replaces_the_table_in_one_transaction(project, postgres_server, postgres_spark, pg_table):
    postgres_server.psql(f"CREATE TABLE {pg_table} (id int PRIMARY KEY, name varchar(3))")
    postgres_server.psql(f"INSERT INTO {pg_table} VALUES (1, 'a')")
    handle = project(overwrite_mode="recreate").handle("T")
    handle.overwrite(postgres_spark.createDataFrame([(7, "a long name", 1.5)], "id BIGINT, name STRING, score DOUBLE"))
    assert [(f.name, f.dataType.simpleString()) for f in handle.schema.fields] == [
        ("id", "bigint"), ("name", "string"), ("score", "double")]
    assert rows(handle.read()) == [(7, "a long name", 1.5)]


# -- bad input: one clear error, nothing changed --------------------------------------
def test_a_wrong_password_names_the_table_and_user_but_never_the_password(
    lakeport_project, postgres_server, postgres_spark, monkeypatch, pg_table
):
    monkeypatch.setenv("WRONG_PG_PASSWORD", "not-the-password-42")
    handle = lakeport_project(
        f'[tables.T]\nkind = "postgres"\nurl = "{postgres_server.url}"\ndbtable = "{pg_table}"\n'
        f'user = "{postgres_server.user}"\npassword = "${{env:WRONG_PG_PASSWORD}}"\n'
    ).use_spark(postgres_spark).handle("T")
    for attempt in (handle.read, lambda: handle.append(postgres_spark.createDataFrame([(1, "a")], SCHEMA))):
        with pytest.raises(LakeportError) as info:
            attempt()
        message = str(info.value)
        assert "postgres table 'T': cannot connect to" in message and "password authentication failed" in message
        assert "not-the-password-42" not in message


def test_a_missing_table_is_named(project, postgres_server, pg_table):
    handle = project().handle("T")
    for attempt in (handle.read, handle.truncate, lambda: handle.delete("id = 1")):
        with pytest.raises(TableNotFound, match=rf"postgres table 'T': {pg_table} does not exist"):
            attempt()
    assert not handle.exists()


@pytest.fixture
def existing(postgres_server, pg_table):
    """The table with rows 1 a, 2 b, 3 c; a primary key, and a rule that refuses the name 'bad'."""
    postgres_server.psql(f"CREATE TABLE {pg_table} (id bigint PRIMARY KEY, name varchar(5) CHECK (name <> 'bad'))")
    postgres_server.psql(f"INSERT INTO {pg_table} VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    return [("1", "a"), ("2", "b"), ("3", "c")]


def test_a_key_column_absent_from_the_data_is_named(project, postgres_server, postgres_spark, pg_table, existing):
    handle = project().handle("T")
    with pytest.raises(SchemaMismatch, match=r"postgres table 'T' .*upsert column 'code' is not in the data \(id, name\)"):
        handle.upsert(postgres_spark.createDataFrame([(2, "B")], SCHEMA), keys=["code"])
    assert table_rows(postgres_server, pg_table) == existing


def test_a_type_the_table_cannot_take_is_named(project, postgres_server, postgres_spark, pg_table, existing):
    handle = project().handle("T")
    with pytest.raises(SchemaMismatch, match=r"postgres table 'T' .*: id string cannot go into id bigint"):
        handle.append(postgres_spark.createDataFrame([("x", "e")], "id STRING, name STRING"))
    # a value PostgreSQL refuses while the rows are staged: the target never sees any of them
    with pytest.raises(LakeportError, match=r"postgres table 'T' .*append failed, nothing was changed: .*too long"):
        handle.append(postgres_spark.createDataFrame([(4, "d"), (5, "far too long")], SCHEMA))
    assert table_rows(postgres_server, pg_table) == existing


@pytest.mark.parametrize("primary_key", [True, False], ids=["on-conflict", "update-insert"])
def test_an_upsert_the_table_refuses_is_rolled_back(project, postgres_server, postgres_spark, pg_table, existing,
                                                     primary_key):
    if not primary_key:
        postgres_server.psql(f"ALTER TABLE {pg_table} DROP CONSTRAINT {pg_table}_pkey")
    handle = project().handle("T")
    batch = postgres_spark.createDataFrame([(2, "B"), (4, "bad")], SCHEMA)  # 2 is updated before 4 is refused
    with pytest.raises(LakeportError, match=r"postgres table 'T' .*upsert failed, nothing was changed: .*check constraint"):
        handle.upsert(batch, keys=["id"])
    assert table_rows(postgres_server, pg_table) == existing
    handle.upsert(postgres_spark.createDataFrame([(2, "B"), (4, "d")], SCHEMA), keys=["id"])
    assert table_rows(postgres_server, pg_table) == [("1", "a"), ("2", "B"), ("3", "c"), ("4", "d")]
    assert postgres_server.psql("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'lakeport_stage_%'") == "0"
