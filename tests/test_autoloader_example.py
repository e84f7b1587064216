"""The seed's "Streaming with autoload" example (examples/autoloader_avro), from Python and from TOML."""

from __future__ import annotations

import importlib
import re
import shutil
import sys
from pathlib import Path

import pytest

from lakeport import Project
from lakeport.cli import main as lakeport

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "autoloader_avro"


@pytest.fixture
def example(tmp_path, monkeypatch):
    folder = tmp_path / "autoloader_avro"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("spark-warehouse", "landing", "__pycache__"))
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, "autoloader_avro", raising=False)
    return folder


def test_avro_files_stream_into_delta_and_a_new_column_stops_then_arrives(spark, example, capsys):
    module = importlib.import_module("autoloader_avro")
    project_file = example / "lakeport.toml"

    assert module.main(project_file) == 0

    out = capsys.readouterr().out
    assert "AvroSink: 1 batch, 5 rows in, 5 written, exactly-once" in out
    assert re.search(r"stream stopped: AvroSink: streaming query failed: \[UNKNOWN_FIELD_EXCEPTION.NEW_FIELDS_IN_FILE\] Encountered unknown fields "
                     r"during parsing: \[country\] in file .*\.avro", out)
    assert "AvroSink now has 10 rows; countries [None, None, None, None, None, 'DK', 'SE', 'NO', 'DK', 'SE']" in out
    schemas = example / "spark-warehouse" / "_autoloader" / "orders" / "_schemas"
    assert sorted(p.name for p in schemas.iterdir() if p.name.isdigit()) == ["0", "1"]

    project = Project.from_file(project_file)
    rows = [tuple(r) for r in project.handle("AvroSink").read().orderBy("id").collect()]
    assert rows[0] == (1, "item-1", 1.5, None, None)
    assert rows[-1] == (10, "item-3", 15.0, None, "SE")
    assert project.handle("AvroSink").read().columns == ["id", "item", "amount", "_rescued_data", "country"]

    # The same pipeline from TOML: only the files that landed since.
    assert lakeport(["run", "ingest", "-c", str(project_file)]) == 0
    assert "ingest: 0 batches, 0 rows in, 0 written, exactly-once" in capsys.readouterr().out
    module.land_orders(project, 11, 3, with_country=True)
    assert lakeport(["run", "ingest", "-c", str(project_file)]) == 0
    assert "ingest: 1 batch, 3 rows in, 3 written, exactly-once" in capsys.readouterr().out
    assert [r["id"] for r in project.handle("AvroSink").read().orderBy("id").collect()] == list(range(1, 14))
