"""Helpers shared by the foreachBatch tests: JSON source folders and the mini-Delta handle."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
if str(HERE) not in sys.path:  # txn_handle is imported by tests and by the crash child
    sys.path.insert(0, str(HERE))

SCHEMA = "id BIGINT, name STRING, seq BIGINT"


def write_json(folder: Path, name: str, rows: list[dict]) -> None:
    """One source file; written under a temp name and renamed so a stream never sees half of it."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.tmp"
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    # file streams take files oldest first: give each a later mtime than those before it
    latest = max((p.stat().st_mtime for p in folder.glob("*.json")), default=0.0)
    os.utime(tmp, (max(latest + 1, tmp.stat().st_mtime),) * 2)
    tmp.rename(folder / f"{name}.json")


@pytest.fixture
def source(tmp_lake):
    """A JSON folder streamed one file per micro-batch."""
    from lakeport.handles.files import FilesHandle

    return FilesHandle(str(tmp_lake / "src"), format="json", schema=SCHEMA, max_files_per_trigger=1, table="src")
