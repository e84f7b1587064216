"""Session settings that give a locally built SparkSession delta-spark's jars, extension and catalog.

``delta_spark_conf()`` is what ``delta.pip_utils.configure_spark_with_delta_pip`` does to a
builder, as a plain dict a ``lakeport_spark_conf`` hook can return: the Maven coordinate
``io.delta:delta-spark_<spark major.minor>_2.13:<delta-spark version>`` in
``spark.jars.packages``, plus Delta's SQL extension and catalog. Spark resolves the
coordinate through Ivy once per machine (``~/.ivy2.5.2``) and reuses the cache afterwards.

``explain_jar_failure()`` turns the failed start of such a session (no network to Maven
Central, a proxy, an unpublished version) into one message that names the coordinates and
the way back to the embedded backend, which needs no jars.
"""

from __future__ import annotations

import logging
from typing import Mapping

from lakeport.api import ConfigError

log = logging.getLogger(__name__)

EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"
SCALA = "2.13"

#: delta-spark releases on PyPI whose jar was never published to Maven Central, and the
#: jar of the same line that is (checked 2026-12-03: Maven Central's newest
#: ``io.delta:delta-spark_4.2_2.13`` is 4.4.0, PyPI's ``delta-spark`` is 4.4.1; the 4.4.1
#: Python package is a patch of the Python API only and runs on the 4.4.0 jar).
JAR_VERSIONS: Mapping[str, str] = {"4.4.1": "4.4.0"}

FALLBACK = '[plugins.delta] backend = "embedded" (it needs no jars), or jars = false'


def delta_coordinate(delta_version: str | None = None, spark_version: str | None = None) -> str:
    """The Maven coordinate of delta-spark's jar for the installed (or the given) versions."""
    from importlib.metadata import PackageNotFoundError, version

    if delta_version is None:
        try:
            delta_version = version("delta-spark")
        except PackageNotFoundError:
            raise ConfigError(
                "the native Delta backend on a local session needs delta-spark: pip install lakeport-delta[spark] "
                f"(or use the embedded backend: {FALLBACK})"
            ) from None
    if spark_version is None:
        import pyspark

        spark_version = pyspark.__version__
    major_minor = ".".join(spark_version.split(".")[:2])
    jar_version = JAR_VERSIONS.get(delta_version, delta_version)
    return f"io.delta:delta-spark_{major_minor}_{SCALA}:{jar_version}"


def delta_spark_conf(extra_packages: tuple[str, ...] = ()) -> dict[str, str]:
    """``spark.jars.packages`` + Delta's extension and catalog, for a session lakeport builds.

    Raises :class:`ConfigError` naming ``pip install lakeport-delta[spark]`` when delta-spark
    is not installed.
    """
    packages = [delta_coordinate(), *extra_packages]
    return {
        "spark.jars.packages": ",".join(packages),
        "spark.sql.extensions": EXTENSION,
        "spark.sql.catalog.spark_catalog": CATALOG,
        SNAPSHOT_PARTITIONS: local_snapshot_partitions(),
    }


#: How many tasks delta-spark uses to rebuild a table's state from its log (default 50).
SNAPSHOT_PARTITIONS = "spark.databricks.delta.snapshotPartitions"


def local_snapshot_partitions() -> str:
    """One per local core: Delta's default of 50 is sized for clusters.

    On a laptop every snapshot rebuild (each read, write, MERGE, DESCRIBE HISTORY) ran 50 tasks
    on a few cores; with one per core the native and interop tests went from 223 s to 93 s
    on 2 cores. A project's own ``[spark]`` setting of the key still wins.
    """
    import os

    return str(max(2, os.cpu_count() or 2))


def explain_jar_failure(exc: BaseException, conf: Mapping[str, str]) -> str | None:
    """Why a session with ``spark.jars.packages`` did not start, for a person; None if not that.

    Spark resolves the packages in the JVM launcher before the Py4J gateway exists; when Ivy
    fails the launcher exits and PySpark only sees ``JAVA_GATEWAY_EXITED`` (Ivy's own report
    went to the console above it).
    """
    packages = [p for p in (conf.get("spark.jars.packages") or "").split(",") if p.strip()]
    if not packages:
        return None
    condition = getattr(exc, "getCondition", lambda: None)() or getattr(exc, "getErrorClass", lambda: None)()
    text = str(exc)
    if condition != "JAVA_GATEWAY_EXITED" and "unresolved dependency" not in text and "JAVA_GATEWAY_EXITED" not in text:
        return None
    delta = [p for p in packages if p.startswith("io.delta:")]
    message = (
        f"Spark did not start: the Maven packages {', '.join(packages)} (spark.jars.packages) could not be "
        "resolved, most likely because Maven Central is unreachable from here (no network, a proxy, or "
        "custom spark.jars.repositories/spark.jars.ivySettings); Ivy's report is printed above. "
        "Once resolved, the jars are cached (~/.ivy2.5.2) and need no network again."
    )
    if delta:
        message += f" To use Delta without them, switch to the embedded backend: {FALLBACK}."
    return message
