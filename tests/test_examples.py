"""The two seed examples under examples/, run as a user would: from TOML and from Python."""

from __future__ import annotations

import importlib
import shutil
import sys
from collections import Counter
from pathlib import Path

import pytest

from lakeport import Project
from lakeport.cli import main as lakeport

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture
def example(tmp_path, monkeypatch):
    """A fresh copy of an example folder, importable as its modules are named in its TOML."""

    def copy(name: str) -> Path:
        folder = tmp_path / name
        shutil.copytree(EXAMPLES / name, folder, ignore=shutil.ignore_patterns("spark-warehouse", "__pycache__"))
        monkeypatch.syspath_prepend(str(folder))
        for module in [m for m in sys.modules if m in ("streaming_append", "delta_streaming")]:
            monkeypatch.delitem(sys.modules, module)
        return folder

    return copy


def people_rows(project: Project) -> Counter:
    rows = project.handle("people").read().collect()
    return Counter((r["name"], r["age"], r["gender"]) for r in rows)


def expected_people() -> Counter:
    from streaming_append import make_people_objects

    return Counter(tuple(p) for p in make_people_objects(1000) if 25 <= p.age <= 45)


def test_streaming_append_from_toml_drops_by_check_age_and_appends_to_delta(spark, example, capsys):
    folder = example("streaming_append")

    assert lakeport(["run", "queue_example", "-c", str(folder / "lakeport.toml")]) == 0

    expected = expected_people()
    kept = sum(expected.values())
    out = capsys.readouterr().out
    assert f"queue_example: 1 batch, 1000 rows in, {kept} written, {1000 - kept} dropped by check_age, exactly-once" in out
    project = Project.from_file(folder / "lakeport.toml")
    assert people_rows(project) == expected
    schema = project.handle("people").schema
    assert [(f.name, f.dataType.simpleString()) for f in schema.fields] == [
        ("name", "string"), ("age", "int"), ("gender", "string")]

    from deltalake import DeltaTable

    table = DeltaTable(project.handle("people").path)
    assert table.to_pyarrow_table().num_rows == kept
    assert [entry["operation"] for entry in table.history()] == ["CREATE TABLE"]
    assert table.metadata().description == "This is a comment"


def test_streaming_append_from_python_matches_the_toml_run(spark, example):
    folder = example("streaming_append")
    module = importlib.import_module("streaming_append")

    summary = module.main(folder / "lakeport.toml")

    expected = expected_people()
    assert summary.startswith(f"queue_example: 1 batch, 1000 rows in, {sum(expected.values())} written, ")
    assert people_rows(Project.from_file(folder / "lakeport.toml")) == expected


def test_delta_streaming_mirrors_and_a_second_run_takes_only_new_rows(spark, example, capsys):
    folder = example("delta_streaming")
    module = importlib.import_module("delta_streaming")
    project_file = folder / "lakeport.toml"

    module.main(project_file)
    assert "MyTblMirror now has 5 rows" in capsys.readouterr().out
    module.main(project_file)
    assert "MyTblMirror now has 10 rows" in capsys.readouterr().out

    project = Project.from_file(project_file)
    source = sorted(tuple(r) for r in project.handle("MyTbl").read().collect())
    mirror = sorted(tuple(r) for r in project.handle("MyTblMirror").read().collect())
    assert mirror == source
    assert [r[0] for r in mirror] == list(range(1, 11))

    # The same pipeline from TOML: nothing new, nothing written twice.
    assert lakeport(["run", "mirror", "-c", str(project_file)]) == 0
    assert "mirror: 0 batches, 0 rows in, 0 written, exactly-once" in capsys.readouterr().out
    assert project.handle("MyTblMirror").read().count() == 10
