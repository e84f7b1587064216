"""Run both pipelines of lakeport.toml against a throwaway PostgreSQL server (see lakeport.toml)."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from lakeport import Project
from lakeport_postgres.local_server import local_server

HERE = Path(__file__).resolve().parent


def add_orders(project: Project, first_id: int, count: int, version: int) -> None:
    """New orders (and new versions of old ones) in the Delta table."""
    orders = project.handle("Orders")
    rows = [(i, f"item-{i % 7}", i * 1.5, version) for i in range(first_id, first_id + count)]
    orders.append(project.spark().createDataFrame(rows, orders.declared_struct()))


def run(project: Project) -> list[str]:
    """Both pipelines, in order; their summaries."""
    summaries = []
    for name in ("orders_to_postgres", "postgres_to_delta"):
        pipeline = project.pipeline(name)
        pipeline.execute()
        summaries.append(pipeline.result().summary)
    return summaries


def main(project_file: Path = HERE / "lakeport.toml") -> int:
    with local_server(install=True) as server:
        os.environ.update(SHOP_PG_URL=server.url, SHOP_PG_USER=server.user, SHOP_PG_PASSWORD=server.password)
        project = Project.from_file(project_file)
        add_orders(project, 1, 10, version=1)
        add_orders(project, 5, 10, version=2)  # orders 5..10 again, newer: these win in PostgreSQL
        for summary in run(project):
            print(summary)
        print(f"PostgreSQL orders: {server.psql('SELECT count(*) FROM orders')} rows, "
              f"{server.psql('SELECT count(*) FROM orders WHERE version = 2')} at version 2")
        print(f"Delta sales.orders_archive: {project.handle('OrdersArchive').read().count()} rows")
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.exit(main())
