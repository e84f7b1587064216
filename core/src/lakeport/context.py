"""What reader and writer hooks receive: the handle, the DataFrame, and a place for results."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import attrs

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from lakeport.protocols import HandleView


@attrs.define
class ReadContext:
    """Hooks may replace ``df``."""

    handle: HandleView
    df: DataFrame
    streaming: bool = False


@attrs.define
class WriteResult:
    """What a write did; returned by every handle write."""

    table: str
    kind: str
    mode: str
    #: table version the write created, where the kind has versions.
    version: int | None = None
    #: True when an idempotent write (``txn=``) was a replay and wrote nothing.
    skipped: bool = False
    rows_written: int | None = None
    #: per-rule counts when the table has expectations (``ExpectationResults``).
    expectations: Any = None
    #: what the kind's writer counted from a rule mask (``lakeport.expectations.mask.RuleCounts``),
    #: when the write was given ``rule_mask=``; the expectations plugin turns it into ``expectations``.
    rule_counts: Any = None
    details: dict[str, Any] = attrs.field(factory=dict)


@attrs.define
class WriteContext:
    """A write in flight. ``before_write`` hooks may replace ``df``.

    ``after_commit`` callbacks run once the kind committed, with the
    :class:`WriteResult`; ``on_failure`` callbacks see the exception of a failed
    write and may raise a clearer one.
    """

    handle: HandleView
    df: DataFrame
    mode: str
    keys: tuple[str, ...] = ()
    options: dict[str, Any] = attrs.field(factory=dict)
    #: e.g. a foreachBatch batch id; hooks may key results by it.
    batch_id: int | None = None
    after_commit_callbacks: list[Callable[[WriteResult], None]] = attrs.field(factory=list)
    on_failure_callbacks: list[Callable[[BaseException], None]] = attrs.field(factory=list)

    def after_commit(self, callback: Callable[[WriteResult], None]) -> None:
        self.after_commit_callbacks.append(callback)

    def on_failure(self, callback: Callable[[BaseException], None]) -> None:
        self.on_failure_callbacks.append(callback)
