"""``lakeport dlt bundle``: a Databricks Asset Bundle in the documented shape, parsed back as YAML."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lakeport.cli import main

yaml = pytest.importorskip("yaml")  # lakeport-dlt[test] has it; lakeport itself writes the YAML

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "streaming_append"


@pytest.fixture
def bundle(tmp_path, capsys):
    project = tmp_path / "project"
    project.mkdir()
    for name in ("lakeport.toml", "streaming_append.py"):
        shutil.copy(EXAMPLE / name, project / name)
    out = tmp_path / "bundle"
    code = main(["dlt", "bundle", "streaming_append", "--env", "dev", "-c", str(project / "lakeport.toml"), "-o", str(out)])
    assert code == 0
    assert f"wrote 5 files of bundle 'streaming_append' (target dev) to {out}" in capsys.readouterr().out
    return out


def test_databricks_yml_names_the_bundle_its_resources_and_the_target(bundle):
    root = yaml.safe_load((bundle / "databricks.yml").read_text())
    assert root == {
        "bundle": {"name": "streaming_append"},
        "include": ["resources/*.yml"],
        "targets": {"dev": {"default": True, "mode": "development"}},
    }


def test_the_pipeline_resource_has_the_deploy_settings_with_bundle_paths(bundle):
    resources = yaml.safe_load((bundle / "resources" / "streaming_append.pipeline.yml").read_text())
    pipeline = resources["resources"]["pipelines"]["streaming_append"]
    assert pipeline["name"] == "streaming_append_dev"
    assert (pipeline["catalog"], pipeline["schema"], pipeline["edition"], pipeline["continuous"]) == (
        "main", "queue_example", "ADVANCED", False)
    assert "development" not in pipeline  # the target's development mode sets it
    assert pipeline["clusters"] == [{"label": "default", "node_type_id": "Standard_DS3_v2",
                                     "autoscale": {"min_workers": 1, "max_workers": 2, "mode": "ENHANCED"}}]
    [library] = pipeline["libraries"]
    source = library["file"]["path"]
    assert source == "../src/streaming_append_pipeline.py" and (bundle / "resources" / source).is_file()
    assert pipeline["root_path"] == "${workspace.file_path}/src"
    assert pipeline["configuration"] == {"lakeport.project_file": "${workspace.file_path}/src/lakeport.toml",
                                         "lakeport.env": "dev"}
    assert pipeline["tags"] == {"team": "data"}


def test_the_bundle_carries_the_files_deploy_uploads(bundle, capsys):
    assert sorted(p.name for p in (bundle / "src").iterdir()) == ["lakeport.toml", "streaming_append.py",
                                                                   "streaming_append_pipeline.py"]
    rendered = (bundle / "src" / "streaming_append_pipeline.py").read_text()
    assert main(["dlt", "render", "streaming_append", "-c", str(EXAMPLE / "lakeport.toml")]) == 0
    assert rendered == capsys.readouterr().out


def test_yaml_writer_quotes_what_yaml_would_misread():
    from lakeport_dlt.deploy.bundle import to_yaml

    value = {"on": "yes", "k": ["a: b", "#x", "multi\nline", 1, True, None, [], {}], "n": {"x y": [{"a": 1, "b": [2]}]}}
    assert yaml.safe_load(to_yaml(value)) == value


def test_secrets_become_bundle_variables_not_values(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PEOPLE_PASSWORD", "s3cret-value")
    (tmp_path / "people.py").write_text("def transform(df):\n    return df\n")
    (tmp_path / "lakeport.toml").write_text("""
[env.prod.vars]

[tables.people_queue]
kind = "files"
path = "/tmp/people"

[pipelines.people]
kind = "dlt"
code = "people.py"

[[pipelines.people.datasets]]
func = "transform"
name = "people_clean"
source = "people_queue"

[pipelines.people.deploy]
serverless = true
configuration = { "source.password" = "${env:PEOPLE_PASSWORD}" }
""")
    out = tmp_path / "bundle"
    assert main(["dlt", "bundle", "people", "--env", "prod", "-c", str(tmp_path / "lakeport.toml"), "-o", str(out)]) == 0
    assert not [p for p in out.rglob("*") if p.is_file() and b"s3cret-value" in p.read_bytes()]
    root = yaml.safe_load((out / "databricks.yml").read_text())
    assert root["variables"] == {"PEOPLE_PASSWORD": {
        "description": "${env:PEOPLE_PASSWORD} in the project file; set BUNDLE_VAR_PEOPLE_PASSWORD"}}
    assert root["targets"] == {"prod": {"default": True}}
    pipeline = yaml.safe_load((out / "resources" / "people.pipeline.yml").read_text())["resources"]["pipelines"]["people"]
    assert pipeline["configuration"]["source.password"] == "${var.PEOPLE_PASSWORD}"
    assert pipeline["serverless"] is True and pipeline["name"] == "people_prod"
