"""A mini Delta for tests: parquet snapshots plus an atomically replaced JSON log.

It supports idempotent writes (``supports_txn``) the way Delta application
transactions do, so exactly-once and crash tests need no delta plugin.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

from lakeport.context import WriteResult
from lakeport.errors import TableNotFound
from lakeport.handles.base import Handle

LOG = "_txn_log.json"


class TxnParquetHandle(Handle):
    kind = "txn_parquet"
    supports_txn = True

    def __init__(self, path: str | Path, **common: Any) -> None:
        common.setdefault("table", str(path))
        super().__init__(**common)
        self.path = str(path)
        self.replays = 0

    # -- the log ----------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        log = Path(self.path) / LOG
        if not log.is_file():
            return {"version": -1, "files": [], "txns": {}}
        return json.loads(log.read_text())

    def _commit(self, state: dict[str, Any], files: list[str], txn: tuple[str, int] | None) -> WriteResult:
        state = {**state, "version": state["version"] + 1, "files": files}
        if txn is not None:
            state["txns"] = {**state["txns"], txn[0]: txn[1]}
        tmp = Path(self.path) / f".{LOG}.{uuid.uuid4().hex}"
        with open(tmp, "w") as fh:
            json.dump(state, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, Path(self.path) / LOG)
        return WriteResult(table=self.table, kind=self.kind, mode="?", version=state["version"])

    def _replayed(self, state: dict[str, Any], txn: tuple[str, int] | None) -> bool:
        return txn is not None and state["txns"].get(txn[0], -1) >= txn[1]

    def _write_part(self, df: Any) -> str:
        part = f"part-{uuid.uuid4().hex}"
        df.write.parquet(f"{self.path}/{part}")
        return part

    def _write(self, mode: str, df: Any, txn: Any, build: Any) -> WriteResult:
        state = self.state()
        if self._replayed(state, txn):
            self.replays += 1
            return WriteResult(table=self.table, kind=self.kind, mode=mode, skipped=True)
        result = self._commit(state, build(state), tuple(txn) if txn else None)
        result.mode = mode
        return result

    # -- operations -------------------------------------------------------------------
    def _append(self, df: Any, txn: Any = None, **options: Any) -> WriteResult:
        return self._write("append", df, txn, lambda state: [*state["files"], self._write_part(df)])

    def _overwrite(self, df: Any, txn: Any = None, **options: Any) -> WriteResult:
        return self._write("overwrite", df, txn, lambda state: [self._write_part(df)])

    def _upsert(self, df: Any, keys: tuple[str, ...], txn: Any = None, **options: Any) -> WriteResult:
        def build(state: dict[str, Any]) -> list[str]:
            merged = df
            if state["files"]:
                current = self._read_files(state["files"])
                merged = current.join(df.select(*keys), list(keys), "left_anti").unionByName(df)
            return [self._write_part(merged)]

        return self._write("upsert", df, txn, build)

    def _read_files(self, files: list[str]) -> Any:
        return self.spark.read.parquet(*[f"{self.path}/{f}" for f in files])

    def _read(self, **options: Any) -> Any:
        files = self.state()["files"]
        if not files:
            raise TableNotFound(f"{self.table} has no commits")
        return self._read_files(files)

    def _exists(self) -> bool:
        return bool(self.state()["files"])


def rows(path: str | Path) -> list[dict[str, Any]]:
    """The committed rows, read with pyarrow (no Spark needed)."""
    import pyarrow.parquet as pq

    handle = TxnParquetHandle(path)
    out: list[dict[str, Any]] = []
    for part in handle.state()["files"]:
        out += pq.read_table(f"{path}/{part}").to_pylist()
    return out
