"""Evaluate every rule of a write in the write's own pass over the data.

Per-rule failure counts come either from ``DataFrame.observe`` on the written
plan, or, for a handle whose writer counts a rule mask itself
(:mod:`lakeport.expectations.mask`), from that writer; neither costs an extra
Spark job. ``fail`` rules abort the write job itself through ``raise_error``;
only then are failing rows counted and sampled.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Iterable

from lakeport.errors import ConfigError, ExpectationFailed, LakeportError
from lakeport.expectations.mask import MASK_COLUMN, MAX_MASK_RULES, RuleCounts, RuleMask
from lakeport.expectations.values import BUILTIN_ACTIONS, Expectation, ExpectationResults, RuleResult

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


def _sql_string(text: str) -> str:
    """``text`` as a Spark SQL string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


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

    @staticmethod
    def _ok_sql(rule: Expectation) -> str:
        """SQL: the row passes ``rule`` (NULL fails). The constraint stands on lines of its own,
        so a trailing ``--`` comment stays inside."""
        return f"coalesce(CAST((\n{rule.constraint}\n) AS BOOLEAN), false)"

    def _ok(self, rule: Expectation) -> Column:
        from pyspark.sql import functions as F

        return F.expr(self._ok_sql(rule))

    def _flagged(self, df: DataFrame) -> tuple[DataFrame, list[str]]:
        """``df`` plus one boolean column per rule (true: the row passes it)."""
        flags = [f"__lakeport_ok_{index}" for index in range(len(self.rules))]
        checks = [f"{self._ok_sql(rule)} AS {flag}" for rule, flag in zip(self.rules, flags, strict=True)]
        return self._select(df, checks), flags

    def _select(self, df: DataFrame, columns: list[str]) -> DataFrame:
        """``df`` plus SQL ``columns`` that use the rules; a rule that does not analyse is named.

        One ``selectExpr`` parses and analyses every rule at once: the Column API
        costs a Py4J round trip per call, hundreds for 20 rules, on every write.
        """
        try:
            selected = df.selectExpr("*", *columns)
            selected.schema  # noqa: B018 - analysis only, no job (Spark Connect analyses lazily)
        except Exception:  # noqa: BLE001 - find and name the rule at fault
            check_constraints(self.rules, df.schema, table=self.table, spark=df.sparkSession)
            raise
        return selected

    def _guard_sql(self, passes: list[str], otherwise: str) -> str:
        """SQL: ``otherwise``, except that a row failing a ``fail`` rule raises that rule's error in the job.

        ``passes[i]`` is SQL that is true when the row passes rule ``i`` (the rule
        itself, or a column holding its result).
        """
        guards = [
            f"WHEN NOT {ok} THEN raise_error({_sql_string(self._fail_text(rule))})"
            for rule, ok in zip(self.rules, passes, strict=True)
            if rule.action == "fail"
        ]
        return f"CASE {' '.join(guards)} ELSE {otherwise} END" if guards else otherwise

    def _fail_text(self, rule: Expectation) -> str:
        return f"{FAIL_MARKER}[{rule.name}] expectation {rule.name!r} ({rule.constraint}) failed on table {self.table!r}"

    def _all_ok(self, flags: list[str], action: str) -> str:
        """SQL: the row passes every rule with ``action``."""
        passed = [flag for rule, flag in zip(self.rules, flags, strict=True) if rule.action == action]
        return " AND ".join(passed) if passed else "true"

    def prepare(self, df: DataFrame, *, rule_mask: bool = False) -> PreparedWrite:
        """The DataFrame to write (rules applied) and how to read the counts afterwards.

        With ``rule_mask=True`` (the handle's writer counts a rule mask) and at
        most :data:`~lakeport.expectations.mask.MAX_MASK_RULES` rules, the
        DataFrame keeps every row plus the mask column and
        ``PreparedWrite.rule_mask`` says what its bits mean; otherwise the rules
        are counted with ``observe`` and failing rows are filtered here.
        """
        if rule_mask and len(self.rules) <= MAX_MASK_RULES and MASK_COLUMN not in df.columns:
            return self._prepare_masked(df)
        if rule_mask:
            log.debug("%s: %d rules: counting with observe instead of a rule mask", self.table, len(self.rules))
        return self._prepare_observed(df)

    def _mask_sql(self) -> tuple[str, int, int]:
        """SQL of the mask column, and its drop and quarantine bits.

        Bit ``i`` is set when rule ``i`` failed; each rule appears once in the
        expression, so it is evaluated once per row. ``fail`` rules get no bit:
        a row failing one raises its error in the job (a committed write has
        none failing).
        """
        terms, drop_bits, quarantine_bits = [], 0, 0
        for index, rule in enumerate(self.rules):
            if rule.action == "fail":
                continue
            terms.append(f"IF({self._ok_sql(rule)}, 0L, {1 << index}L)")
            if rule.action == "drop":
                drop_bits |= 1 << index
            elif rule.action == "quarantine":
                quarantine_bits |= 1 << index
        mask = self._guard_sql([self._ok_sql(rule) for rule in self.rules], " + ".join(terms) if terms else "0L")
        return mask, drop_bits, quarantine_bits

    def _prepare_masked(self, source: DataFrame) -> PreparedWrite:
        """Every row plus the mask column, for a writer that counts and filters it."""
        mask, drop_bits, quarantine_bits = self._mask_sql()
        written = self._select(source, [f"{mask} AS {MASK_COLUMN}"])
        described = RuleMask(MASK_COLUMN, len(self.rules), drop_bits=drop_bits, quarantine_bits=quarantine_bits)
        return PreparedWrite(self, source, written, None, described)

    def _prepare_observed(self, source: DataFrame) -> PreparedWrite:
        """Counts through ``observe`` on the written plan; failing rows are filtered here.

        One boolean column per rule feeds the counts, the filter and the fail
        guard. (Counting bits of the mask column instead measured no faster:
        CollectMetrics itself, not code-generated, is the cost.)
        """
        from pyspark.sql import Observation
        from pyspark.sql import functions as F

        flagged, flags = self._flagged(source)
        observation = Observation()
        metrics = ["count(1) AS __rows"]
        # count_if is about twice as cheap as sum(when(...)) in CollectMetrics, which is not code-generated
        metrics += [f"count_if(NOT {flag}) AS __r{index}" for index, flag in enumerate(flags)]
        # quarantine wins over drop: a row failing both is kept, in quarantine
        quarantine_ok, drop_ok = self._all_ok(flags, "quarantine"), self._all_ok(flags, "drop")
        metrics.append(f"count_if(NOT ({quarantine_ok})) AS __quarantined")
        metrics.append(f"count_if(({quarantine_ok}) AND NOT ({drop_ok})) AS __dropped")
        observed = flagged.observe(observation, *[F.expr(metric) for metric in metrics])
        keep = F.expr(self._guard_sql(flags, f"({quarantine_ok}) AND ({drop_ok})"))
        written = observed.filter(keep).drop(*flags)
        return PreparedWrite(self, source, written, observation)

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
    """A DataFrame with rules applied; ``results()`` once the write's action ran.

    ``rule_mask`` is None when the counts come from ``observation``; else the
    writer must be given it (``rule_mask=`` write option) and its
    ``WriteResult.rule_counts`` passed to ``results()``.
    """

    def __init__(
        self, engine: ExpectationEngine, source: DataFrame, df: DataFrame, observation: Any,
        rule_mask: RuleMask | None = None,
    ) -> None:
        self.engine = engine
        self.source = source
        self.df = df
        self.observation = observation
        self.rule_mask = rule_mask

    def results(
        self, *, mode: str, batch_id: int | None = None, version: int | None = None, counts: RuleCounts | None = None
    ) -> ExpectationResults:
        if self.rule_mask is not None:
            return self._from_counts(counts, mode=mode, batch_id=batch_id, version=version)
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

    def _from_counts(
        self, counts: RuleCounts | None, *, mode: str, batch_id: int | None, version: int | None
    ) -> ExpectationResults:
        rules = self.engine.rules
        if counts is None:
            raise LakeportError(
                f"{self.engine.table}: the write was given a rule mask but its handle reported no rule counts "
                "(WriteResult.rule_counts); a handle whose counts_rule_mask() is True must return them"
            )
        failed = counts.failed + (0,) * (len(rules) - len(counts.failed))  # no rows: no bits
        return ExpectationResults(
            table=self.engine.table,
            mode=mode,
            rows_in=counts.rows_in,
            rules=tuple(RuleResult(r.name, r.constraint, r.action, failed[i]) for i, r in enumerate(rules)),
            rows_dropped=counts.rows_dropped,
            rows_quarantined=counts.rows_quarantined,
            batch_id=batch_id,
            version=version,
        )
