"""The rule mask: a writer that sees the rows in Python counts and filters them itself.

Counting failures with ``DataFrame.observe`` costs a write about as much again
as the write: CollectMetrics stops whole-stage code generation and updates one
aggregate per rule for every row. A handle whose writer receives the rows as
Arrow batches anyway (the embedded Delta backend) can do better: the engine
adds one BIGINT column, bit ``i`` set when rule ``i`` failed (computed in
code-generated Spark SQL), and the writer counts the bits with numpy, drops the
rows whose mask hits a drop or quarantine bit and writes the rest without the
column. Its :class:`RuleCounts` come back on ``WriteResult.rule_counts``.

The protocol (see :meth:`lakeport.handles.base.Handle.counts_rule_mask`):

1. the handle says ``counts_rule_mask(mode)`` is True;
2. the expectations plugin passes ``rule_mask=RuleMask(...)`` in the write's
   options and the DataFrame carries ``rule_mask.column``;
3. the handle calls :meth:`RuleMask.apply` on every Arrow batch (or table)
   before writing it, sums the counts (``+``) over its tasks and returns them in
   ``WriteResult.rule_counts``.

Nothing here imports pyarrow or numpy until a batch is applied.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql.types import StructType

#: a BIGINT has 63 bits besides the sign; more rules fall back to ``observe``.
MAX_MASK_RULES = 62
MASK_COLUMN = "__lakeport_rule_mask"


@attrs.frozen
class RuleMask:
    """Where the mask is and what its bits mean. Bit ``i`` is rule ``i`` of the write."""

    column: str
    rules: int = attrs.field(validator=attrs.validators.and_(attrs.validators.ge(0), attrs.validators.le(MAX_MASK_RULES)))
    #: bits of ``drop`` rules: a row with one of them set is not written.
    drop_bits: int = 0
    #: bits of ``quarantine`` rules: not written either, and counted as quarantined (quarantine wins over drop).
    quarantine_bits: int = 0

    @property
    def filter_bits(self) -> int:
        return self.drop_bits | self.quarantine_bits

    def written_schema(self, schema: StructType) -> StructType:
        """``schema`` of the masked DataFrame without the mask column: what the writer writes."""
        from pyspark.sql.types import StructType

        return StructType([f for f in schema.fields if f.name != self.column])

    def to_dict(self) -> dict[str, Any]:
        """Plain values, for a JSON write plan shipped to Spark tasks."""
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> RuleMask:
        return cls(**value)

    def apply(self, data: pa.RecordBatch | pa.Table) -> tuple[pa.RecordBatch | pa.Table, RuleCounts]:
        """``data`` without the mask column and without filtered rows, and what its mask counted."""
        import numpy as np
        import pyarrow as pa

        index = data.schema.get_field_index(self.column)
        if index < 0:
            raise ValueError(f"rule mask column {self.column!r} is not in the data ({', '.join(data.schema.names)})")
        column = data.column(index)
        rest = data.remove_column(index)
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        if column.null_count:
            raise ValueError(f"rule mask column {self.column!r} has NULLs; the engine never writes one")
        masks = column.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
        rows = len(masks)
        failing = masks[masks != 0]  # usually few rows: count bits on those only
        if not len(failing):
            return rest, RuleCounts(rows_in=rows, failed=(0,) * self.rules)
        failed = tuple(int(np.count_nonzero(failing & (1 << bit))) for bit in range(self.rules))
        quarantined = (failing & self.quarantine_bits) != 0
        dropped = ~quarantined & ((failing & self.drop_bits) != 0)
        counts = RuleCounts(
            rows_in=rows,
            failed=failed,
            rows_dropped=int(np.count_nonzero(dropped)),
            rows_quarantined=int(np.count_nonzero(quarantined)),
        )
        if counts.rows_dropped or counts.rows_quarantined:
            rest = rest.filter(pa.array((masks & self.filter_bits) == 0))
        return rest, counts


@attrs.frozen
class RuleCounts:
    """What a writer counted from the rule mask; ``a + b`` sums two tasks' counts."""

    rows_in: int = 0
    #: failing rows per rule, in rule order (bit order).
    failed: tuple[int, ...] = attrs.field(default=(), converter=tuple[int, ...])
    rows_dropped: int = 0
    rows_quarantined: int = 0

    def __add__(self, other: RuleCounts) -> RuleCounts:
        if not isinstance(other, RuleCounts):
            return NotImplemented
        width = max(len(self.failed), len(other.failed))
        mine = self.failed + (0,) * (width - len(self.failed))
        theirs = other.failed + (0,) * (width - len(other.failed))
        return RuleCounts(
            rows_in=self.rows_in + other.rows_in,
            failed=tuple(a + b for a, b in zip(mine, theirs, strict=True)),
            rows_dropped=self.rows_dropped + other.rows_dropped,
            rows_quarantined=self.rows_quarantined + other.rows_quarantined,
        )

    @classmethod
    def total(cls, counts: Any) -> RuleCounts:
        """The sum of an iterable of counts (``None`` entries skipped)."""
        out = cls()
        for item in counts:
            if item is not None:
                out = out + item
        return out

    def to_dict(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "failed": list(self.failed)}

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> RuleCounts:
        return cls(**value)
