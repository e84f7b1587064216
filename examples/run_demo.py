"""The README's demo: the seed streaming example end to end on the embedded backend.

Until the queue, delta and foreachbatch plugins land, it runs the core-only
starter project (`lakeport init` + `lakeport run ingest`).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from lakeport.cli import main


def run_starter() -> int:
    folder = Path(tempfile.mkdtemp(prefix="lakeport-demo-"))
    if main(["init", str(folder)]) != 0:
        return 1
    return main(["run", "ingest", "-c", str(folder / "lakeport.toml")])


if __name__ == "__main__":
    sys.exit(run_starter())
