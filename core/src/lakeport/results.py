"""What a pipeline run did, as ``lakeport run`` reports it: an explicit result, not guesses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from lakeport.context import WriteResult


@attrs.define
class PipelineResult:
    """Returned by a pipeline run's ``result()``, also after an interrupted run (what was done so far)."""

    pipeline: str
    kind: str
    #: every handle write the run made, in order.
    writes: list[WriteResult] = attrs.field(factory=list)
    #: lines a person reads after the run (one per write or per stream, say).
    summary: list[str] = attrs.field(factory=list)
    details: dict[str, Any] = attrs.field(factory=dict)


def describe_write(result: WriteResult) -> str:
    """One line a person reads after a write."""
    from lakeport.expectations.values import describe_rule

    parts = [f"{result.table}: {result.mode}"]
    expectations = result.expectations
    if result.skipped:
        parts.append("skipped (already committed)")
    elif expectations is not None:
        parts.append(f"{expectations.rows_in} rows in, {expectations.rows_written} written")
        parts += [describe_rule(rule.name, rule.action, rule.failed) for rule in expectations.rules]
    elif result.rows_written is not None:
        parts.append(f"{result.rows_written} rows written")
    if result.version is not None:
        parts.append(f"version {result.version}")
    return ", ".join(parts)
