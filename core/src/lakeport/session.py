"""Getting a SparkSession: reuse what is there, else build a quiet local one."""

from __future__ import annotations

import logging
import os
import sys
import threading
import weakref
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

#: which Python data sources each session has had registered: keyed by the session object
#: itself (weakly, so a stopped session is forgotten), never by ``id()``, which a new session may reuse.
_registered_sources: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
_registered_lock = threading.Lock()

#: settings for a local session on a laptop or CI runner.
LOCAL_DEFAULTS: Mapping[str, str] = {
    "spark.master": "local[*]",
    "spark.app.name": "lakeport",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.host": "127.0.0.1",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.driver.memory": "2g",
    "spark.sql.streaming.stopTimeout": "30s",
}


def get_or_create_session(
    conf: Mapping[str, str] | None = None,
    *,
    explain_failure: Callable[[BaseException, Mapping[str, str]], str | None] | None = None,
) -> SparkSession:
    """The active session as is (Databricks, ``SPARK_REMOTE``), else a local one.

    ``conf`` (e.g. from ``lakeport_spark_conf`` hooks) applies only to a session
    lakeport builds itself. If that session does not start, ``explain_failure(exc,
    settings)`` may turn the error into a message for a person (e.g. jars that could not
    be resolved); it is raised as :class:`ConfigError` without the Py4J chain.
    """
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if os.environ.get("SPARK_REMOTE"):
        log.info("connecting to Spark Connect at %s", os.environ["SPARK_REMOTE"])
        return SparkSession.builder.remote(os.environ["SPARK_REMOTE"]).getOrCreate()
    # Python workers must run the interpreter that runs the driver.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    settings = {**LOCAL_DEFAULTS, **(conf or {})}
    builder = SparkSession.builder
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:
        message = explain_failure(exc, settings) if explain_failure is not None else None
        if message is None:
            raise
        from lakeport.errors import ConfigError

        raise ConfigError(message) from None
    spark.sparkContext.setLogLevel(os.environ.get("LAKEPORT_SPARK_LOG_LEVEL", "ERROR"))
    log.info("started local Spark %s (%s)", spark.version, settings["spark.master"])
    return spark


@contextmanager
def active_session(spark: SparkSession) -> Iterator[None]:
    """Make ``spark`` the active session of this thread for the block, then restore the previous one.

    foreachBatch runs each batch in another thread with a cloned session; handles
    called there must use it. PySpark keeps its active session in a class
    attribute shared by all threads, so leaving the clone there would leak it into
    the caller's code after the stream (its listeners and queries live elsewhere).
    """
    from pyspark.sql import SparkSession

    jvm, jsession = getattr(spark, "_jvm", None), getattr(spark, "_jsparkSession", None)
    if jvm is None or jsession is None:  # Spark Connect: sessions are not thread bound
        yield
        return
    jclass = jvm.SparkSession
    previous, previous_jvm = SparkSession._activeSession, jclass.getActiveSession()
    SparkSession._activeSession = spark
    jclass.setActiveSession(jsession)
    try:
        yield
    finally:
        SparkSession._activeSession = previous
        if previous_jvm.isDefined():
            jclass.setActiveSession(previous_jvm.get())
        else:
            jclass.clearActiveSession()


def python_streams_unsupported() -> str | None:
    """Why this PySpark cannot run lakeport's Python streaming sources, or None if it can.

    They need rate limits (admission control) and available-now for Python sources, new in
    PySpark 4.2; without them a rate limit is ignored and available-now stops short, silently.
    """
    try:
        import pyspark.sql.streaming.datasource  # noqa: F401
    except ImportError:
        import pyspark

        return ("needs PySpark 4.2 or later (rate limits and available-now for Python streaming sources); "
                f"this is PySpark {pyspark.__version__}")
    return None


def register_data_source(spark: SparkSession, data_source: type) -> bool:
    """Register a Python data source class on ``spark`` once; True if this call registered it.

    Registering the same source again on every read would cost a JVM round trip each
    time; keying by the session object (not ``id()``) keeps a new session from
    inheriting a stopped one's record.
    """
    name = f"{data_source.__module__}.{data_source.__qualname__}"
    with _registered_lock:
        done = _registered_sources.setdefault(spark, set())
        if name in done:
            return False
        spark.dataSource.register(data_source)
        done.add(name)
    log.debug("registered Python data source %s on %r", name, spark)
    return True
