"""spetlr's "Streaming with autoload" seed example, written in lakeport.

The seed's changes for lakeport: imports come from ``lakeport``, handles and the
checkpoint path come from a ``Project`` (spetlr's ``Configurator``), and
``AutoloaderHandle.from_tc`` is ``AutoloaderHandle.from_config``.

``main()`` lands Avro files, streams them, lands a second batch with a new
column (``country``): Auto Loader stops the stream naming it and adds it to the
stored schema (``addNewColumns``); the restart reads it.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from lakeport import LakeportError, Project
from lakeport.etl import Orchestrator, SimpleLoader, StreamExtractor
from lakeport_autoloader import AutoloaderHandle
from lakeport_delta import DeltaHandle
from lakeport_foreachbatch import StreamLoader

HERE = Path(__file__).resolve().parent
#: PySpark's own Avro writer (no spark-avro jar needed; see plugins/delta/README.md "Avro").
AVRO = "org.apache.spark.sql.avro.AvroFileFormat"
log = logging.getLogger("autoloader_avro")


def ingest(project: Project) -> StreamLoader:
    """The seed's code: Avro files in, Delta out; each run takes only files not read before."""
    dh_target = DeltaHandle.from_config(project, "AvroSink")

    loader = StreamLoader(
        loader=SimpleLoader(handle=dh_target),
        await_termination=True,
        checkpoint_path=project.get("AvroSink", "checkpoint_path"),
    )
    Orchestrator()\
        .extract_from(
            StreamExtractor(
                AutoloaderHandle.from_config(project, "AvroSource"), dataset_key="AvroSource"
            )
        )\
        .load_into(loader)\
        .execute()
    return loader


def land_orders(project: Project, first_id: int, count: int, *, with_country: bool = False) -> None:
    """Avro files arriving in the landing folder (one file per call), as an upstream system drops them."""
    spark = project.spark()
    rows = [(i, f"item-{i % 7}", float(i) * 1.5) + ((("DK", "SE", "NO")[i % 3],) if with_country else ())
            for i in range(first_id, first_id + count)]
    schema = "id BIGINT, item STRING, amount DOUBLE" + (", country STRING" if with_country else "")
    spark.createDataFrame(rows, schema).coalesce(1).write.format(AVRO).mode("append") \
        .save(project.handle("AvroSource").path)


def main(project_file: Path = HERE / "lakeport.toml") -> int:
    project = Project.from_file(project_file)
    land_orders(project, 1, 5)
    print(ingest(project).summary())

    land_orders(project, 6, 5, with_country=True)
    try:
        ingest(project)
    except LakeportError as exc:  # addNewColumns: the stream stops once, naming the new column
        print(f"stream stopped: {exc}")
    print(ingest(project).summary())  # the restart reads the new column
    rows = project.handle("AvroSink").read().orderBy("id").collect()
    print(f"AvroSink now has {len(rows)} rows; countries {[r['country'] for r in rows]}")
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.exit(main())
