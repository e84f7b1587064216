"""Expectations on 1,000,000 rows: 20 rules vs none (goal <= 1.15x), and vs naive per-rule counts.

Two targets: a files (parquet) table, whose rules are counted with ``DataFrame.observe``,
and a Delta table on the embedded backend, whose writer counts a rule mask itself
(``lakeport.expectations.mask``). Two rule sets of 20 rules (10 drop, 10 allow):
arithmetic-heavy ones, and realistic ones (null checks, ranges, IN lists, string
lengths, column comparisons).

Per target and rule set:

* no rules              the plain write;
* bare filter           the drop rules as a plain filter, nothing counted: the floor;
* rules evaluated       all 20 rules evaluated into one extra BIGINT column (bit i: rule i
                        failed) that is written along, nothing counted or dropped: what
                        evaluating the rules costs, so that lakeport's distance to it is
                        the cost of counting and dropping;
* lakeport              the write with the 20 rules;
* naive                 what hand-written DQ code does: one count() per rule, then the
                        filtered write.

Times are medians of ``LAKEPORT_BENCH_RUNS`` (default 7) runs, ratios are of medians;
the variants run interleaved, in a rotating order, so load on the machine spreads over
all of them. The fastest run is printed too: on a busy machine it is the steadier number.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

from lakeport.expectations import Expectation
from lakeport.handles.files import FilesHandle
from lakeport.session import get_or_create_session
from lakeport_delta import DeltaHandle

ROWS = int(os.environ.get("LAKEPORT_BENCH_ROWS", "1000000"))
RUNS = max(1, int(os.environ.get("LAKEPORT_BENCH_RUNS", "7")))


def arithmetic_rules() -> list[Expectation]:
    return [
        Expectation(f"rule_{i}", f"(id + {i}) % 997 <> 0 AND value >= 0", "drop" if i % 2 else "allow")
        for i in range(20)
    ]


def realistic_rules() -> list[Expectation]:
    rules = [
        ("id_not_null", "id IS NOT NULL", "drop"),
        ("email_present", "email IS NOT NULL", "allow"),
        ("email_shape", "email LIKE '%_@_%._%'", "drop"),
        ("email_length", "length(email) BETWEEN 6 AND 254", "allow"),
        ("country_known", "country IN ('DE', 'FR', 'US', 'GB', 'NL', 'DK', 'SE')", "drop"),
        ("country_upper", "country = upper(country)", "allow"),
        ("amount_present", "amount IS NOT NULL", "allow"),
        ("amount_non_negative", "amount >= 0", "drop"),
        ("amount_plausible", "amount < 100000", "allow"),
        ("age_range", "age BETWEEN 0 AND 110", "drop"),
        ("adult", "age >= 18", "allow"),
        ("created_present", "created IS NOT NULL", "drop"),
        ("updated_after_created", "updated >= created", "drop"),
        ("created_not_future", "created <= DATE'2030-01-01'", "allow"),
        ("status_valid", "status IN ('new', 'paid', 'shipped', 'cancelled')", "drop"),
        ("paid_has_amount", "status <> 'paid' OR amount > 0", "allow"),
        ("tag_not_blank", "length(trim(tag)) > 0", "drop"),
        ("tag_short", "length(tag) <= 8", "allow"),
        ("value_range", "value BETWEEN 0 AND 100", "drop"),
        ("score_present", "score IS NOT NULL", "allow"),
    ]
    return [Expectation(*rule) for rule in rules]


SOURCE_COLUMNS = [
    "id",
    "rand(7) * 100 AS value",
    "cast(id % 100 AS string) AS tag",
    "IF(id % 211 = 0, NULL, concat('user', id, '@example.com')) AS email",
    "element_at(array('DE', 'FR', 'US', 'GB', 'NL', 'DK', 'SE', 'de', 'XX'), IF(id % 331 = 0, 9, int(id % 8) + 1)) AS country",
    "IF(id % 101 = 0, NULL, round(rand(11) * 1000 - 1, 2)) AS amount",
    "int(rand(13) * 105) AS age",
    "date_add(DATE'2020-01-01', int(id % 1800)) AS created",
    "date_add(DATE'2020-01-01', int(id % 1800) + IF(id % 499 = 0, -3, int(rand(17) * 40))) AS updated",
    "element_at(array('new', 'paid', 'shipped', 'cancelled', 'lost'), IF(id % 617 = 0, 5, int(id % 4) + 1)) AS status",
    "IF(id % 13 = 0, NULL, rand(19)) AS score",
]


def main() -> None:
    from pyspark.sql import functions as F

    spark = get_or_create_session()
    root = Path(tempfile.mkdtemp(prefix="lakeport-bench-dq-"))
    counter = iter(range(1_000_000))
    try:
        spark.range(ROWS).selectExpr(*SOURCE_COLUMNS).write.parquet(str(root / "source"))
        source = spark.read.parquet(str(root / "source"))

        def fresh() -> str:
            return str(root / f"t{next(counter)}")

        targets: dict[str, Callable[..., object]] = {
            "files": lambda path, **kw: FilesHandle(path, table="bench", **kw),
            "delta": lambda path, **kw: DeltaHandle(location=path, table="bench", backend="embedded", **kw),
        }
        rule_sets = {"arithmetic": arithmetic_rules(), "realistic": realistic_rules()}
        ok = {name: [F.coalesce(F.expr(r.constraint).cast("boolean"), F.lit(False)) for r in rules]
              for name, rules in rule_sets.items()}

        def passes_drop_rules(rules: list[Expectation], checks: list) -> object:
            keep = F.lit(True)
            for rule, check in zip(rules, checks, strict=True):
                if rule.action == "drop":
                    keep = keep & check
            return keep

        def rule_bits(rules: list[Expectation]) -> str:
            return " + ".join(
                f"IF(coalesce(CAST(({rule.constraint}) AS BOOLEAN), false), 0L, {1 << index}L)"
                for index, rule in enumerate(rules)
            )

        variants: dict[tuple[str, str, str], Callable[[str], object]] = {}
        for target, make in targets.items():
            variants[(target, "", "no rules")] = lambda path, make=make: make(path).overwrite(source)
            for set_name, rules in rule_sets.items():
                checks = ok[set_name]
                keep = source.filter(passes_drop_rules(rules, checks))
                keep_all = source.selectExpr("*", f"{rule_bits(rules)} AS rule_bits")

                def floor(path: str, make=make, keep=keep) -> object:
                    return make(path).overwrite(keep)

                def floor_all(path: str, make=make, keep_all=keep_all) -> object:
                    return make(path).overwrite(keep_all)

                def checked(path: str, make=make, rules=rules) -> object:
                    return make(path, expectations=rules).overwrite(source).expectations

                def naive(path: str, make=make, keep=keep, rules=rules, checks=checks) -> object:
                    counts = {r.name: source.filter(~check).count() for r, check in zip(rules, checks, strict=True)}
                    make(path).overwrite(keep)
                    return counts

                variants[(target, set_name, "bare filter, no counting")] = floor
                variants[(target, set_name, "rules evaluated, no count")] = floor_all
                variants[(target, set_name, "lakeport")] = checked
                variants[(target, set_name, "naive: 20 counts + write")] = naive

        def run(key: tuple[str, str, str]) -> tuple[float, object]:
            path = fresh()
            start = time.perf_counter()
            out = variants[key](path)
            elapsed = time.perf_counter() - start
            shutil.rmtree(path, ignore_errors=True)
            return elapsed, out

        load_before = os.getloadavg()
        for key in variants:  # warm up (and check lakeport counts what naive code counts)
            if not key[2].startswith("naive"):
                run(key)
        times: dict[tuple[str, str, str], list[float]] = {key: [] for key in variants}
        keys = list(variants)
        for round_ in range(RUNS):
            order = keys[round_ % len(keys):] + keys[: round_ % len(keys)]
            outputs = {}
            for key in order:
                elapsed, outputs[key] = run(key)
                times[key].append(elapsed)
            if round_ == 0:
                for target in targets:
                    for set_name in rule_sets:
                        results = outputs[(target, set_name, "lakeport")]
                        naive_counts = outputs[(target, set_name, "naive: 20 counts + write")]
                        assert {r.name: r.failed for r in results.rules} == naive_counts, (target, set_name)
        load_after = os.getloadavg()

        median = {key: statistics.median(values) for key, values in times.items()}
        fastest = {key: min(values) for key, values in times.items()}
        print(f"{ROWS:,} rows, median of {RUNS} interleaved runs; load average before {_load(load_before)}, "
              f"after {_load(load_after)} ({os.cpu_count()} CPUs)")
        counting = {"files": "observe", "delta": "rule mask, counted by the Delta writer"}
        for target in targets:
            plain = median[(target, "", "no rules")]
            for set_name, rules in rule_sets.items():
                drops = sum(r.action == "drop" for r in rules)
                print(f"\n{target} ({counting[target]}), {set_name} rules ({len(rules)}: {drops} drop, "
                      f"{len(rules) - drops} allow)")
                print(f"  {'no rules':<30} {plain:6.2f} s (min {fastest[(target, '', 'no rules')]:5.2f})  1.00x")
                lakeport = median[(target, set_name, "lakeport")]
                names = ("bare filter, no counting", "rules evaluated, no count", "lakeport", "naive: 20 counts + write")
                for name in names:
                    value = median[(target, set_name, name)]
                    note = ""
                    if name == "lakeport":
                        floor = median[(target, set_name, "bare filter, no counting")]
                        floor_all = median[(target, set_name, "rules evaluated, no count")]
                        note = f"   goal <= 1.15x; {value / floor:.2f}x the bare filter, {value / floor_all:.2f}x rules evaluated"
                    elif name.startswith("naive"):
                        note = f"   lakeport speed-up {value / lakeport:.1f}x"
                    low = fastest[(target, set_name, name)]
                    print(f"  {name:<30} {value:6.2f} s (min {low:5.2f})  {value / plain:.2f}x{note}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _load(values: tuple[float, float, float]) -> str:
    return " ".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    main()
