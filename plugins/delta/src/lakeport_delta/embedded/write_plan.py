"""The plan of a write, decided on the driver before any file is written, and the staged files' descriptors.

The plan travels to Spark's writer as JSON (the ``lakeport.plan`` option) and to the
tasks pickled; it is a frozen value so that no task can change what the driver commits.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from typing import TYPE_CHECKING

import attrs

from lakeport.api import LakeportError, SchemaMismatch, TableNotFound

from . import log as dlog
from . import schemas

if TYPE_CHECKING:  # pragma: no cover
    from lakeport.api import RuleMask

logger = logging.getLogger(__name__)


@attrs.frozen
class WritePlan:
    """Everything about one append/overwrite; ``kind`` is create, replace, append or overwrite."""

    root: str
    write_id: str
    kind: str
    read_version: int | None
    schema: str  # the table's Spark schema as JSON
    columns: list[tuple[str, str]]  # (data column, table column)
    added: list[str]
    partition_by: list[str]
    txn: tuple[str, int] | None = None
    table_name: str | None = None
    description: str | None = None
    properties: dict[str, str] = attrs.field(factory=dict)
    rule_mask: dict | None = None  # RuleMask.to_dict()
    outcome: str | None = None  # the file the driver's commit reports into

    def to_json(self) -> str:
        return json.dumps(attrs.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> WritePlan:
        data = json.loads(text)
        data["columns"] = [(d, t) for d, t in data["columns"]]
        if data.get("txn") is not None:
            data["txn"] = (str(data["txn"][0]), int(data["txn"][1]))
        return cls(**data)

    @property
    def staging_dir(self) -> str:
        return os.path.join(self.root, dlog.STAGING_DIR, self.write_id)


@attrs.frozen
class StagedFile:
    """One parquet file a task wrote into the staging directory, as the commit adds it."""

    path: str  # relative to the table root (and to the staging directory)
    size: int
    partition_values: dict[str, str | None]  # encoded as the Delta log stores them
    num_rows: int
    stats: str  # Delta statistics JSON


def plan_write(
    root: str,
    data_schema,
    *,
    mode: str = "append",
    partition_by: list[str] | None = None,
    merge_schema: bool = False,
    overwrite_schema: bool = False,
    txn: tuple[str, int] | None = None,
    table_name: str | None = None,
    description: str | None = None,
    properties: dict | None = None,
    rule_mask: RuleMask | None = None,
) -> WritePlan | None:
    """Decide everything about a write before any file is written; None means skip (txn).

    With ``rule_mask`` the data carries the mask column, which is not written.
    Raises :class:`SchemaMismatch` for schema or partitioning problems, naming the table
    and the columns.
    """
    if mode not in ("append", "overwrite"):
        raise LakeportError(f"Delta table {root!r}: unsupported write mode {mode!r} (append or overwrite)")
    if overwrite_schema and mode != "overwrite":
        raise LakeportError(f"Delta table {root!r}: overwrite_schema=True needs mode='overwrite'")
    dt = None
    if os.path.isdir(os.path.join(root, dlog.LOG_DIR)):
        try:
            dt = dlog.load_table(root)
        except TableNotFound:  # an empty or half-deleted _delta_log: write a new table
            dt = None
    if txn is not None:
        app_id, txn_version = str(txn[0]), int(txn[1])
        if dt is not None:
            done = dt.transaction_version(app_id)
            if done is not None and done >= txn_version:
                logger.info(
                    "Delta table %s: skipping write, app %r already committed version %s (>= %s)",
                    root,
                    app_id,
                    done,
                    txn_version,
                )
                return None
        txn = (app_id, txn_version)

    if rule_mask is not None:
        data_schema = rule_mask.written_schema(data_schema)
    table_schema = None
    current_parts: list[str] = []
    if dt is not None:
        dlog.check_supported(dt, root, "write to")
        table_schema = dlog.spark_schema(dt)
        current_parts = list(dt.metadata().partition_columns)
    replace = dt is None or (mode == "overwrite" and overwrite_schema)
    checked = schemas.check_write_schema(
        table_schema, data_schema, table=root, merge_schema=merge_schema, replace=replace
    )
    if dt is None:
        parts = schemas.check_partition_columns(checked.table, list(partition_by or []), root)
    elif replace:
        parts = schemas.check_partition_columns(
            checked.table, list(partition_by if partition_by is not None else current_parts), root
        )
    else:
        if partition_by is not None and [p.lower() for p in partition_by] != [p.lower() for p in current_parts]:
            raise SchemaMismatch(
                f"Delta table {root!r} is partitioned by {current_parts or 'nothing'}, not by "
                f"{list(partition_by)}; use mode='overwrite' with overwrite_schema=True to change it"
            )
        parts = current_parts
    if dt is None:
        kind = "create"
    elif replace and parts != current_parts:
        kind = "replace"  # new partitioning: CREATE OR REPLACE in one commit
    else:
        kind = mode  # an overwrite commit carries a changed schema itself
    return WritePlan(
        root=root,
        write_id=uuid.uuid4().hex,
        kind=kind,
        read_version=None if dt is None else dt.version(),
        schema=checked.table.json(),
        columns=[(d, t) for d, t in checked.data_columns],
        added=list(checked.added),
        partition_by=list(parts),
        txn=txn,
        table_name=table_name,
        description=description,
        properties=dict(properties or {}),
        rule_mask=rule_mask.to_dict() if rule_mask is not None else None,
    )


def write_outcome(plan: WritePlan, outcome: dict) -> None:
    """Report the commit's outcome (or its error) to the driver code that started the write."""
    target = plan.outcome
    if not target:
        return
    tmp = f"{target}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(outcome, fh)
    os.replace(tmp, target)


def remove_staging(plan: WritePlan) -> None:
    """Remove the write's staged files, and the table directory a failed create left empty."""
    shutil.rmtree(plan.staging_dir, ignore_errors=True)
    parent = os.path.join(plan.root, dlog.STAGING_DIR)
    try:
        os.rmdir(parent)
    except OSError:
        pass  # another write is staging, or it is already gone
    if plan.kind == "create":
        try:
            os.rmdir(plan.root)  # only succeeds if the failed create left it empty
        except OSError:
            pass
