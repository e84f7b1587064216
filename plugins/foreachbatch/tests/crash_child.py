"""Child process of the crash tests: stream a JSON folder into a TxnParquetHandle until done (or killed).

Usage: crash_child.py MODE SOURCE TARGET CHECKPOINT READY_FILE [txn|delta|native]

The target is the test's TxnParquetHandle, with ``delta`` a real DeltaHandle on the
embedded backend, with ``native`` one on the native backend in a session built with
delta-spark's jars (``lakeport_delta.spark_conf.delta_spark_conf()``).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def main(mode: str, source: str, target: str, checkpoint: str, ready: str, kind: str = "txn") -> int:
    from txn_handle import TxnParquetHandle

    from lakeport.etl import Orchestrator, SimpleLoader, StreamExtractor
    from lakeport.handles.files import FilesHandle
    from lakeport.session import get_or_create_session
    from lakeport_foreachbatch import StreamLoader

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("lakeport").setLevel(logging.INFO)
    conf = {"spark.master": "local[2]", "spark.sql.shuffle.partitions": "2"}
    if kind == "native":
        from lakeport_delta.spark_conf import delta_spark_conf

        conf.update(delta_spark_conf())
    get_or_create_session(conf)
    Path(ready).touch()  # Spark is up: from here on the parent kills at random points
    src = FilesHandle(source, format="json", schema="id BIGINT, name STRING, seq BIGINT", max_files_per_trigger=1)
    keys = ["id"] if mode == "upsert" else None
    extra = {"sequence_by": "seq"} if mode == "upsert" else {}
    if kind in ("delta", "native"):
        from lakeport_delta import DeltaHandle

        backend = "embedded" if kind == "delta" else "native"
        handle = DeltaHandle(location=target, backend=backend, table="crash_target")
    else:
        handle = TxnParquetHandle(target)
    loader = StreamLoader(
        SimpleLoader(handle, mode=mode, keys=keys, **extra),
        checkpoint_path=checkpoint,
        await_termination=True,
    )
    Orchestrator().extract_from(StreamExtractor(src)).load_into(loader).execute()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
