"""Entry point of lakeport-postgres: hook implementations only, nothing heavy imported."""

from __future__ import annotations

from typing import Any

from lakeport.api import hookimpl


@hookimpl
def lakeport_register_handle_kinds(register: Any) -> None:
    # by reference: the handle module is imported only when a postgres table is built
    register("postgres", "lakeport_postgres.handle:PostgresHandle.from_config", options="lakeport_postgres.handle:PostgresOptions")
