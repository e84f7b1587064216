"""The PostgreSQL JDBC driver in a Spark session, and JDBC connections through it.

Spark's JDBC data source moves the rows; what it cannot do (transactions, DDL,
catalog queries) goes through the same driver over py4j, so the plugin needs no
Python database package. Nothing here imports pyspark at module level.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import weakref
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

import attrs

from lakeport.api import LakeportError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

DRIVER_CLASS = "org.postgresql.Driver"
#: what ``lakeport_spark_conf`` adds to a session lakeport starts when no jar is configured.
MAVEN_COORDINATES = "org.postgresql:postgresql:42.7.14"
#: where Debian and Ubuntu's ``libpostgresql-jdbc-java`` puts the jar.
DEBIAN_JAR = "/usr/share/java/postgresql.jar"

HOW_TO_GET_THE_DRIVER = (
    f"start the session with spark.jars.packages={MAVEN_COORDINATES} (lakeport does so for a session it "
    "starts itself when lakeport-postgres is installed; for your own session use "
    "lakeport_postgres.postgres_spark_conf()), or set driver_jar = \"/path/to/postgresql.jar\" under "
    f"[plugins.postgres] (Debian/Ubuntu: apt-get install libpostgresql-jdbc-java gives {DEBIAN_JAR}; "
    "or download it from https://jdbc.postgresql.org/download/)"
)


class PostgresError(LakeportError):
    """PostgreSQL refused something; the message names the table and says what the server said."""

    def __init__(self, message: str, *, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


class DriverNotFound(LakeportError):
    """The Spark session cannot load the PostgreSQL JDBC driver."""


@attrs.frozen
class PostgresSettings:
    """``[plugins.postgres]``: where the JDBC driver comes from."""

    #: a local jar (e.g. /usr/share/java/postgresql.jar) instead of Maven coordinates.
    driver_jar: str | None = None
    #: Maven coordinates used when no jar is given.
    driver_package: str = MAVEN_COORDINATES


def postgres_spark_conf(driver_jar: str | None = None, driver_package: str = MAVEN_COORDINATES) -> dict[str, str]:
    """The settings a session needs at start for the driver: a jar path, else Maven coordinates.

    For sessions built outside lakeport (a test suite's, a notebook's):
    ``SparkSession.builder.config(map=postgres_spark_conf())``.
    """
    if driver_jar:
        return {"spark.jars": driver_jar}
    return {"spark.jars.packages": driver_package}


# -- the driver in a session ------------------------------------------------------------
_loaders: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
_loaders_lock = threading.RLock()


def _jvm(spark: SparkSession) -> Any:
    jvm = getattr(spark, "_jvm", None)
    if jvm is None or getattr(spark, "_jsparkSession", None) is None:
        raise LakeportError(
            "lakeport-postgres needs a classic Spark session (it opens JDBC connections in the driver JVM); "
            "this one has no JVM gateway (Spark Connect?)"
        )
    return jvm


def _driver_class(spark: SparkSession) -> Any | None:
    """``org.postgresql.Driver`` as the session's class loader sees it, or None."""
    from py4j.protocol import Py4JJavaError

    jvm = _jvm(spark)
    loader = jvm.java.lang.Thread.currentThread().getContextClassLoader()
    try:
        return jvm.java.lang.Class.forName(DRIVER_CLASS, True, loader)
    except Py4JJavaError:
        return None


def driver_available(spark: SparkSession) -> bool:
    """Whether this session can load the PostgreSQL JDBC driver."""
    return _driver_class(spark) is not None


def ensure_driver(spark: SparkSession, driver_jar: str | None = None) -> Any:
    """The driver class; attaches ``driver_jar`` to a running session that lacks it, else says how to get it."""
    with _loaders_lock:
        found = _loaders.get(spark)
        if found is not None:
            return found
        found = _driver_class(spark)
        if found is None and driver_jar:
            log.info("the Spark session has no PostgreSQL JDBC driver; attaching %s", driver_jar)
            attach_driver(spark, driver_jar)
            found = _driver_class(spark)
        if found is None:
            configured = f" (driver_jar {driver_jar} did not provide it)" if driver_jar else ""
            raise DriverNotFound(
                f"the PostgreSQL JDBC driver ({DRIVER_CLASS}) is not in this Spark session{configured}: "
                + HOW_TO_GET_THE_DRIVER
            )
        _loaders[spark] = found
        return found


def attach_driver(spark: SparkSession, source: str | None = None) -> str:
    """Put the driver into a session that is already running; returns the jar's local path.

    ``source`` is a jar path or Maven coordinates (``group:artifact:version``, resolved
    by Spark's own Ivy, from Maven Central); by default Debian's jar if installed, else
    :data:`MAVEN_COORDINATES`. ``spark.jars`` cannot change once a session runs: the jar
    is added to the class loader Spark's driver threads share (and shipped to executors),
    so Spark's JDBC source and this plugin's connections find it from every thread.
    """
    jvm = _jvm(spark)
    if source is None:
        source = DEBIAN_JAR if os.path.isfile(DEBIAN_JAR) else MAVEN_COORDINATES
    if re.fullmatch(r"[\w.\-]+:[\w.\-]+:[\w.\-]+", source):
        spark.sql(f"ADD JAR 'ivy://{source}?transitive=false'")
        urls = [str(u.toString()) for u in spark._jsparkSession.sharedState().jarClassLoader().getURLs()]
        artifact = source.split(":")[1]
        jars = [u for u in urls if artifact in u.rsplit("/", 1)[-1]]
        if not jars:
            raise DriverNotFound(f"Spark resolved {source} but no jar of it is on the session's class path")
        url = jvm.java.net.URL(jars[-1])
        path = str(url.getPath())
    else:
        if not os.path.isfile(source):
            raise DriverNotFound(f"driver_jar {source!r} does not exist: " + HOW_TO_GET_THE_DRIVER)
        path = os.path.abspath(source)
        url = jvm.java.io.File(path).toURI().toURL()
        spark._jsc.addJar(path)
    loader = _shared_loader(spark)
    if loader is None:
        raise DriverNotFound(
            "this Spark driver has no class loader that accepts jars at run time: " + HOW_TO_GET_THE_DRIVER
        )
    loader.addURL(url)
    with _loaders_lock:
        _loaders.pop(spark, None)
    log.info("attached the PostgreSQL JDBC driver %s to the running Spark session", path)
    return path


def _shared_loader(spark: SparkSession) -> Any | None:
    """The outermost Spark ``MutableURLClassLoader`` above this thread's: the one all driver threads inherit."""
    jvm = _jvm(spark)
    mutable = jvm.java.lang.Class.forName("org.apache.spark.util.MutableURLClassLoader")
    loader, found = jvm.java.lang.Thread.currentThread().getContextClassLoader(), None
    while loader is not None:
        if mutable.isInstance(loader):
            found = loader
        loader = loader.getParent()
    return found


# -- connections --------------------------------------------------------------------------
def _throwable(exc: BaseException) -> Any | None:
    """The Java exception behind a py4j or PySpark error, if any."""
    java = getattr(exc, "java_exception", None)  # py4j.protocol.Py4JJavaError
    if java is None:
        java = getattr(exc, "_origin", None)  # pyspark.errors CapturedException
    return java


def server_message(exc: BaseException, secret: str | None = None) -> tuple[str, str | None]:
    """What the server (or driver) said, and the SQLSTATE: the innermost ``SQLException`` of the chain."""
    java = _throwable(exc)
    message, state = None, None
    seen = 0
    while java is not None and seen < 20:
        seen += 1
        name = str(java.getClass().getName())
        if "SQLException" in name or name.endswith("BatchUpdateException") or "PSQL" in name:
            message, state = str(java.getMessage()), java.getSQLState()
            nxt = java.getNextException() if hasattr(java, "getNextException") else None
            if nxt is not None:
                message, state = str(nxt.getMessage()), nxt.getSQLState()
        java = java.getCause()
    if message is None:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return scrub(message, secret), (str(state) if state is not None else None)


def scrub(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


class Connection:
    """One JDBC connection in the driver JVM: statements, queries and transactions."""

    def __init__(self, jconn: Any, jvm: Any, secret: str | None) -> None:
        self._jconn, self._jvm, self._secret = jconn, jvm, secret

    @classmethod
    def open(cls, spark: SparkSession, url: str, properties: Mapping[str, str], *, driver_jar: str | None = None,
             secret: str | None = None) -> Connection:
        driver = ensure_driver(spark, driver_jar).newInstance()
        jvm = _jvm(spark)
        props = jvm.java.util.Properties()
        for key, value in properties.items():
            props.setProperty(key, value)
        props.setProperty("connectTimeout", properties.get("connectTimeout", "10"))
        props.setProperty("ApplicationName", properties.get("ApplicationName", "lakeport"))
        jconn = driver.connect(url, props)
        if jconn is None:
            raise PostgresError(f"{url} is not a PostgreSQL JDBC URL (expected jdbc:postgresql://host:port/database)")
        return cls(jconn, jvm, secret)

    def close(self) -> None:
        self._jconn.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; the number of rows it changed."""
        log.debug("postgres: %s", sql)
        statement = self._jconn.prepareStatement(sql)
        try:
            self._bind(statement, params)
            statement.execute()
            return int(statement.getUpdateCount())
        finally:
            statement.close()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a query, each a tuple of Python strings, ints, bools or None."""
        log.debug("postgres: %s", sql)
        statement = self._jconn.prepareStatement(sql)
        try:
            self._bind(statement, params)
            results = statement.executeQuery()
            width = results.getMetaData().getColumnCount()
            rows = []
            while results.next():
                rows.append(tuple(results.getObject(i + 1) for i in range(width)))
            return rows
        finally:
            statement.close()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """Statements in the block commit together, or none does."""
        self._jconn.setAutoCommit(False)
        try:
            yield self
            self._jconn.commit()
        except BaseException:
            self._jconn.rollback()
            raise
        finally:
            self._jconn.setAutoCommit(True)

    def _bind(self, statement: Any, params: Sequence[Any]) -> None:
        for index, value in enumerate(params, start=1):
            if value is None:
                statement.setNull(index, self._jvm.java.sql.Types.VARCHAR)
            elif isinstance(value, bool):
                statement.setBoolean(index, value)
            elif isinstance(value, int):
                statement.setLong(index, value)
            else:
                statement.setString(index, str(value))
