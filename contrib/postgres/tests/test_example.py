"""examples/delta_postgres, run as a user would: a Delta table upserted into PostgreSQL and read back into Delta."""

from __future__ import annotations

import importlib
import shutil
import sys
from pathlib import Path

import pytest

from lakeport.api import Project

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "delta_postgres"


def test_delta_to_postgres_and_back(tmp_path, monkeypatch, postgres_server, postgres_spark):
    pytest.importorskip("lakeport_delta", reason="the example needs lakeport-delta")
    folder = tmp_path / "delta_postgres"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("spark-warehouse", "__pycache__"))
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, "run_example", raising=False)
    example = importlib.import_module("run_example")
    for name, value in (("SHOP_PG_URL", postgres_server.url), ("SHOP_PG_USER", postgres_server.user),
                        ("SHOP_PG_PASSWORD", postgres_server.password)):
        monkeypatch.setenv(name, value)
    postgres_server.psql("DROP TABLE IF EXISTS orders")
    project = Project.from_file(folder / "lakeport.toml").use_spark(postgres_spark)
    example.add_orders(project, 1, 10, version=1)
    example.add_orders(project, 5, 10, version=2)

    summaries = example.run(project)

    assert len(summaries) == 2
    assert postgres_server.rows("SELECT count(*), count(*) FILTER (WHERE version = 2) FROM orders") == [("14", "10")]
    archive = project.handle("OrdersArchive").read()
    assert sorted((r["id"], r["version"]) for r in archive.collect()) == [
        (i, 1 if i < 5 else 2) for i in range(1, 15)]
