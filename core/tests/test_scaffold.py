"""`lakeport init --plugin NAME`: the generated connector installs into a fresh virtual
environment, is found through its entry point, and its own tests (the contract suite) pass."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lakeport.cli import main

REPO = Path(__file__).resolve().parents[2]


def uv() -> str:
    found = shutil.which("uv") or str(REPO / ".nox" / "_tools" / "bin" / "uv")
    if not os.path.exists(found):
        pytest.fail("uv is needed to build the fresh environment (./dev installs it into .nox/_tools)")
    return found


def test_init_plugin_writes_a_distribution_and_refuses_bad_names(tmp_path, capsys):
    assert main(["init", "--plugin", "sqlite", str(tmp_path / "lakeport-sqlite")]) == 0
    out = capsys.readouterr().out
    assert "created" in out and 'pip install -e ".[test]" && pytest' in out
    pyproject = (tmp_path / "lakeport-sqlite" / "pyproject.toml").read_text()
    assert 'name = "lakeport-sqlite"' in pyproject and 'sqlite = "lakeport_sqlite.plugin"' in pyproject
    assert main(["init", "--plugin", "sqlite", str(tmp_path / "lakeport-sqlite")]) == 1
    assert "already exists; not overwriting it" in capsys.readouterr().err
    assert main(["init", "--plugin", "My-Kind", str(tmp_path / "x")]) == 1
    assert "plugin name 'My-Kind': use lower case letters" in capsys.readouterr().err


@pytest.mark.slow
def test_the_scaffold_installs_into_a_fresh_environment_and_its_tests_pass(tmp_path):
    import pyspark

    project = tmp_path / "lakeport-sqlite"
    assert main(["init", "--plugin", "sqlite", str(project)]) == 0
    venv = tmp_path / "venv"
    subprocess.run([uv(), "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    python = str(venv / "bin" / "python")
    install = [uv(), "pip", "install", "-q", "--python", python, f"pyspark=={pyspark.__version__}", "pyarrow", "pandas<3",
               "-e", str(REPO / "core"), "-e", f"{project}[test]"]
    subprocess.run(install, check=True, timeout=600)

    listed = subprocess.run([str(venv / "bin" / "lakeport"), "plugins"], cwd=tmp_path, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    assert any(line.split()[:4] == ["sqlite", "lakeport-sqlite", "0.1.0", "sqlite"] for line in listed.stdout.splitlines())

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYSPARK_"))}
    env.update(PYSPARK_PYTHON=python, PYSPARK_DRIVER_PYTHON=python)
    done = subprocess.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "9 passed, 4 skipped" in done.stdout
