"""The ``spark-pipeline.yml`` that lets Apache Spark's ``spark-pipelines run`` execute a rendered ``dp`` source.

Spark Declarative Pipelines is the independent reference for the graph's
semantics: the same rendered file that goes to Databricks runs under it
unchanged (no expectations or CDC there: Spark has neither for these tables).
The spec names the file, the checkpoint root (``storage``) and the settings
the source reads (``lakeport.project_file``, ``lakeport.env``). It names no
database: a local Spark's catalog has only ``default`` (``SCHEMA_NOT_FOUND``
for any other), so the tables land at ``WAREHOUSE/<dataset>`` as parquet.
Written without a YAML library: every scalar is a JSON string, which YAML
reads as the same string.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

SPEC_FILE = "spark-pipeline.yml"


def spec_text(name: str, library: str, *, storage: Path, configuration: Mapping[str, str]) -> str:
    """The spec of pipeline ``name`` whose only library is the file ``library`` beside it."""
    lines = [
        f"# `spark-pipelines run --spec {SPEC_FILE} --conf spark.sql.warehouse.dir=DIR`, with the user code on PYTHONPATH",
        f"name: {json.dumps(name)}",
        f"storage: {json.dumps(storage.resolve().as_uri())}",
    ]
    if configuration:
        lines.append("configuration:")
        lines += [f"  {json.dumps(key)}: {json.dumps(value)}" for key, value in sorted(configuration.items())]
    lines += ["libraries:", "  - glob:", f"      include: {json.dumps(library)}"]
    return "\n".join(lines) + "\n"
