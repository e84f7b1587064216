"""[plugins.delta]: which sessions get delta-spark's jars, what `lakeport plugins` says, and joined jar lists."""

from __future__ import annotations

import pytest

from lakeport import Project, hookimpl

TABLE = '[tables.T]\nkind = "delta"\npath = "/tmp/t"\n'


def conf_of(section: str, *plugins: object) -> dict[str, str]:
    project = Project.from_toml(TABLE + section, source="lakeport.toml", plugins=plugins)
    return project.hooks.spark_conf(project)


def test_jars_true_adds_delta_spark_to_the_session_lakeport_builds():
    pytest.importorskip("delta", reason="needs lakeport-delta[spark]")
    from lakeport_delta.spark_conf import delta_coordinate

    conf = conf_of("[plugins.delta]\njars = true\n")
    assert conf["spark.jars.packages"] == delta_coordinate()
    assert conf["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert conf["spark.sql.catalog.spark_catalog"] == "org.apache.spark.sql.delta.catalog.DeltaCatalog"


def test_backend_native_implies_the_jars_unless_jars_is_false():
    pytest.importorskip("delta", reason="needs lakeport-delta[spark]")
    assert "spark.jars.packages" in conf_of('[plugins.delta]\nbackend = "native"\n')
    assert "spark.jars.packages" not in conf_of('[plugins.delta]\nbackend = "native"\njars = false\n')
    assert "spark.jars.packages" not in conf_of("")  # the default: plain sessions, embedded Delta


def test_two_plugins_adding_packages_are_joined_not_replaced():
    pytest.importorskip("delta", reason="needs lakeport-delta[spark]")

    class Driver:
        @hookimpl
        def lakeport_spark_conf(self, project):
            return {"spark.jars.packages": "org.postgresql:postgresql:42.7.14"}

    packages = conf_of("[plugins.delta]\njars = true\n", Driver())["spark.jars.packages"].split(",")
    assert "org.postgresql:postgresql:42.7.14" in packages and any(p.startswith("io.delta:delta-spark_") for p in packages)


@pytest.mark.parametrize("section,says", [
    ("", "embedded (auto: a local session has no Delta jars); [plugins.delta] jars = true would add them"),
    ("[plugins.delta]\njars = true\n", "native (auto: [plugins.delta] jars = true puts delta-spark in the session lakeport builds)"),
    ('[plugins.delta]\nbackend = "embedded"\n', "embedded (configured in [plugins.delta])"),
    ('[plugins.delta]\nbackend = "native"\n', "native (configured in [plugins.delta]) with delta-spark's jars in the session lakeport builds"),
])
def test_lakeport_plugins_says_which_backend_and_why(section, says, monkeypatch):
    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION", raising=False)
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    project = Project.from_toml(TABLE + section, source="lakeport.toml")
    (delta,) = [info for info in project.hooks.describe(project) if info.name == "delta"]
    assert delta.backends == {"delta": says}


def test_without_a_project_the_description_is_that_of_the_default_settings(monkeypatch):
    """`lakeport plugins` outside a project describes the defaults without importing the settings class."""
    from lakeport_delta.plugin import describe_backend
    from lakeport_delta.settings import DeltaSettings

    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION", raising=False)
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    project = Project.from_toml(TABLE, source="lakeport.toml")
    assert project.plugin_settings(DeltaSettings) == DeltaSettings()
    assert describe_backend(None) == describe_backend(project)
