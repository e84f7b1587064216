"""The one SparkSession of a test run: with delta-spark's jars where delta-spark is installed.

One session serves both Delta backends: the native tests ask for ``backend="native"``, the
embedded ones for ``"embedded"``, and ``auto`` stays embedded (``$LAKEPORT_DELTA_AUTO_BACKEND``)
so tests written for a plain pip install keep running embedded. The jars are resolved
once per machine (Ivy's cache), not per run. The cache of ``lakeport plugins`` goes to a
temporary folder, never to the user's ~/.cache.
"""

from __future__ import annotations

import importlib.util
import os

import pytest

os.environ.setdefault("LAKEPORT_DELTA_AUTO_BACKEND", "embedded")


@pytest.fixture(scope="session", autouse=True)
def _plugins_cache_dir(tmp_path_factory):
    """Every ``lakeport`` command a test runs caches ``lakeport plugins`` here, not in ~/.cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAKEPORT_CACHE_DIR", str(tmp_path_factory.mktemp("plugins-cache")))
        yield


PLAIN = {"spark.sql.shuffle.partitions": "2", "spark.default.parallelism": "2"}


def delta_jars_available() -> bool:
    return importlib.util.find_spec("delta") is not None and importlib.util.find_spec("lakeport_delta") is not None


@pytest.fixture(scope="session")
def spark():
    """Overrides ``lakeport.testing``'s fixture: the same session, plus Delta's jars and the PostgreSQL driver if installed."""
    from lakeport.session import get_or_create_session

    conf = dict(PLAIN)
    explain = None
    if delta_jars_available():
        from lakeport_delta.spark_conf import delta_spark_conf, explain_jar_failure

        conf.update(delta_spark_conf())
        explain = explain_jar_failure
    if importlib.util.find_spec("lakeport_postgres") is not None:  # its JDBC driver, from the start
        from lakeport_postgres import postgres_spark_conf

        packages = [p for p in (conf.get("spark.jars.packages", ""), postgres_spark_conf()["spark.jars.packages"]) if p]
        conf["spark.jars.packages"] = ",".join(packages)
    session = get_or_create_session(conf, explain_failure=explain)
    yield session
    session.stop()
