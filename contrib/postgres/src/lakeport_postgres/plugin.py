"""Entry point of lakeport-postgres: hook implementations only, nothing heavy imported."""

from __future__ import annotations

from typing import Any

from lakeport.api import hookimpl


@hookimpl
def lakeport_register_handle_kinds(register: Any) -> None:
    # by reference: the handle module is imported only when a postgres table is built
    register("postgres", "lakeport_postgres.handle:PostgresHandle.from_config", options="lakeport_postgres.handle:PostgresOptions")


@hookimpl
def lakeport_register_settings(register: Any) -> None:
    register("lakeport_postgres.driver:PostgresSettings")  # [plugins.postgres] driver_jar = "..."


@hookimpl
def lakeport_spark_conf(project: Any) -> dict[str, str] | None:
    """The JDBC driver for a session lakeport starts, when the project has postgres tables."""
    if project is None:  # no project, no postgres tables
        return None
    from lakeport_postgres.driver import PostgresSettings, postgres_spark_conf

    tables = [project.table(name) for name in project.config.tables]
    postgres = [spec for spec in tables if spec.kind == "postgres"]
    if not postgres:
        return None
    settings = project.plugin_settings(PostgresSettings)
    jar = settings.driver_jar or next((s.options.driver_jar for s in postgres if s.options.driver_jar), None)
    return postgres_spark_conf(jar, settings.driver_package)
