"""PostgresHandle: a PostgreSQL table (or a pushed-down query) through Spark's JDBC source.

Spark's JDBC writer moves the rows into a staging table (parallel, batched); one
transaction on the driver's JDBC connection then applies them to the target:
append, overwrite (truncate, or recreate) and upsert (``INSERT ... ON CONFLICT``)
either commit whole or leave the target as it was.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import uuid
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import attrs

from lakeport.api import (
    ConfigError,
    Handle,
    LakeportError,
    SchemaMismatch,
    TableNotFound,
    WriteResult,
    common_handle_kwargs,
)
from lakeport_postgres.driver import (
    DRIVER_CLASS,
    Connection,
    PostgresError,
    PostgresSettings,
    ensure_driver,
    scrub,
    server_message,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.types import DataType, StructType

    from lakeport.api import Project

log = logging.getLogger(__name__)

OVERWRITE_MODES = ("truncate", "recreate")
_ENV_REFERENCE = re.compile(r"\$\{env:[A-Za-z_][A-Za-z0-9_]*\}")
#: SQLSTATEs: wrong password / no such role, cannot connect, no such table.
_AUTH_STATES = {"28P01", "28000"}
_CONNECT_STATES = {"08001", "08004", "08006", "3D000"}
_MISSING_TABLE = "42P01"


@attrs.frozen
class PostgresOptions:
    """A ``postgres`` table's own keys (besides ``kind``, ``schema``, ``expectations``, ...)."""

    #: ``jdbc:postgresql://host:port/database``
    url: str | None = None
    #: the table, as PostgreSQL SQL names it: ``orders``, ``sales.orders``, ``"Orders"``.
    dbtable: str | None = None
    #: a SELECT run by PostgreSQL instead of reading ``dbtable`` (read only).
    query: str | None = None
    user: str | None = None
    #: only as ``"${env:VAR}"``; never shown in errors, logs or repr.
    password: str | None = attrs.field(default=None, repr=False)
    #: partitioned reads: a numeric column and its bounds (date or timestamp bounds: read(lowerBound=..., upperBound=...)).
    partition_column: str | None = None
    lower_bound: int | None = None
    upper_bound: int | None = None
    num_partitions: int | None = None
    #: columns of the primary key when lakeport creates the table (create, first write).
    primary_key: tuple[str, ...] = ()
    #: overwrite empties the table (``truncate``, keeps its DDL) or replaces it (``recreate``).
    overwrite_mode: str = "truncate"
    #: a local JDBC driver jar, for this table only (see ``[plugins.postgres] driver_jar``).
    driver_jar: str | None = None


def option_problems(options: PostgresOptions, where: str) -> list[str]:
    """What is wrong with a set of options, one line each, naming the key."""
    problems = []
    if not options.url:
        problems.append(f"{where}.url: kind \"postgres\" needs url = \"jdbc:postgresql://host:port/database\"")
    elif not options.url.startswith("jdbc:postgresql:"):
        problems.append(f"{where}.url: expected jdbc:postgresql://host:port/database, got {_safe_url(options.url)!r}")
    if not options.dbtable and not options.query:
        problems.append(f"{where}: kind \"postgres\" needs dbtable (a table) or query (a SELECT to read)")
    bounds = {"partition_column": options.partition_column, "lower_bound": options.lower_bound,
              "upper_bound": options.upper_bound, "num_partitions": options.num_partitions}
    given = [k for k, v in bounds.items() if v is not None]
    if given and len(given) < len(bounds):
        missing = ", ".join(k for k in bounds if k not in given)
        problems.append(f"{where}: a partitioned read needs partition_column, lower_bound, upper_bound and "
                        f"num_partitions together; missing {missing}")
    if options.overwrite_mode not in OVERWRITE_MODES:
        problems.append(f"{where}.overwrite_mode: expected one of {', '.join(OVERWRITE_MODES)}, "
                        f"got {options.overwrite_mode!r}")
    return problems


def _safe_url(url: str) -> str:
    """The URL without its parameters (which may hold credentials)."""
    return url.split("?", 1)[0]


def quote(name: str) -> str:
    """``name`` as one PostgreSQL identifier."""
    return '"' + name.replace('"', '""') + '"'


class PostgresHandle(Handle):
    kind = "postgres"

    def __init__(
        self,
        *,
        url: str | None = None,
        dbtable: str | None = None,
        query: str | None = None,
        user: str | None = None,
        password: str | None = None,
        partition_column: str | None = None,
        lower_bound: int | None = None,
        upper_bound: int | None = None,
        num_partitions: int | None = None,
        primary_key: Sequence[str] = (),
        overwrite_mode: str = "truncate",
        driver_jar: str | None = None,
        **common: Any,
    ) -> None:
        super().__init__(**common)
        options = PostgresOptions(
            url=url, dbtable=dbtable, query=query, user=user, password=password,
            partition_column=partition_column, lower_bound=lower_bound, upper_bound=upper_bound,
            num_partitions=num_partitions, primary_key=tuple(primary_key), overwrite_mode=overwrite_mode,
            driver_jar=driver_jar,
        )
        problems = option_problems(options, f"tables.{self.table}")
        if problems:
            raise ConfigError(problems)
        self.options = options
        self.url: str = url  # type: ignore[assignment]  # checked above
        self.dbtable = dbtable
        self.query = query

    @classmethod
    def from_config(cls, project: Project, table: str) -> PostgresHandle:
        options: PostgresOptions = project.table_options(table)
        problems = option_problems(options, f"tables.{table}")
        if options.password is not None and not _password_from_env(project.source, table, options.password):
            problems.append(
                f"tables.{table}.password: write the password as a reference to an environment variable, "
                "e.g. password = \"${env:PGPASSWORD}\"; a password in the project file is refused"
            )
        if problems:
            raise ConfigError(problems, source=project.source)
        return cls(**attrs.asdict(options, recurse=False), **common_handle_kwargs(project, table))

    def describe(self) -> str:
        what = self.dbtable if self.dbtable else "query"
        return f"{what} at {_safe_url(self.url)}"

    # -- reads ----------------------------------------------------------------------
    def _read(self, **options: Any) -> DataFrame:
        reader = self.spark.read.format("jdbc").options(**self._spark_options()).option("fetchsize", "10000")
        o = self.options
        partitioned = o.partition_column is not None
        if self.query and not partitioned:
            reader = reader.option("query", self.query)
        else:
            reader = reader.option("dbtable", self.dbtable or f"({self.query}) AS lakeport_query")
        if partitioned:
            reader = reader.options(partitionColumn=o.partition_column, lowerBound=str(o.lower_bound),
                                    upperBound=str(o.upper_bound), numPartitions=str(o.num_partitions))
        reader = reader.options(**{k: str(v) for k, v in options.items()})
        with self._errors("read"):
            if not self.query:
                with self._connect() as conn:
                    self._require_table(conn)
            return reader.load()

    # -- writes ---------------------------------------------------------------------
    def _append(self, df: DataFrame, **options: Any) -> WriteResult:
        self._refuse_options("append", options)
        return self._write(df, "append")

    def _overwrite(self, df: DataFrame, **options: Any) -> WriteResult:
        self._refuse_options("overwrite", options)
        return self._write(df, "overwrite")

    def _upsert(self, df: DataFrame, keys: tuple[str, ...], **options: Any) -> WriteResult:
        sequence_by = options.pop("sequence_by", None)
        self._refuse_options("upsert", options)
        return self._write(df, "upsert", keys=keys, sequence_by=sequence_by)

    def _write(self, df: DataFrame, mode: str, keys: tuple[str, ...] = (), sequence_by: str | None = None) -> WriteResult:
        target = self._writable(mode)
        with self._errors(mode), self._connect() as conn:
            created = False
            if self._relation(conn) is None:
                primary_key = keys if mode == "upsert" and not self.options.primary_key else self.options.primary_key
                conn.execute(create_table_sql(target, df.schema, primary_key, table=self.table))
                created = True
                log.info("postgres table %r: created %s", self.table, target)
            try:
                return self._apply(conn, df, mode, keys, sequence_by)
            except BaseException:
                if created:
                    conn.execute(f"DROP TABLE IF EXISTS {target}")
                raise

    def _apply(self, conn: Connection, df: DataFrame, mode: str, keys: tuple[str, ...],
               sequence_by: str | None) -> WriteResult:
        target = self._writable(mode)
        schema_name, _ = self._relation(conn)  # type: ignore[misc]  # exists: created by the caller
        stage = f"{quote(schema_name)}.{quote('lakeport_stage_' + uuid.uuid4().hex[:16])}"
        recreate = mode == "overwrite" and self.options.overwrite_mode == "recreate"
        table_columns = [] if recreate else self._columns(conn)
        columns = list(df.columns) if recreate else self._match_columns(df, table_columns, keys, sequence_by)
        names = ", ".join(quote(c) for c in columns)
        if recreate:
            conn.execute(create_table_sql(stage, df.schema, self.options.primary_key, table=self.table))
        else:
            conn.execute(f"CREATE UNLOGGED TABLE {stage} AS SELECT {names} FROM {target} WITH NO DATA")
        try:
            self._spark_write(df, stage)
            details: dict[str, Any] = {}
            with conn.transaction():
                if mode == "append":
                    rows = conn.execute(f"INSERT INTO {target} ({names}) SELECT {names} FROM {stage}")
                elif recreate:
                    _, relname = self._relation(conn)  # type: ignore[misc]
                    conn.execute(f"DROP TABLE {target}")
                    conn.execute(f"ALTER TABLE {stage} RENAME TO {quote(relname)}")
                    rows = None
                elif mode == "overwrite":
                    conn.execute(f"TRUNCATE TABLE {target}")
                    rows = conn.execute(f"INSERT INTO {target} ({names}) SELECT {names} FROM {stage}")
                else:
                    rows, details = self._merge(conn, target, stage, columns, table_columns, keys, sequence_by)
        finally:
            conn.execute(f"DROP TABLE IF EXISTS {stage}")
        return WriteResult(table=self.table, kind=self.kind, mode=mode, rows_written=rows, details=details)

    def _merge(self, conn: Connection, target: str, stage: str, columns: list[str], table_columns: list[_Column],
               keys: tuple[str, ...], sequence_by: str | None) -> tuple[int, dict[str, Any]]:
        """Upsert the staged rows; the caller's transaction makes it all or nothing."""
        by_lower = {c.name.lower(): c.name for c in table_columns}
        key_names = [by_lower[k.lower()] for k in keys]
        names = ", ".join(quote(c) for c in columns)
        key_list = ", ".join(quote(k) for k in key_names)
        order = key_list + (f", {quote(by_lower[sequence_by.lower()])} DESC NULLS LAST" if sequence_by else "")
        not_null = " AND ".join(f"{quote(k)} IS NOT NULL" for k in key_names)
        # of several rows per key, keep the greatest sequence_by (else an arbitrary one)
        source = f"SELECT DISTINCT ON ({key_list}) {names} FROM {stage} WHERE {not_null} ORDER BY {order}"
        others = [c for c in columns if c not in key_names]
        if {k.lower() for k in key_names} in self._unique_keys(conn):
            action = ("DO UPDATE SET " + ", ".join(f"{quote(c)} = EXCLUDED.{quote(c)}" for c in others)
                      if others else "DO NOTHING")
            rows = conn.execute(f"INSERT INTO {target} ({names}) {source} ON CONFLICT ({key_list}) {action}")
            return rows, {"statement": "insert on conflict"}
        # no unique index on the keys (ON CONFLICT needs one): update, then insert the rest
        log.info("postgres table %r: no unique index on (%s); upserting with UPDATE + INSERT",
                 self.table, ", ".join(key_names))
        conn.execute(f"LOCK TABLE {target} IN SHARE ROW EXCLUSIVE MODE")
        match = " AND ".join(f"t.{quote(k)} = s.{quote(k)}" for k in key_names)
        updated = 0
        if others:
            assignments = ", ".join(f"{quote(c)} = s.{quote(c)}" for c in others)
            updated = conn.execute(f"UPDATE {target} AS t SET {assignments} FROM ({source}) AS s WHERE {match}")
        inserted = conn.execute(
            f"INSERT INTO {target} ({names}) SELECT {names} FROM ({source}) AS s "
            f"WHERE NOT EXISTS (SELECT 1 FROM {target} AS t WHERE {match})"
        )
        return updated + inserted, {"statement": "update + insert", "updated": updated, "inserted": inserted}

    def _spark_write(self, df: DataFrame, stage: str) -> None:
        (
            df.write.format("jdbc").options(**self._spark_options())
            .option("dbtable", stage)
            .option("batchsize", "10000")
            # the driver turns a batch into multi-row INSERTs; strings may fill json, uuid, enum columns
            .option("reWriteBatchedInserts", "true")
            .option("stringtype", "unspecified")
            .mode("append")
            .save()
        )

    # -- management -----------------------------------------------------------------
    def _delete(self, where: str, **options: Any) -> WriteResult:
        self._refuse_options("delete", options)
        target = self._writable("delete")
        with self._errors("delete"), self._connect() as conn:
            self._require_table(conn)
            rows = conn.execute(f"DELETE FROM {target} WHERE {where}")
        return WriteResult(table=self.table, kind=self.kind, mode="delete", rows_written=rows)

    def _truncate(self) -> None:
        target = self._writable("truncate")
        with self._errors("truncate"), self._connect() as conn:
            self._require_table(conn)
            conn.execute(f"TRUNCATE TABLE {target}")

    def _drop(self) -> None:
        target = self._writable("drop")
        with self._errors("drop"), self._connect() as conn:
            conn.execute(f"DROP TABLE IF EXISTS {target}")

    def _create(self) -> None:
        declared = self.declared_struct()
        if declared is None:
            raise self.unsupported("create", "declare `schema = \"...\"` on the table")
        target = self._writable("create")
        with self._errors("create"), self._connect() as conn:
            if self._relation(conn) is None:
                conn.execute(create_table_sql(target, declared, self.options.primary_key, table=self.table))

    def _exists(self) -> bool:
        if not self.dbtable:
            return True  # a query: PostgreSQL says at read time
        with self._errors("exists"), self._connect() as conn:
            return self._relation(conn) is not None

    def _schema(self) -> StructType:
        if self.dbtable and not self._exists():
            return super()._schema()
        return self._read().schema

    # -- helpers --------------------------------------------------------------------
    def _writable(self, operation: str) -> str:
        if not self.dbtable:
            raise self.unsupported(operation, "this table is a query; set dbtable to write")
        return self.dbtable

    def _refuse_options(self, operation: str, options: dict[str, Any]) -> None:
        if options:
            takes = " (it takes sequence_by)" if operation == "upsert" else ""
            raise LakeportError(
                f"postgres table {self.table!r}: {operation}() does not take {', '.join(sorted(options))}{takes}"
            )

    def _driver_jar(self) -> str | None:
        if self.options.driver_jar:
            return self.options.driver_jar
        if self.project is not None:
            try:
                return self.project.plugin_settings(PostgresSettings).driver_jar
            except ConfigError:  # the plugin's settings are not declared in this project (handle built by hand)
                return None
        return None

    def _credentials(self) -> dict[str, str]:
        found = {}
        if self.options.user is not None:
            found["user"] = self.options.user
        if self.options.password is not None:
            found["password"] = self.options.password
        return found

    def _spark_options(self) -> dict[str, str]:
        ensure_driver(self.spark, self._driver_jar())
        return {"url": self.url, "driver": DRIVER_CLASS, **self._credentials()}

    def _connect(self) -> Connection:
        return Connection.open(self.spark, self.url, self._credentials(), driver_jar=self._driver_jar(),
                               secret=self.options.password)

    def _relation(self, conn: Connection) -> tuple[str, str] | None:
        """(schema, name) of ``dbtable``, or None if there is no such table."""
        rows = conn.query(
            "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.oid = to_regclass(?)", [self.dbtable],
        )
        return (str(rows[0][0]), str(rows[0][1])) if rows else None

    def _require_table(self, conn: Connection) -> None:
        if self._relation(conn) is None:
            raise TableNotFound(f"postgres table {self.table!r}: {self.dbtable} does not exist at {_safe_url(self.url)}")

    def _columns(self, conn: Connection) -> list[_Column]:
        rows = conn.query(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), t.typcategory FROM pg_attribute a "
            "JOIN pg_type t ON t.oid = a.atttypid WHERE a.attrelid = to_regclass(?) AND a.attnum > 0 "
            "AND NOT a.attisdropped ORDER BY a.attnum", [self.dbtable],
        )
        return [_Column(str(name), str(pg_type), str(category)) for name, pg_type, category in rows]

    def _unique_keys(self, conn: Connection) -> list[set[str]]:
        """Column sets (lower case) of the table's unique indexes without predicate or expression."""
        rows = conn.query(
            "SELECT array_to_string(ARRAY(SELECT a.attname FROM unnest(i.indkey) AS k(attnum) "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum), chr(31)) "
            "FROM pg_index i WHERE i.indrelid = to_regclass(?) AND i.indisunique "
            "AND i.indpred IS NULL AND i.indexprs IS NULL", [self.dbtable],
        )
        return [{c.lower() for c in str(row[0]).split(chr(31))} for row in rows]

    def _match_columns(self, df: DataFrame, table_columns: list[_Column], keys: tuple[str, ...],
                       sequence_by: str | None) -> list[str]:
        """The table's names of the DataFrame's columns; refuses what the table cannot take."""
        by_lower = {c.name.lower(): c for c in table_columns}
        where = f"postgres table {self.table!r} ({self.dbtable})"
        for name in (*keys, *([sequence_by] if sequence_by else [])):
            if name.lower() not in {c.lower() for c in df.columns}:
                raise SchemaMismatch(f"{where}: upsert column {name!r} is not in the data ({', '.join(df.columns)})")
            if name.lower() not in by_lower:
                raise SchemaMismatch(f"{where}: upsert column {name!r} is not a column of the table "
                                     f"({', '.join(c.name for c in table_columns)})")
        unknown = [c for c in df.columns if c.lower() not in by_lower]
        if unknown:
            raise SchemaMismatch(f"{where}: the table has no column(s) {', '.join(unknown)} "
                                 f"(it has {', '.join(c.name for c in table_columns)})")
        problems = []
        for field in df.schema.fields:
            column = by_lower[field.name.lower()]
            if not _fits(field.dataType, column):
                problems.append(f"{field.name} {field.dataType.simpleString()} cannot go into {column.name} {column.pg_type}")
        if problems:
            raise SchemaMismatch(f"{where}: {'; '.join(problems)}")
        return [by_lower[c.lower()].name for c in df.columns]

    @contextmanager
    def _errors(self, operation: str) -> Iterator[None]:
        """Errors of the JVM (driver, server, Spark) as one clear lakeport error naming the table."""
        from py4j.protocol import Py4JJavaError
        from pyspark.errors import PySparkException

        try:
            yield
        except (Py4JJavaError, PySparkException) as exc:
            message, state = server_message(exc, self.options.password)
            log.debug("postgres table %r: %s failed: %s", self.table, operation, scrub(str(exc), self.options.password))
            raise self._error(operation, message, state) from None

    def _error(self, operation: str, message: str, state: str | None) -> LakeportError:
        where = f"postgres table {self.table!r}"
        secret = self.options.password
        if state in _AUTH_STATES or state in _CONNECT_STATES:
            user = f" as {self.options.user!r}" if self.options.user else ""
            text = f"{where}: cannot connect to {_safe_url(self.url)}{user}: {message}"
            return PostgresError(scrub(text, secret), sqlstate=state)
        if state == _MISSING_TABLE:
            return TableNotFound(scrub(f"{where}: {message} (dbtable {self.dbtable}, at {_safe_url(self.url)})", secret))
        text = f"{where} ({self.dbtable or 'query'}): {operation} failed, nothing was changed: {message}"
        return PostgresError(scrub(text, secret), sqlstate=state)


@attrs.frozen
class _Column:
    name: str
    pg_type: str
    #: pg_type.typcategory: N numeric, S string, B boolean, D date/time, A array, U user-defined, ...
    category: str


def _fits(spark_type: DataType, column: _Column) -> bool:
    """Whether values of ``spark_type`` can go into ``column`` at all (PostgreSQL checks each value)."""
    name = spark_type.typeName()
    if name == "void":
        return True
    if name in ("byte", "short", "integer", "long", "float", "double", "decimal"):
        return column.category == "N"
    if name == "boolean":
        return column.category == "B"
    if name in ("string", "varchar", "char"):
        return column.category not in ("N", "B", "A") and column.pg_type != "bytea"
    if name in ("date", "timestamp", "timestamp_ntz"):
        return column.category == "D"
    if name == "binary":
        return column.pg_type == "bytea"
    if name == "array":
        return column.category == "A"
    return False


_PG_TYPES = {
    "tinyint": "smallint", "smallint": "smallint", "int": "integer", "bigint": "bigint",
    "float": "real", "double": "double precision", "boolean": "boolean", "string": "text",
    "binary": "bytea", "date": "date", "timestamp": "timestamptz", "timestamp_ntz": "timestamp",
}


def pg_type(spark_type: DataType, *, column: str, table: str) -> str:
    """The PostgreSQL type that stores ``spark_type``."""
    simple = spark_type.simpleString()
    if simple in _PG_TYPES:
        return _PG_TYPES[simple]
    if re.fullmatch(r"(decimal|varchar|char)\(\d+(,\d+)?\)", simple):
        return simple.replace("decimal", "numeric")
    if spark_type.typeName() == "array":
        return pg_type(spark_type.elementType, column=column, table=table) + "[]"  # type: ignore[attr-defined]
    raise SchemaMismatch(f"postgres table {table!r}: column {column!r} of type {simple} has no PostgreSQL type here")


def create_table_sql(target: str, schema: StructType, primary_key: Sequence[str], *, table: str) -> str:
    """``CREATE TABLE`` for a Spark schema, with an optional primary key."""
    columns = [
        f"{quote(f.name)} {pg_type(f.dataType, column=f.name, table=table)}" + ("" if f.nullable else " NOT NULL")
        for f in schema.fields
    ]
    if primary_key:
        missing = [k for k in primary_key if k.lower() not in {f.name.lower() for f in schema.fields}]
        if missing:
            raise SchemaMismatch(f"postgres table {table!r}: primary key column(s) {', '.join(missing)} "
                                 f"not in the schema ({', '.join(schema.fieldNames())})")
        names = {f.name.lower(): f.name for f in schema.fields}
        columns.append(f"PRIMARY KEY ({', '.join(quote(names[k.lower()]) for k in primary_key)})")
    return f"CREATE TABLE IF NOT EXISTS {target} ({', '.join(columns)})"


def _password_from_env(source: str, table: str, password: str) -> bool:
    """Whether the file wrote ``tables.<table>.password`` as ``${env:VAR}``.

    Core resolves references when the file loads, so the raw file is read again; a
    project built from a string (no file) passes when the value is some environment
    variable's.
    """
    if os.path.isfile(source):
        if sys.version_info >= (3, 11):
            import tomllib
        else:
            import tomli as tomllib
        with open(source, "rb") as handle:
            raw = tomllib.load(handle)
        value = raw.get("tables", {}).get(table, {}).get("password")
        return isinstance(value, str) and _ENV_REFERENCE.fullmatch(value.strip()) is not None
    return password in os.environ.values()
