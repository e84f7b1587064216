"""pytest plugin (entry point ``pytest11``): Spark, temporary lakes and projects.

Loaded in every pytest run where lakeport is installed, so nothing heavy is
imported until a fixture is used.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local SparkSession for the whole test session (a start costs seconds)."""
    from lakeport.session import get_or_create_session

    session = get_or_create_session({"spark.sql.shuffle.partitions": "2", "spark.default.parallelism": "2"})
    yield session
    session.stop()


@pytest.fixture
def tmp_lake(tmp_path: Path) -> Path:
    """An empty folder for tables, checkpoints and a warehouse."""
    lake = tmp_path / "lake"
    lake.mkdir()
    return lake


@pytest.fixture
def lakeport_project(tmp_lake: Path) -> Callable[..., Any]:
    """``lakeport_project(toml_text, env=None)`` -> a Project rooted at ``tmp_lake``.

    ``{project_dir}`` in the text is the temporary lake.
    """
    from lakeport.project import Project

    def make(text: str, env: str | None = None, **kwargs: Any) -> Any:
        project_file = tmp_lake / "lakeport.toml"
        project_file.write_text(textwrap.dedent(text))
        return Project.from_file(project_file, env=env, **kwargs)

    return make
