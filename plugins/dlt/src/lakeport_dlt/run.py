"""``lakeport run`` of a pipeline of kind dlt: the graph run locally with DLT's semantics.

Datasets run in dependency order. Tables and materialized views are
recomputed (overwrite); views are not persisted, their readers get the
DataFrame; streaming tables and append flows are fed incrementally through
foreachBatch with a checkpoint per flow and Delta's idempotent writes, so a
second run processes only new input. Every persisted dataset is a Delta table
at ``WAREHOUSE/SCHEMA/NAME``; expectations go through lakeport's engine on the
target's handle, as on any lakeport write. CDC flows (``apply_changes``) are
rendered but not yet run locally.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from lakeport.api import ConfigError, LakeportError, PipelineResult, active_session, describe_rule
from lakeport_dlt.graph import Graph, build_graph, flow_target, is_streaming_query
from lakeport_dlt.spec import Dataset, DatasetKind, DltPipeline

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from lakeport.api import Handle, PipelineSpec, Project, WriteResult

log = logging.getLogger(__name__)

DEFAULT_SCHEMA = "default"


@attrs.define
class FlowReport:
    """What one flow (or one recomputed table) did in this run."""

    flow: str
    target: str
    kind: str
    batches: int = 0
    rows_in: int = 0
    rows_written: int = 0
    #: rule -> rows it failed; with the rule's action.
    failed: dict[str, int] = attrs.field(factory=dict)
    actions: dict[str, str] = attrs.field(factory=dict)
    version: int | None = None
    seconds: float = 0.0

    def add(self, result: WriteResult) -> None:
        self.batches += 1
        self.version = result.version if result.version is not None else self.version
        expectations = result.expectations
        if result.skipped:
            return
        if expectations is not None:
            self.rows_in += expectations.rows_in
            self.rows_written += expectations.rows_written
            for rule in expectations.rules:
                self.failed[rule.name] = self.failed.get(rule.name, 0) + rule.failed
                self.actions[rule.name] = rule.action
        elif result.rows_written is not None:
            self.rows_in += result.rows_written
            self.rows_written += result.rows_written

    def line(self) -> str:
        parts = [f"{self.flow} -> {self.target} ({self.kind})", f"{self.rows_in} rows in, {self.rows_written} written"]
        parts += [describe_rule(rule, self.actions[rule], count) for rule, count in self.failed.items()]
        if self.version is not None:
            parts.append(f"version {self.version}")
        parts.append(f"{self.seconds:.1f} s")
        return ", ".join(parts)


class DltRun:
    """One local update of a dlt pipeline: ``execute()`` then ``result()``."""

    def __init__(self, project: Project, spec: PipelineSpec, *, full_refresh: bool = False) -> None:
        self.project = project
        self.spec = spec
        self.pipeline: DltPipeline = spec.options
        self.full_refresh = full_refresh
        self.where = f"pipelines.{spec.name}"
        self.reports: list[FlowReport] = []
        self._views: dict[str, DataFrame] = {}
        self._handles: dict[str, Handle] = {}
        self._user: Any = None

    # -- where things land ----------------------------------------------------------------
    @property
    def schema(self) -> str:
        return self.pipeline.target_schema or DEFAULT_SCHEMA

    @property
    def root(self) -> Path:
        return Path(self.project.warehouse) / self.schema

    def location(self, dataset: str) -> Path:
        return self.root / dataset

    def checkpoint(self, flow: str) -> Path:
        return self.root / "_checkpoints" / self.spec.name / flow

    # -- the run ------------------------------------------------------------------------
    def execute(self) -> None:
        graph = self._graph()
        spark = self.project.spark()
        for key, value in self.pipeline.configuration.items():
            spark.conf.set(key, value)
        self._user = self._load_user_code(spark)
        if self.full_refresh:
            self._reset(graph)
        for name in graph.order:
            dataset = graph.datasets.get(name)
            if dataset is None or (dataset.kind is DatasetKind.STREAMING_TABLE and dataset.func is None):
                continue  # a flow target: its flows fill it
            self._run_dataset(graph, dataset)

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
        """``--full-refresh``: every persisted dataset and checkpoint of the pipeline starts empty."""
        for name, node in graph.nodes.items():
            if node.role != "table" and self.location(name).exists():
                shutil.rmtree(self.location(name))
        checkpoints = self.root / "_checkpoints" / self.spec.name
        if checkpoints.exists():
            shutil.rmtree(checkpoints)

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
        if dataset.apply_changes is not None:
            raise LakeportError(
                f"{self.where}: dataset {dataset.name!r} is an apply_changes flow; local runs of CDC flows are not "
                "available yet (render it with `lakeport dlt render`)"
            )
        started = time.monotonic()
        df = self._function(graph, dataset)(*self._sources(graph, dataset))
        if dataset.kind is DatasetKind.VIEW:
            self._views[dataset.name] = df
            return
        target = flow_target(dataset) or dataset.name
        flow = dataset.append_flow.name or dataset.name if dataset.append_flow else dataset.name
        handle = self._handle(graph, target)
        if is_streaming_query(dataset):
            report = FlowReport(flow=flow, target=target, kind="append flow" if dataset.append_flow else "streaming table")
            self._stream_into(handle, df, flow, report)
        else:
            report = FlowReport(flow=flow, target=target, kind=dataset.kind.value)
            report.add(handle.overwrite(df))
        report.seconds = time.monotonic() - started
        self.reports.append(report)
        log.info("%s", report.line())

    def _stream_into(self, handle: Handle, df: DataFrame, flow: str, report: FlowReport) -> None:
        """foreachBatch with the flow's checkpoint; each batch an idempotent append (txn = app id, batch id)."""
        from pyspark.errors import StreamingQueryException

        app_id = f"lakeport-dlt:{self.spec.name}:{flow}"
        failures: list[BaseException] = []

        def write_batch(batch: DataFrame, batch_id: int) -> None:
            try:
                with active_session(batch.sparkSession):
                    options = {"txn": (app_id, batch_id)} if handle.supports_txn else {}
                    report.add(handle.write(batch, "append", batch_id=batch_id, **options))
            except BaseException as exc:
                failures.append(exc)
                raise

        checkpoint = self.checkpoint(flow)
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        query = (
            df.writeStream.foreachBatch(write_batch)
            .option("checkpointLocation", str(checkpoint))
            .trigger(availableNow=True)
            .queryName(f"{self.spec.name}.{flow}")
            .start()
        )
        try:
            query.awaitTermination()
        except StreamingQueryException as exc:
            if failures and isinstance(failures[0], LakeportError):
                raise failures[0] from None  # e.g. an expectation with action fail: its own message
            raise LakeportError(f"{self.where}: flow {flow!r} failed: {str(exc).splitlines()[0]}") from None

    def _handle(self, graph: Graph, name: str) -> Handle:
        """The Delta table of dataset (or flow target) ``name``, with the expectations DLT puts on it."""
        if name in self._handles:
            return self._handles[name]
        key = f"{self.spec.name}.{name}"
        dataset = graph.datasets.get(name)
        keys: dict[str, Any] = {"kind": "delta", "path": str(self.location(name))}
        rules = _expectations(graph, name)
        if rules:
            keys["expectations"] = rules
        if dataset is not None:
            if dataset.comment:
                keys["comment"] = dataset.comment
            if dataset.schema:
                keys["schema"] = dataset.schema
            if dataset.partition_cols:
                keys["partition_by"] = list(dataset.partition_cols)
        self.project.add_table(key, keys)
        handle = self.project.handle(key)
        self._handles[name] = handle
        return handle


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
