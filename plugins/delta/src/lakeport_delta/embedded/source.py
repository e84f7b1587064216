"""The ``lakeport_delta`` Python data source: batch reader and writer over delta-rs.

Reads: the driver lists the snapshot's files with delta-rs (typed partition values and
statistics), prunes them with the pushed-down filters and packs them into input
partitions; each task reads its parquet files with pyarrow and yields Arrow batches in
exactly the schema Spark expects.

Writes: each task writes parquet files into a staging directory inside the table
(``_lakeport_staging/<write id>``, ignored by Delta readers) and returns their
description; the driver's ``commit`` moves them into place and adds them in one Delta
transaction. A failed job, a conflict or a skipped idempotent write removes the staged
files, so nothing of it stays in the table.

A plan with a rule mask (expectations, :mod:`lakeport.expectations.mask`) makes each
task count the rule bits of its batches, drop the rows that hit a drop or quarantine bit
and the mask column, and return its counts in its commit message; ``commit`` sums them
into the outcome.

This module wires those jobs into Spark's data source API; they live in :mod:`.reader`
and :mod:`.scan` (reading), :mod:`.write_plan` (planning a write), :mod:`.task_writer`
(a task's staged files) and :mod:`.commit` (the driver's Delta transaction).
"""

from __future__ import annotations

import json
import logging

from pyspark.sql.datasource import DataSource, DataSourceArrowWriter, WriterCommitMessage

from lakeport.api import LakeportError, RuleCounts

from . import SOURCE_NAME
from . import log as dlog
from .commit import commit_files
from .reader import DeltaBatchReader, DeltaPushdownReader
from .scan import flag, load_for_read, split_columns
from .task_writer import write_batches
from .write_plan import StagedFile, WritePlan, plan_write, remove_staging, write_outcome

__all__ = ["DeltaDataSource", "DeltaWriter", "SkippedWriter", "plan_write"]

logger = logging.getLogger(__name__)


class DeltaDataSource(DataSource):
    """Delta tables through delta-rs; options follow Delta's names where Delta has one."""

    @classmethod
    def name(cls) -> str:
        return SOURCE_NAME

    def _root(self) -> str:
        path = self.options.get("path")
        if not path:
            raise LakeportError(f"data source {SOURCE_NAME!r} needs a path: .load(path) or .save(path)")
        return dlog.table_root(path)

    def schema(self):
        plan = self.options.get("lakeport.plan")
        if plan:
            from pyspark.sql.types import StructType

            return StructType.fromJson(json.loads(WritePlan.from_json(plan).schema))
        root = self._root()
        dt = load_for_read(root, self.options)
        return dlog.spark_schema(dt)

    def reader(self, schema):
        if str(self.options.get("filterPushdown", "false")).lower() == "true":
            return DeltaPushdownReader(self._root(), self.options, schema)
        return DeltaBatchReader(self._root(), self.options, schema)

    def writer(self, schema, overwrite: bool):
        plan = self.options.get("lakeport.plan")
        if plan:
            return DeltaWriter(WritePlan.from_json(plan))
        mode = "overwrite" if overwrite else "append"
        partition_by = split_columns(self.options.get("partitionBy"))
        txn = None
        if self.options.get("txnAppId") is not None:
            txn = (self.options["txnAppId"], int(self.options["txnVersion"]))
        built = plan_write(
            self._root(),
            schema,
            mode=mode,
            partition_by=partition_by,
            merge_schema=flag(self.options.get("mergeSchema")),
            overwrite_schema=flag(self.options.get("overwriteSchema")),
            txn=txn,
        )
        if built is None:
            return SkippedWriter()
        return DeltaWriter(built)

    def streamReader(self, schema):
        from .stream import DeltaStreamReader

        return DeltaStreamReader(self._root(), self.options, schema)


class DeltaCommitMessage(WriterCommitMessage):
    """The files one task staged, and its rule counts."""

    def __init__(self, files: list[StagedFile], num_rows: int, rule_counts: RuleCounts | None = None) -> None:
        self.files = files
        self.num_rows = num_rows
        self.rule_counts = rule_counts


class SkippedWriter(DataSourceArrowWriter):
    """An idempotent write whose transaction version was already committed."""

    def write(self, iterator):
        for _ in iterator:
            pass
        return DeltaCommitMessage([], 0)

    def commit(self, messages) -> None:
        logger.info("Delta write skipped: application transaction already committed")

    def abort(self, messages) -> None:
        return None


class DeltaWriter(DataSourceArrowWriter):
    """Tasks write staged parquet files; the driver commits them in one Delta transaction."""

    def __init__(self, plan: WritePlan) -> None:
        self.plan = plan

    def write(self, iterator):
        from pyspark import TaskContext

        ctx = TaskContext.get()
        task = ctx.partitionId() if ctx is not None else 0
        attempt = ctx.attemptNumber() if ctx is not None else 0
        written, counts = write_batches(self.plan, iterator, task, attempt)
        return DeltaCommitMessage(written, sum(f.num_rows for f in written), counts)

    def commit(self, messages) -> None:
        plan = self.plan
        messages = [m for m in messages if m is not None]
        files = [f for m in messages for f in m.files]
        try:
            outcome = commit_files(plan, files)
        except LakeportError as e:
            write_outcome(plan, {"error": type(e).__name__, "message": str(e)})
            raise
        finally:
            remove_staging(plan)
        if plan.rule_mask:
            outcome["ruleCounts"] = RuleCounts.total(m.rule_counts for m in messages).to_dict()
        write_outcome(plan, outcome)

    def abort(self, messages) -> None:
        remove_staging(self.plan)
        logger.info("Delta write to %s aborted; staged files removed", self.plan.root)
