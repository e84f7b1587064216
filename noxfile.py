"""Sessions: tests (what CI runs), demo, lint, native (Delta on Sail), bench, one plugin alone, the Python x Spark matrix.

Test dependencies come from each distribution's ``test`` extra, not from here.
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

ROOT = Path(__file__).parent
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_venv = "yes"
nox.options.sessions = ["tests", "lint"]

#: The Spark the default sessions use; the matrix covers the others.
SPARK_VERSION = os.environ.get("LAKEPORT_SPARK_VERSION", "4.2.0")
SPARK_VERSIONS = ["4.2.0", "4.3.0"]  # 4.1 lacks rate limits and available-now for Python streams
#: The delta-spark that supports each PySpark (its jar is io.delta:delta-spark_<major.minor>_2.13);
#: none yet for 4.3 (delta-spark 4.4 requires pyspark<=4.2.0): there the native Delta tests skip.
DELTA_SPARK = {"4.2.0": "delta-spark>=4.4,<4.5"}
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]


def distributions() -> list[Path]:
    """core, then every plugin and contrib connector that has a pyproject.toml."""
    found = [ROOT / "core"]
    for group in ("plugins", "contrib"):
        found += sorted(p.parent for p in (ROOT / group).glob("*/pyproject.toml"))
    return found


def first_party_dependencies(dist: Path) -> list[Path]:
    """The folders of the ``lakeport-*`` distributions ``dist`` depends on (they are not on PyPI)."""
    import re

    import tomllib

    folders = {d.name: d for d in distributions()}
    wanted = []
    for requirement in tomllib.loads((dist / "pyproject.toml").read_text())["project"].get("dependencies", []):
        name = re.split(r"[\s<>=!~\[;]", requirement, maxsplit=1)[0]
        if name.startswith("lakeport-") and name.removeprefix("lakeport-") in folders:
            wanted.append(folders[name.removeprefix("lakeport-")])
    return wanted


def install(session: nox.Session, *dists: Path, spark: str = SPARK_VERSION) -> None:
    """Install pyspark once and the given distributions (editable) with their test extras."""
    session.install(f"pyspark[connect]=={spark}", "pyarrow", "pandas<3")
    if spark in DELTA_SPARK and any(dist.name == "delta" for dist in dists):
        session.install(DELTA_SPARK[spark])  # the native Delta backend's tests and the interop tests
    args = []
    for dist in dists:
        args += ["-e", f"{dist.relative_to(ROOT)}[test]" if dist.name != "core" else "core[spark,test]"]
    session.install(*args)


def spark_env(session: nox.Session) -> dict[str, str]:
    python = str(Path(session.bin) / "python")
    return {"PYSPARK_PYTHON": python, "PYSPARK_DRIVER_PYTHON": python}


@nox.session
def tests(session: nox.Session) -> None:
    """Every distribution installed; the whole suite in one pytest run (one SparkSession)."""
    install(session, *distributions())
    session.run("pytest", *session.posargs, env=spark_env(session))


@nox.session
def demo(session: nox.Session) -> None:
    """The seed streaming example end to end on the embedded backend."""
    install(session, *distributions())
    session.run("python", "examples/run_demo.py", *session.posargs, env=spark_env(session))


@nox.session
def lint(session: nox.Session) -> None:
    """ruff, then mypy over core and every plugin (the files listed in pyproject's [tool.mypy])."""
    session.install("ruff")
    session.run("ruff", "check", ".", *session.posargs)
    install(session, *distributions())
    session.install("mypy")
    session.run("mypy")


@nox.session(default=False)
def long(session: nox.Session) -> None:
    """Tests too long for the default suite (marker ``long``): the crash test into native delta-spark."""
    install(session, *distributions())
    session.run("pytest", "-m", "long", *session.posargs, env=spark_env(session))


@nox.session(default=False)
def native(session: nox.Session) -> None:
    """Only the Delta native backend's tests, against a real Spark Connect server (Sail)."""
    install(session, *distributions())
    session.run("pytest", "-m", "native", "plugins/delta/tests", *session.posargs, env=spark_env(session))


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks that print ratios measured side by side."""
    install(session, *distributions())
    scripts = session.posargs or sorted(str(p) for p in (ROOT / "bench").glob("bench_*.py"))
    for script in scripts:
        session.run("python", script, env=spark_env(session))


@nox.session(default=False)
@nox.parametrize("dist", [str(d.relative_to(ROOT)) for d in distributions()[1:]])
def alone(session: nox.Session, dist: str) -> None:
    """One plugin with only the core (and the lakeport plugins it depends on): proves it stands alone."""
    install(session, ROOT / "core", *first_party_dependencies(ROOT / dist), ROOT / dist)
    session.run("pytest", f"{dist}/tests", *session.posargs, env=spark_env(session))


@nox.session(python=PYTHONS, default=False)
@nox.parametrize("spark", SPARK_VERSIONS)
def matrix(session: nox.Session, spark: str) -> None:
    """The suite across Python and Spark versions."""
    install(session, *distributions(), spark=spark)
    session.run("pytest", *session.posargs, env=spark_env(session))
