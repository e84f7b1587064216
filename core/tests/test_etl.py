"""Orchestrator, dataset keys (spetlr semantics) and pipelines from the project file."""

from __future__ import annotations

import pytest

from lakeport.etl import EtlError, Extractor, Loader, Orchestrator, SimpleExtractor, SimpleLoader, Transformer

PROJECT = """
[tables.Raw]
kind = "files"
format = "json"
path = "{project_dir}/raw"
schema = "id BIGINT, name STRING, age INT"

[tables.Clean]
kind = "files"
path = "{project_dir}/clean"

[[tables.Clean.expectations]]
name = "has_id"
constraint = "id IS NOT NULL"
action = "drop"

[pipelines.clean]
source = "Raw"
target = "Clean"
transform = "cleaning_jobs:upper_names"
mode = "overwrite"
"""

ROWS = [(1, "ada", 36), (2, "grace", 45), (None, "ghost", 1)]


@pytest.fixture
def project(lakeport_project, tmp_lake, spark):
    (tmp_lake / "cleaning_jobs.py").write_text(
        "from pyspark.sql import functions as F\n\ndef upper_names(df):\n    return df.withColumn('name', F.upper('name'))\n"
    )
    project = lakeport_project(PROJECT)
    project.handle("Raw").append(spark.createDataFrame(ROWS, "id BIGINT, name STRING, age INT"))
    return project


def test_orchestrator_extracts_transforms_and_loads(project):
    class Adults(Transformer):
        def process(self, df):
            return df.filter("age >= 18")

    loader = SimpleLoader(project.handle("Clean"), mode="overwrite")
    datasets = (
        Orchestrator()
        .extract_from(SimpleExtractor(project.handle("Raw"), dataset_key="raw"))
        .transform_with(Adults(dataset_input_keys="raw", dataset_output_key="adults"))
        .load_into(loader)
        .execute()
    )
    assert list(datasets) == ["adults"]  # the transformer consumed its input
    assert sorted(tuple(r) for r in project.handle("Clean").read().collect()) == [(1, "ada", 36), (2, "grace", 45)]
    assert loader.results[0].expectations.failed("has_id") == 0


def test_transformer_with_several_inputs_uses_process_many(project, spark):
    class Union(Transformer):
        def process_many(self, datasets):
            first, second = datasets.values()
            return first.unionByName(second)

    class Count(Loader):
        def save(self, df):
            self.rows = df.count()

    counter = Count()
    Orchestrator().extract_from(SimpleExtractor(project.handle("Raw"), dataset_key="a")).extract_from(
        SimpleExtractor(project.handle("Raw"), dataset_key="b")
    ).transform_with(Union()).load_into(counter).execute()
    assert counter.rows == 6


def test_unknown_dataset_key_is_a_clear_error(project):
    class Nothing(Extractor):
        def read(self):
            return None

    with pytest.raises(EtlError, match="dataset key\\(s\\) missing not found \\(available: x\\)"):
        Orchestrator().extract_from(Nothing("x")).load_into(SimpleLoader(project.handle("Clean"), dataset_input_keys="missing")).execute()


def test_pipeline_from_project_file_runs_with_expectations(project):
    orchestrator = project.pipeline("clean")
    orchestrator.execute()
    rows = sorted(tuple(r) for r in project.handle("Clean").read().collect())
    assert rows == [(1, "ADA", 36), (2, "GRACE", 45)]
    loader = orchestrator.steps[-1]
    assert loader.results[0].expectations.failed("has_id") == 1


def test_upsert_loader_needs_keys(project):
    with pytest.raises(ValueError, match="needs keys"):
        SimpleLoader(project.handle("Clean"), mode="upsert")


def test_upsert_into_files_is_unsupported(project, spark):
    from lakeport import UnsupportedOperation

    with pytest.raises(UnsupportedOperation, match="files table 'Clean' does not support upsert\\(\\)"):
        project.handle("Clean").upsert(spark.createDataFrame(ROWS, "id BIGINT, name STRING, age INT"), keys=["id"])
