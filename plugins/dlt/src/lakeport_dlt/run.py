"""``lakeport run`` of a pipeline of kind dlt.

Local runs (datasets in dependency order on the Delta plugin, with DLT's
expectation and flow semantics) are the next part of this plugin; until they
land, running says so and points to what works: checking and rendering.
"""

from __future__ import annotations

from typing import Any

from lakeport.api import LakeportError, PipelineResult


class DltRun:
    def __init__(self, project: Any, spec: Any) -> None:
        self.project = project
        self.spec = spec

    def execute(self) -> None:
        raise LakeportError(
            f"pipelines.{self.spec.name}: lakeport-dlt 0.1 checks and renders dlt pipelines "
            f"(`lakeport dlt render {self.spec.name}`); running them locally is not available yet"
        )

    def result(self) -> PipelineResult:
        return PipelineResult(pipeline=self.spec.name, kind=self.spec.kind)


def build(project: Any, spec: Any) -> DltRun:
    return DltRun(project, spec)
