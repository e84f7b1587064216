"""``lakeport run`` of a pipeline of kind dlt: the graph run locally with DLT's semantics.

Datasets run in dependency order. Tables and materialized views are
recomputed (overwrite); views are not persisted, their readers get the
DataFrame; streaming tables and append flows are fed incrementally through
foreachBatch with a checkpoint per flow and Delta's idempotent writes, so a
second run processes only new input. Every persisted dataset is a Delta table
at ``WAREHOUSE/SCHEMA/NAME``; expectations go through lakeport's engine on the
target's handle, as on any lakeport write; CDC flows are in :mod:`lakeport_dlt.cdc`.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import attrs

from lakeport.api import ConfigError, LakeportError, PipelineResult
from lakeport_dlt.cdc import history_table
from lakeport_dlt.graph import Graph, build_graph, flow_target, is_streaming_query
from lakeport_dlt.lake import FlowReport, LocalLake
from lakeport_dlt.spec import Dataset, DatasetKind, DltPipeline

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from lakeport.api import Handle, PipelineSpec, Project

log = logging.getLogger(__name__)

class DltRun:
    """One local update of a dlt pipeline: ``execute()`` then ``result()``."""

    def __init__(self, project: Project, spec: PipelineSpec, *, full_refresh: bool = False,
                 refresh_datasets: Sequence[str] = (), conf: dict[str, str] | None = None) -> None:
        self.project = project
        self.spec = spec
        self.pipeline: DltPipeline = spec.options
        self.full_refresh = full_refresh
        #: DLT's full refresh selection: only these datasets (and their flows' checkpoints) start empty.
        self.refresh_datasets = tuple(refresh_datasets)
        self.conf = dict(conf or {})
        self.where = f"pipelines.{spec.name}"
        self.reports: list[FlowReport] = []
        self.lake = LocalLake(project, spec.name, self.pipeline.target_schema)
        self._views: dict[str, DataFrame] = {}
        self._user: Any = None

    # -- the run ------------------------------------------------------------------------
    def execute(self) -> None:
        graph = self._graph()
        spark = self.project.spark()
        for key, value in {**self.pipeline.configuration, **self.conf}.items():
            spark.conf.set(key, value)
        self._user = self._load_user_code(spark)
        if self.full_refresh or self.refresh_datasets:
            self._reset(graph)
        try:
            for name in graph.order:
                dataset = graph.datasets.get(name)
                if dataset is None or (dataset.kind is DatasetKind.STREAMING_TABLE and dataset.func is None):
                    continue  # a flow target: its flows fill it
                self._run_dataset(graph, dataset)
        finally:
            self.lake.log_update(self.reports)

    def result(self) -> PipelineResult:
        return PipelineResult(
            pipeline=self.spec.name, kind=self.spec.kind, summary=[r.line() for r in self.reports],
            details={"flows": [attrs.asdict(r) for r in self.reports]},
        )

    def _graph(self) -> Graph:
        graph, problems = build_graph(self.spec.name, self.pipeline, self.project.config.tables, self.where)
        if graph is None:
            raise ConfigError(problems, source=self.project.source)
        return graph

    def _reset(self, graph: Graph) -> None:
        """``--full-refresh [DATASETS]``: the persisted datasets named (default: all) start empty, and so do
        the checkpoints of the flows that write them, so those flows read their sources from the start."""
        if not self.refresh_datasets:
            targets = [name for name, node in graph.nodes.items() if node.role != "table"]
            self.lake.reset([*targets, *(history_table(t) for t in targets)])
            return
        targets = list(dict.fromkeys(self._refresh_target(graph, name) for name in self.refresh_datasets))
        writers = [d for d in graph.datasets.values() if (flow_target(d) or d.name) in targets]
        flows = [(d.append_flow.name or d.name) if d.append_flow else d.name for d in writers if is_streaming_query(d)]
        self.lake.reset([*targets, *(history_table(t) for t in targets)], flows)

    def _refresh_target(self, graph: Graph, name: str) -> str:
        """The table that refreshing ``name`` empties: itself, or the target of the flow it names."""
        node = graph.nodes.get(name)
        dataset = graph.datasets.get(name)
        if node is None or node.role == "table":
            known = ", ".join(sorted(n for n, v in graph.nodes.items() if v.role != "table" and v.kind is not DatasetKind.VIEW))
            raise ConfigError(f"--full-refresh: {name!r} is not a dataset of pipeline {self.spec.name!r} "
                              f"(its tables: {known})", source=self.project.source)
        if dataset is not None and dataset.kind is DatasetKind.VIEW and dataset.apply_changes is None:
            raise ConfigError(f"--full-refresh: {name!r} is a view of pipeline {self.spec.name!r}; "
                              "views are not persisted, there is nothing to refresh", source=self.project.source)
        return (flow_target(dataset) if dataset is not None else None) or name

    # -- user code ----------------------------------------------------------------------
    def _load_user_code(self, spark: Any) -> Any:
        root = str(self.project.root)
        if root not in sys.path:
            sys.path.insert(0, root)
        if self.pipeline.module:
            try:
                module = importlib.import_module(self.pipeline.module)
            except ImportError as exc:
                raise ConfigError(f"{self.where}.module: cannot import {self.pipeline.module!r}: {exc}",
                                  source=self.project.source) from None
        else:
            module = self._load_file(str(self.pipeline.code))
        if not self.pipeline.object:
            return module
        cls = getattr(module, self.pipeline.object, None)
        if cls is None:
            raise ConfigError(f"{self.where}.object: {module.__name__!r} has no class {self.pipeline.object!r}",
                              source=self.project.source)
        return cls(spark, self.project)

    def _load_file(self, code: str) -> Any:
        path = (self.project.root / code).resolve()
        if not path.is_file():
            raise ConfigError(f"{self.where}.code: no file {code!r} next to the project file ({path})",
                              source=self.project.source)
        name = path.stem
        existing = sys.modules.get(name)
        if existing is not None and Path(getattr(existing, "__file__", "") or "").resolve() == path:
            return existing
        module_spec = importlib.util.spec_from_file_location(name, path)
        assert module_spec is not None and module_spec.loader is not None
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        module_spec.loader.exec_module(module)
        return module

    def _function(self, graph: Graph, dataset: Dataset) -> Any:
        function = getattr(self._user, str(dataset.func), None)
        if not callable(function):
            index = list(graph.datasets).index(dataset.name)
            owner = self.pipeline.object or self.pipeline.module or self.pipeline.code
            raise ConfigError(f"{self.where}.datasets[{index}].func: {owner!r} has no function {dataset.func!r}",
                              source=self.project.source)
        return function

    # -- datasets -----------------------------------------------------------------------
    def _sources(self, graph: Graph, dataset: Dataset) -> list[DataFrame]:
        streaming = is_streaming_query(dataset)
        frames = []
        for source in dataset.source:
            node = graph.nodes[source]
            if node.role == "table":
                handle = self.project.handle(source)
                frames.append(handle.read_stream() if streaming else handle.read())
            elif source in self._views:
                frames.append(self._views[source])
            else:
                handle = self._handle(graph, source)
                frames.append(handle.read_stream() if streaming else handle.read())
        return frames

    def _run_dataset(self, graph: Graph, dataset: Dataset) -> None:
        started = time.monotonic()
        try:
            self._compute(graph, dataset)
        except Exception as exc:
            target = flow_target(dataset) or dataset.name
            self.reports.append(FlowReport(flow=dataset.name, target=target, kind="failed", status="failed",
                                           error=str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                                           seconds=time.monotonic() - started))
            raise

    def _compute(self, graph: Graph, dataset: Dataset) -> None:
        started = time.monotonic()
        df = self._function(graph, dataset)(*self._sources(graph, dataset))
        if dataset.apply_changes is not None:
            from lakeport_dlt.cdc import apply_changes

            changes = dataset.apply_changes
            report = FlowReport(flow=dataset.name, target=changes.target, kind=f"apply changes, SCD{changes.stored_as_scd_type}")
            try:
                apply_changes(self.lake, df, changes, flow=dataset.name, report=report,
                              expectations=_expectations(graph, dataset.name))
            except LakeportError as exc:
                raise LakeportError(f"{self.where}: dataset {dataset.name!r}: {exc}") from None
            report.seconds = time.monotonic() - started
            self.reports.append(report)
            return
        if dataset.kind is DatasetKind.VIEW:
            self._views[dataset.name] = df
            return
        target = flow_target(dataset) or dataset.name
        flow = dataset.append_flow.name or dataset.name if dataset.append_flow else dataset.name
        handle = self._handle(graph, target)
        if is_streaming_query(dataset):
            report = FlowReport(flow=flow, target=target, kind="append flow" if dataset.append_flow else "streaming table")
            self.lake.stream_into(handle, df, flow, report)
        else:
            report = FlowReport(flow=flow, target=target, kind=dataset.kind.value)
            report.add(handle.overwrite(df))
        report.seconds = time.monotonic() - started
        self.reports.append(report)
        log.info("%s", report.line())

    def _handle(self, graph: Graph, name: str) -> Handle:
        """The Delta table of dataset (or flow target) ``name``, with the expectations DLT puts on it."""
        dataset = graph.datasets.get(name)
        return self.lake.handle(
            name,
            expectations=_expectations(graph, name),
            comment=dataset.comment if dataset is not None else None,
            schema=dataset.schema if dataset is not None else None,
            partition_by=dataset.partition_cols if dataset is not None else (),
        )


def _expectations(graph: Graph, target: str) -> list[dict[str, str]]:
    """The rules of ``target``: its own, or those of the append flows into it (DLT puts them on the table)."""
    sources = [d for d in graph.datasets.values() if d.name == target and d.kind is not DatasetKind.VIEW]
    sources += [d for d in graph.datasets.values() if d.append_flow is not None and d.append_flow.target == target]
    rules: dict[str, dict[str, str]] = {}
    for dataset in sources:
        for rule in dataset.expectations:
            action = (rule.action or dataset.expectation_action).value
            rules[rule.name] = {"name": rule.name, "constraint": rule.constraint, "action": action}
    return list(rules.values())


def build(project: Project, spec: PipelineSpec) -> DltRun:
    return DltRun(project, spec)
