"""The kind as a project file uses it: found through its entry point, options checked, the password kept secret."""

import pytest

from lakeport.api import ConfigError

TABLE = """
[tables.Orders]
kind = "postgres"
url = "jdbc:postgresql://127.0.0.1:5432/shop"
dbtable = "sales.orders"
user = "etl"
password = "${env:SHOP_PG_PASSWORD}"
schema = "id BIGINT, name STRING"
"""


def test_a_table_of_this_kind_loads_from_the_project_file(lakeport_project, monkeypatch):
    monkeypatch.setenv("SHOP_PG_PASSWORD", "s3cret-value")
    handle = lakeport_project(TABLE).handle("Orders")
    assert handle.kind == "postgres" and handle.dbtable == "sales.orders"
    assert handle.describe() == "sales.orders at jdbc:postgresql://127.0.0.1:5432/shop"
    assert "s3cret-value" not in repr(handle) + repr(handle.options)


def test_a_literal_password_is_refused_naming_the_key_not_the_value(lakeport_project):
    text = TABLE.replace('"${env:SHOP_PG_PASSWORD}"', '"hunter2"')
    with pytest.raises(ConfigError) as info:
        lakeport_project(text).handle("Orders")
    message = str(info.value)
    assert "tables.Orders.password" in message and "${env:" in message
    assert "hunter2" not in message


def test_an_unset_password_variable_is_named(lakeport_project, monkeypatch):
    monkeypatch.delenv("SHOP_PG_PASSWORD", raising=False)
    with pytest.raises(ConfigError, match=r"tables.Orders.password: environment variable SHOP_PG_PASSWORD is not set"):
        lakeport_project(TABLE)


def test_a_misspelt_option_names_the_table_and_the_key(lakeport_project, monkeypatch):
    monkeypatch.setenv("SHOP_PG_PASSWORD", "x")
    with pytest.raises(ConfigError, match=r"tables.Orders: unknown key\(s\) dbtabel \(did you mean 'dbtable'\?\)"):
        lakeport_project(TABLE.replace("dbtable", "dbtabel"))


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (('url = "jdbc:postgresql://127.0.0.1:5432/shop"\n', ""), "tables.Orders.url: kind \"postgres\" needs url"),
        (("jdbc:postgresql:", "jdbc:mysql:"), "tables.Orders.url: expected jdbc:postgresql://host:port/database"),
        (('dbtable = "sales.orders"\n', ""), "needs dbtable (a table) or query"),
        (('dbtable = "sales.orders"\n', 'dbtable = "o"\npartition_column = "id"\n'),
         "missing lower_bound, upper_bound, num_partitions"),
        (('dbtable = "sales.orders"\n', 'dbtable = "o"\noverwrite_mode = "replace"\n'),
         "tables.Orders.overwrite_mode: expected one of truncate, recreate"),
    ],
)
def test_inconsistent_options_are_refused_naming_the_key(lakeport_project, monkeypatch, change, problem):
    monkeypatch.setenv("SHOP_PG_PASSWORD", "x")
    with pytest.raises(ConfigError) as info:
        lakeport_project(TABLE.replace(*change)).handle("Orders")
    assert problem in str(info.value)


def test_the_session_gets_the_driver_from_maven_or_the_configured_jar(lakeport_project, monkeypatch):
    monkeypatch.setenv("SHOP_PG_PASSWORD", "x")
    project = lakeport_project(TABLE)
    assert project.hooks.spark_conf(project)["spark.jars.packages"] == "org.postgresql:postgresql:42.7.14"
    project = lakeport_project(TABLE + '\n[plugins.postgres]\ndriver_jar = "/usr/share/java/postgresql.jar"\n')
    conf = project.hooks.spark_conf(project)
    assert conf["spark.jars"] == "/usr/share/java/postgresql.jar" and "spark.jars.packages" not in conf


def test_a_project_without_postgres_tables_adds_nothing_to_the_session(lakeport_project):
    project = lakeport_project('[tables.T]\nkind = "files"\npath = "{project_dir}/t"\nformat = "parquet"\n')
    assert "spark.jars.packages" not in project.hooks.spark_conf(project)


def test_a_misspelt_plugin_setting_is_named(lakeport_project, monkeypatch):
    monkeypatch.setenv("SHOP_PG_PASSWORD", "x")
    with pytest.raises(ConfigError, match=r"plugins.postgres.*driver_jr"):
        lakeport_project(TABLE + '\n[plugins.postgres]\ndriver_jr = "/x.jar"\n')


def test_a_driver_jar_that_is_not_there_says_how_to_get_the_driver(spark, tmp_path):
    from lakeport_postgres.driver import MAVEN_COORDINATES, DriverNotFound, attach_driver

    with pytest.raises(DriverNotFound) as info:
        attach_driver(spark, str(tmp_path / "postgresql.jar"))
    message = str(info.value)
    assert message.startswith(f"driver_jar '{tmp_path / 'postgresql.jar'}' does not exist: ")
    assert f"spark.jars.packages={MAVEN_COORDINATES}" in message and "libpostgresql-jdbc-java" in message
