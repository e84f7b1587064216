"""PostgresHandle.upsert of 100,000 rows (half of them existing keys) next to the same upsert written by hand
(goal: at most 1.2x).

By hand: Spark's JDBC writer creates and fills a staging table, then one JDBC
statement on the driver, ``INSERT ... SELECT ... ON CONFLICT (id) DO UPDATE``,
and the staging table is dropped. Both use the same writer options (batch size,
the driver's batched multi-row inserts). The source is cached first, the target
reset to its 50,000 rows before every run, runs alternate, best of several.
"""

from __future__ import annotations

import logging
import os
import sys
import time

ROWS = 100_000
EXISTING = ROWS // 2
RUNS = 3


def main() -> None:
    from lakeport_postgres import PostgresHandle, postgres_spark_conf
    from lakeport_postgres.local_server import local_server

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from lakeport.session import get_or_create_session

    logging.basicConfig(level=logging.WARNING)
    with local_server() as server:
        spark = get_or_create_session({**postgres_spark_conf(), "spark.sql.shuffle.partitions": "2"})
        server.psql("CREATE TABLE target (id bigint PRIMARY KEY, name text, amount double precision)")
        source = spark.range(ROWS).selectExpr("id", "concat('name-', id) AS name", "id * 1.5 AS amount")
        source = source.repartition(2).cache()
        source.count()
        handle = PostgresHandle(url=server.url, dbtable="target", user=server.user, password=server.password,
                                table="target")
        props = {"user": server.user, "password": server.password, "driver": "org.postgresql.Driver",
                 "batchsize": "10000", "reWriteBatchedInserts": "true"}

        def reset() -> None:
            server.psql("TRUNCATE target; INSERT INTO target SELECT g, 'old-' || g, 0 FROM generate_series(0, "
                        f"{EXISTING - 1}) AS g")
            server.psql("VACUUM ANALYZE target")

        def by_hand() -> None:
            source.write.jdbc(server.url, "stage_by_hand", mode="overwrite", properties=props)
            conn = spark._jvm.java.sql.DriverManager.getConnection(server.url, server.user, server.password)
            try:
                statement = conn.createStatement()
                statement.executeUpdate(
                    "INSERT INTO target (id, name, amount) SELECT id, name, amount FROM stage_by_hand "
                    "ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, amount = EXCLUDED.amount"
                )
                statement.executeUpdate("DROP TABLE stage_by_hand")
            finally:
                conn.close()

        def lakeport() -> None:
            handle.upsert(source, keys=["id"])

        def check() -> None:
            assert server.psql("SELECT count(*), count(*) FILTER (WHERE name LIKE 'old-%') FROM target") == f"{ROWS}|0"

        timings: dict[str, list[float]] = {"by hand": [], "PostgresHandle.upsert": []}
        for run in range(RUNS + 1):  # the first round warms up the JVM and is not counted
            for name, upsert in (("by hand", by_hand), ("PostgresHandle.upsert", lakeport)):
                reset()
                start = time.perf_counter()
                upsert()
                elapsed = time.perf_counter() - start
                check()
                if run:
                    timings[name].append(elapsed)
        spark.stop()
    best = {name: min(times) for name, times in timings.items()}
    for name, seconds in best.items():
        print(f"{name:24s} {seconds:6.2f} s  (best of {RUNS}; {ROWS:,} rows, {EXISTING:,} existing)")
    ratio = best["PostgresHandle.upsert"] / best["by hand"]
    print(f"ratio PostgresHandle.upsert / by hand: {ratio:.2f}x (goal <= 1.2x)")


if __name__ == "__main__":
    main()
