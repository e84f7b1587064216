"""Expectations on 1,000,000 rows: 20 rules vs none (goal <= 1.15x), and vs naive per-rule counts.

The naive way is what hand-written DQ code does: one count() per rule, then
the filtered write.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from lakeport.expectations import Expectation
from lakeport.handles.files import FilesHandle
from lakeport.session import get_or_create_session

ROWS = 1_000_000
REPEAT = 3


def rules() -> list[Expectation]:
    out = []
    for i in range(20):
        action = "drop" if i % 2 else "allow"
        out.append(Expectation(f"rule_{i}", f"(id + {i}) % 997 <> 0 AND value >= 0", action))
    return out


def timed(fn) -> float:
    best = float("inf")
    for _ in range(REPEAT):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    spark = get_or_create_session()
    root = Path(tempfile.mkdtemp(prefix="lakeport-bench-dq-"))
    try:
        source_path = str(root / "source")
        spark.range(ROWS).selectExpr("id", "rand(7) * 100 AS value", "cast(id % 100 AS string) AS tag").write.parquet(source_path)
        source = spark.read.parquet(source_path)
        the_rules = rules()

        def plain() -> None:
            FilesHandle(str(root / "plain"), table="plain").overwrite(source)

        def checked() -> None:
            FilesHandle(str(root / "checked"), table="checked", expectations=the_rules).overwrite(source)

        def naive() -> None:
            from pyspark.sql import functions as F

            counts = {r.name: source.filter(~F.coalesce(F.expr(r.constraint), F.lit(False))).count() for r in the_rules}
            keep = source
            for rule in the_rules:
                if rule.action == "drop":
                    keep = keep.filter(F.expr(rule.constraint))
            keep.write.mode("overwrite").parquet(str(root / "naive"))
            assert len(counts) == 20

        plain()  # warm up
        checked()
        t_plain, t_checked, t_naive = timed(plain), timed(checked), timed(naive)
        print(f"write 1M rows, no rules            {t_plain:6.2f} s")
        print(f"write 1M rows, 20 rules (lakeport) {t_checked:6.2f} s   ratio {t_checked / t_plain:.2f}x (goal <= 1.15x)")
        print(f"write 1M rows, 20 rules (naive)    {t_naive:6.2f} s   lakeport speed-up {t_naive / t_checked:.1f}x")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
