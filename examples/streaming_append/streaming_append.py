"""The dltflow seed's streaming append pipeline on lakeport.

Generated people go onto a Python queue, a transform coerces the types, the
expectation ``check_age`` drops people outside 25..45, and the rest are
appended to a Delta table. ``lakeport.toml`` beside this file wires it up, so

    lakeport run queue_example -c examples/streaming_append/lakeport.toml

runs it; ``python examples/streaming_append/streaming_append.py`` runs the same
pipeline spelled out with the ETL classes.
"""

from __future__ import annotations

import logging
import random
import sys
from collections import namedtuple
from pathlib import Path
from queue import Queue
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

HERE = Path(__file__).resolve().parent
_NAMES = ["Alex", "Beth", "Caroline", "Dave", "Eleanor", "Freddie"]
Person = namedtuple("Person", "name age gender")


def make_people_objects(n: int, seed: int | None = 42) -> Iterator[Person]:
    """``n`` people aged 18..65, so some fail ``check_age``; seeded, so a run can be checked."""
    rng = random.Random(seed)
    for _ in range(n):
        name = rng.choice(_NAMES)
        age = rng.randint(18, 65)
        gender = rng.choice(["male", "female"])
        yield Person(name=name, age=age, gender=gender)


def create_queue(n: int = 1000) -> Queue:
    """The queue ``[tables.people_queue]`` reads (its ``source``)."""
    q: Queue = Queue()
    for person in make_people_objects(n=n):
        q.put(person)
    return q


def transform(df: DataFrame) -> DataFrame:
    """Coerce the types, as the seed's ``transform`` does."""
    return df.withColumn("name", df["name"].cast("string")).withColumn("age", df["age"].cast("int"))


def main(project_file: Path = HERE / "lakeport.toml") -> str:
    """Stream the queue into the Delta table; returns the loader's summary line."""
    from lakeport import Project
    from lakeport.etl import FunctionTransformer, Orchestrator, SimpleLoader, StreamExtractor
    from lakeport_foreachbatch import StreamLoader

    project = Project.from_file(project_file)
    loader = StreamLoader(
        loader=SimpleLoader(handle=project.handle("people"), mode="append"),
        checkpoint_path=project.get("people", "checkpoint_path"),
        trigger="available_now",
        query_name="queue_example",
        await_termination=True,
    )
    (
        Orchestrator()
        .extract_from(StreamExtractor(project.handle("people_queue"), dataset_key="people_queue"))
        .transform_with(FunctionTransformer(transform))
        .load_into(loader)
        .execute()
    )
    return loader.summary()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.modules.setdefault("streaming_append", sys.modules[__name__])  # the TOML names this module
    print(main())
