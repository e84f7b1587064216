"""The lakeport CLI as a person uses it: exit codes and what it prints."""

from __future__ import annotations

import json

from lakeport.cli import main


def test_init_then_run_the_starter_project(tmp_path, capsys, spark):
    assert main(["init", str(tmp_path / "proj")]) == 0
    assert "created" in capsys.readouterr().out
    assert main(["run", "ingest", "-c", str(tmp_path / "proj" / "lakeport.toml")]) == 0
    out = capsys.readouterr().out
    assert "People: overwrite, 4 rows in, 3 written, 1 dropped by id_present, 1 failed adult" in out
    written = spark.read.parquet(str(tmp_path / "proj" / "lake" / "people"))
    assert sorted(r["name"] for r in written.collect()) == ["Ada", "Grace", "Linus"]


def test_init_refuses_to_overwrite(tmp_path, capsys):
    assert main(["init", str(tmp_path)]) == 0
    assert main(["init", str(tmp_path)]) == 1
    assert "already exists; not overwriting it" in capsys.readouterr().err


def test_validate_prints_the_resolved_project(tmp_path, capsys):
    main(["init", str(tmp_path)])
    capsys.readouterr()
    assert main(["validate", "-c", str(tmp_path / "lakeport.toml"), "--json", "--no-spark"]) == 0
    resolved = json.loads(capsys.readouterr().out)
    assert resolved["env"] == "dev"
    assert resolved["tables"]["People"]["path"] == f"{tmp_path}/lake/people"
    assert resolved["tables"]["RawPeople"]["format"] == "json"
    assert resolved["pipelines"]["ingest"]["mode"] == "overwrite"


def test_validate_reports_every_problem_with_exit_2(tmp_path, capsys):
    project_file = tmp_path / "lakeport.toml"
    project_file.write_text(
        '[tables.A]\nkind = "files"\npath = "/a"\nschema = "id BIGNT"\n'
        '[pipelines.p]\nsource = "A"\ntarget = "A"\ntransform = "no_such_module:fn"\n'
    )
    assert main(["validate", "-c", str(project_file), "--no-spark"]) == 2
    err = capsys.readouterr().err
    assert "tables.A.schema: unknown type 'BIGNT' at position 4" in err
    assert "pipelines.p.transform: cannot import module 'no_such_module'" in err


def test_run_unknown_pipeline_exit_2(tmp_path, capsys):
    main(["init", str(tmp_path)])
    assert main(["run", "nope", "-c", str(tmp_path / "lakeport.toml")]) == 2
    assert "unknown pipeline 'nope' (pipelines: ingest)" in capsys.readouterr().err


def test_missing_project_file_exit_2(tmp_path, capsys):
    assert main(["validate", "-c", str(tmp_path / "absent.toml")]) == 2
    assert "project file not found" in capsys.readouterr().err


def test_plugins_table_lists_builtin_kinds(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["plugin", "distribution", "version", "kinds"]
    assert any(line.split()[:2] == ["files", "lakeport"] for line in out.splitlines())


def test_validate_shows_where_each_table_is_including_plugin_kinds(tmp_path, capsys):
    (tmp_path / "lakeport.toml").write_text(
        '[tables.Orders]\nkind = "delta"\nname = "sales.orders"\n'
        '[tables.Files]\nkind = "files"\nformat = "json"\npath = "/data/in"\n'
        '[pipelines.copy]\nsource = "Files"\ntarget = "Orders"\n'
    )
    assert main(["validate", "-c", str(tmp_path / "lakeport.toml"), "--no-spark"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "  table Orders: kind delta delta table sales.orders" in out
    assert "  table Files: kind files json files at /data/in" in out
    assert "  pipeline copy: Files -> Orders (append)" in out
