"""spetlr's "Delta streaming" seed example, written in lakeport.

The seed's changes for lakeport: imports come from ``lakeport``, handles and
the checkpoint path come from a ``Project`` (spetlr's ``Configurator``), and
the handle is built with ``DeltaHandle.from_config``.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from lakeport import Project
from lakeport.etl import Orchestrator, SimpleLoader, StreamExtractor
from lakeport_delta import DeltaHandle
from lakeport_foreachbatch import StreamLoader

HERE = Path(__file__).resolve().parent


def mirror(project: Project) -> StreamLoader:
    """The seed's code: stream MyTbl into MyTblMirror; each run takes only new rows."""
    dh_source = DeltaHandle.from_config(project, "MyTbl")
    dh_target = DeltaHandle.from_config(project, "MyTblMirror")

    loader = StreamLoader(
        loader=SimpleLoader(handle=dh_target, mode="append"),
        await_termination=True,
        checkpoint_path=project.get("MyTblMirror", "checkpoint_path"),
    )
    Orchestrator()\
        .extract_from(StreamExtractor(dh_source, dataset_key="MyTbl"))\
        .load_into(loader)\
        .execute()
    return loader


def add_orders(project: Project, first_id: int, count: int) -> None:
    """New rows in the source table, so there is something to mirror."""
    source = project.handle("MyTbl")
    rows = [(i, f"item-{i % 7}", float(i) * 1.5) for i in range(first_id, first_id + count)]
    source.append(project.spark().createDataFrame(rows, source.declared_struct()))


def main(project_file: Path = HERE / "lakeport.toml") -> None:
    project = Project.from_file(project_file)
    source = project.handle("MyTbl")
    next_id = source.read().count() + 1 if source.exists() else 1
    add_orders(project, next_id, 5)
    loader = mirror(project)
    print(loader.summary())
    print(f"MyTblMirror now has {project.handle('MyTblMirror').read().count()} rows")


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.exit(main())
