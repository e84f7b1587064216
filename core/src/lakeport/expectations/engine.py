"""Evaluate every rule of a write in the write's own pass over the data.

Per-rule failure counts come from ``DataFrame.observe`` on the written plan,
so counting costs no extra Spark job. ``fail`` rules abort the write job
itself through ``raise_error``; only then are failing rows counted and sampled.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Iterable

from lakeport.errors import ConfigError, ExpectationFailed
from lakeport.expectations import BUILTIN_ACTIONS, Expectation, ExpectationResults, RuleResult

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame
    from pyspark.sql.types import StructType

log = logging.getLogger(__name__)

FAIL_MARKER = "LAKEPORT_EXPECTATION_FAILED"
RULES_COLUMN = "_failed_rules"
QUARANTINED_AT_COLUMN = "_quarantined_at"


def check_constraints(
    expectations: Iterable[Expectation], schema: StructType, *, table: str, spark: Any, custom_actions: Iterable[str] = ()
) -> None:
    """Raise ConfigError naming table and rule for a constraint that does not parse or names a missing column."""
    from pyspark.sql import functions as F

    problems = []
    empty = spark.createDataFrame([], schema)
    valid_actions = (*BUILTIN_ACTIONS, *custom_actions)
    for index, rule in enumerate(expectations):
        where = f"tables.{table}.expectations[{index}] ({rule.name})"
        if rule.action not in valid_actions:
            problems.append(f"{where}.action: expected one of {', '.join(valid_actions)}; got {rule.action!r}")
        try:
            empty.select(F.expr(rule.constraint).cast("boolean")).schema  # noqa: B018 - forces analysis
        except Exception as exc:  # noqa: BLE001 - Spark's parse/analysis errors, reported per rule
            problems.append(f"{where}.constraint: {rule.constraint!r} is not valid here: {_first_line(exc)}")
    if problems:
        raise ConfigError(problems)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class ExpectationEngine:
    """Rewrites one DataFrame so a single action evaluates, counts and enforces all rules."""

    def __init__(self, expectations: Iterable[Expectation], *, table: str) -> None:
        self.rules = tuple(expectations)
        self.table = table
        names = [r.name for r in self.rules]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ConfigError(f"tables.{table}.expectations: rule name(s) {', '.join(duplicates)} used twice")

    def _ok(self, rule: Expectation) -> Column:
        from pyspark.sql import functions as F

        return F.coalesce(F.expr(rule.constraint).cast("boolean"), F.lit(False))

    def _validate(self, df: DataFrame) -> None:
        try:
            df.select(*[self._ok(r) for r in self.rules]).schema  # noqa: B018 - analysis only, no job
        except Exception:  # noqa: BLE001 - find and name the rule at fault
            check_constraints(self.rules, df.schema, table=self.table, spark=df.sparkSession)
            raise

    def prepare(self, df: DataFrame) -> PreparedWrite:
        """The DataFrame to write (rules applied) and how to read the counts afterwards.

        Each rule is evaluated once per row into a hidden boolean column; the
        metrics, the filter and the fail guard all read those columns.
        """
        from pyspark.sql import Observation
        from pyspark.sql import functions as F

        self._validate(df)
        flags = [f"__lakeport_ok_{index}" for index in range(len(self.rules))]
        flagged = df.select("*", *[self._ok(rule).alias(flag) for rule, flag in zip(self.rules, flags, strict=True)])

        def all_ok(action: str) -> Column:
            ok = F.lit(True)
            for rule, flag in zip(self.rules, flags, strict=True):
                if rule.action == action:
                    ok = ok & F.col(flag)
            return ok

        observation = Observation()
        metrics = [F.count(F.lit(1)).alias("__rows")]
        # count_if is about twice as cheap as sum(when(...)) in CollectMetrics, which is not code-generated
        metrics += [F.count_if(~F.col(flag)).alias(f"__r{i}") for i, flag in enumerate(flags)]
        # quarantine wins over drop: a row failing both is kept, in quarantine
        quarantine_ok, drop_ok = all_ok("quarantine"), all_ok("drop")
        metrics.append(F.count_if(~quarantine_ok).alias("__quarantined"))
        metrics.append(F.count_if(quarantine_ok & ~drop_ok).alias("__dropped"))
        observed = flagged.observe(observation, *metrics)

        guard = None
        for rule, flag in zip(self.rules, flags, strict=True):
            if rule.action == "fail":
                message = F.lit(
                    f"{FAIL_MARKER}[{rule.name}] expectation {rule.name!r} ({rule.constraint}) failed on table {self.table!r}"
                )
                guard = (guard if guard is not None else F).when(~F.col(flag), F.raise_error(message))
        keep = quarantine_ok & drop_ok
        condition = keep if guard is None else guard.otherwise(keep)
        written = observed.filter(condition).drop(*flags)
        return PreparedWrite(self, df, written, observation)

    def quarantined_rows(self, df: DataFrame) -> DataFrame:
        """Rows failing any quarantine rule, with the failed rule names and a timestamp."""
        from pyspark.sql import functions as F

        quarantine = [r for r in self.rules if r.action == "quarantine"]
        failed = F.array_compact(F.array(*[F.when(~self._ok(r), F.lit(r.name)) for r in quarantine]))
        return (
            df.withColumn(RULES_COLUMN, failed)
            .filter(F.size(RULES_COLUMN) > 0)
            .withColumn(QUARANTINED_AT_COLUMN, F.current_timestamp())
        )

    def failure(self, source: DataFrame, exc: BaseException) -> ExpectationFailed | None:
        """Turn a job aborted by a ``fail`` rule into ExpectationFailed with counts and samples."""
        text = str(exc)
        if FAIL_MARKER not in text:
            return None
        rule_name = text.split(f"{FAIL_MARKER}[", 1)[1].split("]", 1)[0]
        rule = next((r for r in self.rules if r.name == rule_name), None)
        if rule is None:
            return None
        failing = source.filter(~self._ok(rule))
        samples = [row.asDict() for row in failing.limit(3).collect()]
        return ExpectationFailed(self.table, rule.name, failing.count(), samples)


class PreparedWrite:
    """A DataFrame with rules applied; ``results()`` once the write's action ran."""

    def __init__(self, engine: ExpectationEngine, source: DataFrame, df: DataFrame, observation: Any) -> None:
        self.engine = engine
        self.source = source
        self.df = df
        self.observation = observation

    def results(self, *, mode: str, batch_id: int | None = None, version: int | None = None) -> ExpectationResults:
        values = self.observation.get
        rules = tuple(
            RuleResult(rule.name, rule.constraint, rule.action, int(values.get(f"__r{i}") or 0))
            for i, rule in enumerate(self.engine.rules)
        )
        rows_in = int(values.get("__rows") or 0)
        return ExpectationResults(
            table=self.engine.table,
            mode=mode,
            rows_in=rows_in,
            rules=rules,
            rows_dropped=int(values.get("__dropped") or 0),
            rows_quarantined=int(values.get("__quarantined") or 0),
            batch_id=batch_id,
            version=version,
        )
