"""``lakeport init``: a small project that runs with the core alone."""

from __future__ import annotations

import json
from pathlib import Path

PROJECT_TOML = '''\
# A lakeport project: tables, environments and pipelines.
[lakeport]
default_env = "dev"

[env.dev.vars]
root = "{project_dir}/lake"

[tables.RawPeople]
kind = "files"
format = "json"
path = "{project_dir}/data/raw_people"
schema = "id BIGINT, name STRING, age INT"

[tables.People]
kind = "files"
format = "parquet"
path = "{root}/people"

[[tables.People.expectations]]
name = "id_present"
constraint = "id IS NOT NULL"
action = "drop"

[[tables.People.expectations]]
name = "adult"
constraint = "age >= 18"
action = "allow"

[pipelines.ingest]
source = "RawPeople"
target = "People"
transform = "jobs:clean"
mode = "overwrite"
'''

JOBS_PY = '''\
"""Transformations used by lakeport.toml's pipelines."""

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def clean(df: DataFrame) -> DataFrame:
    return df.withColumn("name", F.initcap(F.trim("name")))
'''

PEOPLE = [
    {"id": 1, "name": " ada ", "age": 36},
    {"id": 2, "name": "grace", "age": 45},
    {"id": None, "name": "nobody", "age": 20},
    {"id": 4, "name": "linus", "age": 12},
]


def create_starter(directory: Path) -> list[Path]:
    """Write the starter files; refuse to overwrite an existing project file."""
    from lakeport.errors import LakeportError

    directory.mkdir(parents=True, exist_ok=True)
    project_file = directory / "lakeport.toml"
    if project_file.exists():
        raise LakeportError(f"{project_file} already exists; not overwriting it")
    data = directory / "data" / "raw_people"
    data.mkdir(parents=True, exist_ok=True)
    files = {
        project_file: PROJECT_TOML,
        directory / "jobs.py": JOBS_PY,
        data / "people.json": "".join(json.dumps(p) + "\n" for p in PEOPLE),
    }
    for path, text in files.items():
        path.write_text(text)
    return list(files)
