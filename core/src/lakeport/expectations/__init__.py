"""Data-quality expectations: Spark SQL rules with an action, checked in one pass.

Actions: ``allow`` (keep, count), ``drop`` (remove failing rows), ``fail``
(abort the write; nothing is committed) and ``quarantine`` (failing rows go to
the table named by the target's ``quarantine_table``). A row passes a rule only
when the constraint is true; false and NULL both fail it.
"""

from lakeport.expectations.engine import ExpectationEngine, check_constraints
from lakeport.expectations.values import (
    BUILTIN_ACTIONS,
    Expectation,
    ExpectationResults,
    RuleResult,
    describe_rule,
    expectations_from_spec,
    normalize,
)

__all__ = [
    "BUILTIN_ACTIONS",
    "Expectation",
    "ExpectationEngine",
    "ExpectationResults",
    "RuleResult",
    "check_constraints",
    "describe_rule",
    "expectations_from_spec",
    "normalize",
]
