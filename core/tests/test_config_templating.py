"""{var}, {Table}, {Table.prop}, ${env:VAR}, environments and Configurator-style lookups."""

from __future__ import annotations

import pytest

from lakeport import ConfigError

PROJECT = """
[lakeport]
default_env = "dev"

[env.dev.vars]
root = "/tmp/lakeport-demo"
db = "demo_dev"
batch = 500

[env.prod.vars]
root = "/mnt/lake"
db = "demo"
batch = 5000

[tables.MyTbl]
kind = "files"
name = "{db}.my_tbl"
path = "{root}/silver/my_tbl"
schema = "id BIGINT, name STRING"
max_files_per_trigger = "{batch}"

[tables.MyTblMirror]
kind = "files"
name = "{MyTbl}_mirror"
path = "{MyTbl.path}_mirror"
checkpoint_path = "{root}/_checkpoints/mirror"
comment = "secret is ${env:LAKEPORT_TEST_SECRET} {{literal}}"

[[tables.MyTbl.expectations]]
name = "id_present"
constraint = "id IS NOT NULL"
action = "drop"

[pipelines.mirror]
source = "MyTbl"
target = "MyTblMirror"
mode = "upsert"
keys = ["id"]
"""


@pytest.fixture(autouse=True)
def secret(monkeypatch):
    monkeypatch.setenv("LAKEPORT_TEST_SECRET", "s3cr3t")
    monkeypatch.delenv("LAKEPORT_ENV", raising=False)


def test_vars_table_names_and_properties_resolve(lakeport_project):
    project = lakeport_project(PROJECT)
    assert project.config.env == "dev"
    assert project.get("MyTbl") == "demo_dev.my_tbl"
    assert project.get("MyTblMirror", "name") == "demo_dev.my_tbl_mirror"
    assert project.get("MyTblMirror", "path") == "/tmp/lakeport-demo/silver/my_tbl_mirror"
    assert project.get("MyTblMirror", "checkpoint_path") == "/tmp/lakeport-demo/_checkpoints/mirror"


def test_a_whole_value_reference_keeps_its_type(lakeport_project):
    project = lakeport_project(PROJECT)
    assert project.table_options("MyTbl").max_files_per_trigger == 500


def test_env_secret_and_literal_braces(lakeport_project):
    project = lakeport_project(PROJECT)
    assert project.get("MyTblMirror", "comment") == "secret is s3cr3t {literal}"


def test_environment_is_chosen_by_argument_then_env_var(lakeport_project, monkeypatch):
    assert lakeport_project(PROJECT, env="prod").get("MyTbl", "path") == "/mnt/lake/silver/my_tbl"
    monkeypatch.setenv("LAKEPORT_ENV", "prod")
    assert lakeport_project(PROJECT).get("MyTbl") == "demo.my_tbl"


def test_project_dir_is_a_builtin_var(lakeport_project, tmp_lake):
    project = lakeport_project("[tables.T]\nkind='files'\npath='{project_dir}/t'\n")
    assert project.get("T", "path") == f"{tmp_lake}/t"


def test_expectations_and_pipelines_are_structured(lakeport_project):
    project = lakeport_project(PROJECT)
    handle = project.handle("MyTbl")
    assert [(e.name, e.constraint, e.action) for e in handle.expectations] == [("id_present", "id IS NOT NULL", "drop")]
    pipeline = project.config.pipelines["mirror"]
    assert pipeline.kind == "etl"
    assert pipeline.options.keys == ("id",) and pipeline.options.mode.value == "upsert"


def test_dltflow_form_of_expectations_takes_one_action(lakeport_project):
    project = lakeport_project(
        """
        [tables.People]
        kind = "files"
        path = "/tmp/people"
        expectation_action = "drop"
        expectations = [{name = "check_age", constraint = "age BETWEEN 25 AND 45"}, {name = "named", constraint = "name IS NOT NULL", action = "allow"}]
        """
    )
    assert [(e.name, e.action) for e in project.handle("People").expectations] == [("check_age", "drop"), ("named", "allow")]


def test_get_of_unknown_table_or_property(lakeport_project):
    project = lakeport_project(PROJECT)
    with pytest.raises(ConfigError, match="unknown table 'Nope' \\(tables: MyTbl, MyTblMirror\\)"):
        project.get("Nope")
    with pytest.raises(ConfigError, match="tables.MyTbl: has no property 'colour'"):
        project.get("MyTbl", "colour")
