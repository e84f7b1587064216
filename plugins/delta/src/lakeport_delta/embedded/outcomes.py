"""What the embedded engine's writes return; plain values, importable without Spark."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from lakeport.api import RuleCounts


@dataclass(frozen=True)
class WriteOutcome:
    """What an append/overwrite did. ``version`` is None when nothing was committed.

    ``rule_counts`` is set when the write was given a ``rule_mask``.
    """

    version: int | None
    skipped: bool
    num_files: int
    num_rows: int
    rule_counts: RuleCounts | None = None


@dataclass(frozen=True)
class UpsertOutcome:
    """What an upsert did; ``deduplicated`` counts source rows dropped as key duplicates.

    ``rule_counts`` is set when the upsert was given a ``rule_mask``; the other counts
    are of the rows the mask let through.
    """

    version: int | None
    skipped: bool
    inserted: int
    updated: int
    dropped_null_keys: int
    deduplicated: int
    rule_counts: RuleCounts | None = None


@dataclass(frozen=True)
class DeleteOutcome:
    """What a delete did; ``deleted`` is None when delta-rs could not count the rows."""

    version: int | None
    skipped: bool
    deleted: int | None
