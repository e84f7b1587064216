"""The driver's commit of a write: move the staged files into the table, add them in one Delta transaction."""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

from lakeport.api import LakeportError, WriteConflict

from . import log as dlog
from .write_plan import StagedFile, WritePlan

logger = logging.getLogger(__name__)


def commit_files(plan: WritePlan, files: list[StagedFile]) -> dict:
    """Move staged files into the table and add them in one Delta transaction."""
    from deltalake import CommitProperties, DeltaTable, Transaction
    from deltalake.exceptions import CommitFailedError, DeltaError
    from deltalake.schema import Field, Schema
    from deltalake.transaction import AddAction, create_table_with_add_actions

    root = plan.root
    num_rows = sum(f.num_rows for f in files)
    txn = plan.txn
    read_version = plan.read_version
    if txn is not None and read_version is not None and dlog.transaction_done(root, txn):
        return _skipped(root, txn, txn[1])

    staging = plan.staging_dir
    moved: list[str] = []
    now = int(time.time() * 1000)
    actions: list[Any] = []
    for f in files:
        final = os.path.join(root, f.path)
        os.makedirs(os.path.dirname(final), exist_ok=True)
        os.replace(os.path.join(staging, f.path), final)
        moved.append(final)
        # delta-rs URI-encodes the path itself when it writes the log
        actions.append(AddAction(f.path, f.size, f.partition_values, now, True, f.stats))

    metadata = {dlog.WRITE_ID_KEY: plan.write_id}
    app_txns = [Transaction(txn[0], int(txn[1]))] if txn is not None else None
    props = CommitProperties(custom_metadata=metadata, app_transactions=app_txns)
    schema = Schema.from_json(plan.schema)
    kind = plan.kind
    try:
        if kind == "create":
            if dlog.is_delta_table(root):
                raise WriteConflict(
                    f"Delta table {root!r} was created by another writer while this write ran; "
                    "nothing of this write was committed, retry it"
                )
            create_table_with_add_actions(
                root,
                schema,
                actions,
                mode="error",
                partition_by=plan.partition_by or None,
                name=plan.table_name,
                description=plan.description,
                configuration=plan.properties or None,
                commit_properties=props,
            )
        elif kind == "replace":
            current = DeltaTable(root)
            meta = current.metadata()
            configuration = dict(meta.configuration or {})
            configuration.update(plan.properties)
            create_table_with_add_actions(
                root,
                schema,
                actions,
                mode="overwrite",
                partition_by=plan.partition_by or None,
                name=plan.table_name or meta.name,
                description=meta.description or plan.description,
                configuration=configuration or None,
                commit_properties=props,
            )
        else:
            dt = DeltaTable(root, version=read_version)
            if plan.added and kind == "append":
                added = [f for f in json.loads(plan.schema)["fields"] if f["name"] in set(plan.added)]
                dt.alter.add_columns([Field.from_json(json.dumps(f)) for f in added])
            dt.create_write_transaction(
                actions,
                mode=kind,
                schema=schema,
                partition_by=plan.partition_by or None,
                commit_properties=props,
            )
    except (CommitFailedError, DeltaError, WriteConflict) as e:
        after = -1 if read_version is None else read_version
        version = dlog.find_commit(root, after, dlog.WRITE_ID_KEY, plan.write_id)
        if version is not None:  # committed; something after the commit (a hook) failed
            logger.warning("Delta table %s: commit v%s succeeded but reported %s", root, version, e)
            return {"version": version, "skipped": False, "num_files": len(files), "num_rows": num_rows}
        _remove(moved)
        if txn is not None and dlog.is_delta_table(root) and dlog.transaction_done(root, txn):
            return _skipped(root, txn, txn[1])
        if isinstance(e, WriteConflict):
            raise
        created_meanwhile = kind == "create" and dlog.is_delta_table(root)
        if isinstance(e, CommitFailedError) or created_meanwhile:
            raise WriteConflict(
                f"Delta table {root!r}: another writer committed first ({_first_line(e)}); "
                "nothing of this write was committed, retry it"
            ) from e
        raise LakeportError(
            f"Delta table {root!r}: the commit failed ({_first_line(e)}); nothing of this write was committed"
        ) from e
    except BaseException:
        _remove(moved)
        raise
    version = dlog.find_commit(root, -1 if read_version is None else read_version, dlog.WRITE_ID_KEY, plan.write_id)
    logger.info("Delta table %s: committed v%s with %d files, %d rows", root, version, len(files), num_rows)
    return {"version": version, "skipped": False, "num_files": len(files), "num_rows": num_rows}


def _skipped(root: str, txn, version) -> dict:
    logger.info("Delta table %s: app %r already committed version %s; write skipped", root, txn[0], version)
    return {"version": None, "skipped": True, "num_files": 0, "num_rows": 0}


def _remove(paths: list[str]) -> None:
    for path in paths:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
