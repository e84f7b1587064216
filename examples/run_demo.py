"""The README's demo: the dltflow seed's streaming append pipeline, end to end.

Copies ``examples/streaming_append`` into a fresh directory and runs
``lakeport run queue_example`` there: 1,000 generated people stream from a
Python queue through a cast, the ``check_age`` expectation drops those outside
25..45, and the rest are appended to a Delta table on the embedded backend
(delta-rs, no JVM jars). Then it reads the table back.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from lakeport.cli import main as lakeport

EXAMPLE = Path(__file__).resolve().parent / "streaming_append"


def run_demo() -> int:
    folder = Path(tempfile.mkdtemp(prefix="lakeport-demo-")) / "streaming_append"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("spark-warehouse", "__pycache__"))
    project_file = folder / "lakeport.toml"
    print(f"$ lakeport run queue_example -c {project_file}", flush=True)
    code = lakeport(["run", "queue_example", "-c", str(project_file)])
    if code != 0:
        return code
    return show_table(project_file)


def show_table(project_file: Path) -> int:
    """What landed, from the Delta log with delta-rs: it is a plain Delta table."""
    import pyarrow as pa
    from deltalake import DeltaTable

    from lakeport import Project

    project = Project.from_file(project_file)
    path = project.handle("people").path
    table = DeltaTable(path)
    files = pa.table(table.get_add_actions(flatten=True)).to_pylist()
    rows = sum(f["num_records"] for f in files)
    youngest, oldest = min(f["min.age"] for f in files), max(f["max.age"] for f in files)
    print(f"Delta table {project.get('people')} at {path}: version {table.version()}, {rows} rows, "
          f"ages {youngest}..{oldest}")
    return 0


if __name__ == "__main__":
    sys.exit(run_demo())
