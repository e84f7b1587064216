"""Expectation values: a rule, its result, a write's results. No Spark, no engine.

Apart from :mod:`.engine` so that the engine (and the hooks' annotations) can import
them without importing the package that re-exports the engine.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Iterable

import attrs

from lakeport.config.model import Action

BUILTIN_ACTIONS = tuple(a.value for a in Action)


def _action_value(value: Any) -> str:
    return value.value if isinstance(value, Action) else str(value)


@attrs.frozen
class Expectation:
    """One rule: ``Expectation("check_age", "age BETWEEN 25 AND 45", "drop")``."""

    name: str
    constraint: str
    action: str = attrs.field(default="allow", converter=_action_value)


@attrs.frozen
class RuleResult:
    name: str
    constraint: str
    action: str
    failed: int


@attrs.frozen
class ExpectationResults:
    """Per-rule failure counts of one write or micro-batch."""

    table: str
    mode: str
    rows_in: int
    rules: tuple[RuleResult, ...]
    rows_dropped: int = 0
    rows_quarantined: int = 0
    batch_id: int | None = None
    version: int | None = None
    at: _dt.datetime = attrs.field(factory=lambda: _dt.datetime.now(_dt.timezone.utc))

    def failed(self, rule: str) -> int:
        for result in self.rules:
            if result.name == rule:
                return result.failed
        raise KeyError(f"no rule {rule!r} on table {self.table!r}")

    @property
    def rows_written(self) -> int:
        return self.rows_in - self.rows_dropped - self.rows_quarantined

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "rows_in": self.rows_in,
            "rows_written": self.rows_written,
            "rows_dropped": self.rows_dropped,
            "rows_quarantined": self.rows_quarantined,
            "rules": {r.name: {"action": r.action, "failed": r.failed} for r in self.rules},
        }


def describe_rule(name: str, action: str, failed: int) -> str:
    """``3 dropped by check_age``: what a rule's failures meant for the rows."""
    verb = {"drop": "dropped by", "quarantine": "quarantined by"}.get(action, "failed")
    return f"{failed} {verb} {name}"


def expectations_from_spec(spec: Any) -> tuple[Expectation, ...]:
    """Rules of a TableSpec; a rule without its own action takes ``expectation_action``."""
    default = _action_value(spec.expectation_action)
    return tuple(
        Expectation(e.name, e.constraint, _action_value(e.action) if e.action is not None else default)
        for e in spec.expectations
    )


def normalize(expectations: Iterable[Any]) -> tuple[Expectation, ...]:
    """Accept Expectation objects, (name, constraint[, action]) tuples or dicts."""
    out = []
    for item in expectations:
        if isinstance(item, Expectation):
            out.append(item)
        elif isinstance(item, dict):
            out.append(Expectation(item["name"], item["constraint"], item.get("action", "allow")))
        else:
            out.append(Expectation(*item))
    return tuple(out)
