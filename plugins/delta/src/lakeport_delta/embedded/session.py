"""The Spark session side of the embedded engine: registering the data source, the thread's active session."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from lakeport.api import register_data_source

from . import SOURCE_NAME

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

logger = logging.getLogger(__name__)

PUSHDOWN_CONF = "spark.sql.python.filterPushdown.enabled"


def register(spark: SparkSession) -> None:
    """Register the ``lakeport_delta`` data source on ``spark`` (once per session).

    Also makes ``spark`` the active session of the calling thread: Spark looks Python
    data sources up through the thread's active session, which a new thread lacks.
    Turns on ``spark.sql.python.filterPushdown.enabled`` so that reads prune partitions.
    """
    from .source import DeltaDataSource

    activate(spark)
    if not register_data_source(spark, DeltaDataSource):
        return
    try:
        if str(spark.conf.get(PUSHDOWN_CONF, "false")).lower() != "true":
            spark.conf.set(PUSHDOWN_CONF, "true")
    except Exception as e:  # noqa: BLE001 - a read-only conf only costs pruning
        logger.warning("could not enable %s (%s); Delta reads will not prune files", PUSHDOWN_CONF, e)
    logger.debug("registered data source %r on %r", SOURCE_NAME, spark)


def activate(spark: SparkSession) -> None:
    """Make ``spark`` the JVM-side active session of this thread (classic Spark only).

    Only the JVM's thread-local: PySpark's own ``SparkSession._activeSession`` is
    shared by all threads, and setting it from a foreachBatch function would leak
    the batch's cloned session into the caller's code.
    """
    jsession = getattr(spark, "_jsparkSession", None)
    jvm = getattr(spark, "_jvm", None)
    if jsession is None or jvm is None:
        return  # Spark Connect: the server resolves the session itself
    from pyspark.sql import SparkSession

    jclass = getattr(SparkSession, "_get_j_spark_session_class", None)
    if jclass is not None:
        jclass(jvm).setActiveSession(jsession)


def parallelism(spark: SparkSession) -> int:
    try:
        return int(spark.sparkContext.defaultParallelism)
    except Exception:  # noqa: BLE001 - Spark Connect has no SparkContext
        return int(spark.conf.get("spark.sql.shuffle.partitions", "2") or 2)


def table_root(path: str | os.PathLike) -> str:
    from . import log as dlog

    return dlog.table_root(path)
