"""Run unchanged pipeline code written against ``import dlt`` or ``from pyspark import pipelines as dp``.

During a run, ``dlt`` and ``pyspark.pipelines`` are modules of ours: their
decorators and functions record the datasets the code declares, with their
expectations and flows. The recorded graph then runs on the same local lake as
a project-defined pipeline (:mod:`lakeport_dlt.lake`). A dataset is computed
when something reads it (``dlt.read``, ``spark.read.table``), so the code may
declare in any order, as on Databricks.
"""

from __future__ import annotations

import contextlib
import logging
import runpy
import sys
import time
import types
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import attrs

from lakeport.api import ConfigError, LakeportError, PipelineResult
from lakeport_dlt.lake import FlowReport, LocalLake

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from lakeport.api import Project

log = logging.getLogger(__name__)

_RULES = "_lakeport_dlt_expectations"


@attrs.define
class Declared:
    """A dataset, streaming table or flow the code declared."""

    name: str
    #: ``table`` (batch: materialized; streaming query: streaming table), ``materialized_view``,
    #: ``view``, ``streaming_table`` (create_streaming_table) or ``flow``.
    role: str
    function: Callable[[], Any] | None = None
    options: dict[str, Any] = attrs.field(factory=dict)
    #: flows: the streaming table they append to.
    target: str | None = None
    #: rules given to create_streaming_table: (name, constraint, action).
    rules: list[tuple[str, str, str]] = attrs.field(factory=list)

    def expectations(self) -> list[tuple[str, str, str]]:
        return [*self.rules, *getattr(self.function, _RULES, [])]


class Registry:
    """What one run of the code declared, and the run of it."""

    def __init__(self, lake: LocalLake, spark: Any) -> None:
        self.lake = lake
        self.spark = spark
        self.declared: dict[str, Declared] = {}
        self.flows: list[Declared] = []
        self.reports: list[FlowReport] = []
        self._views: dict[str, DataFrame] = {}
        self._state: dict[str, str] = {}  # name -> running | done

    # -- declaring ------------------------------------------------------------------------
    def declare(self, item: Declared) -> None:
        if item.role in ("flow", "cdc"):
            if any(f.name == item.name and f.target == item.target for f in self.flows):
                raise LakeportError(f"flow {item.name!r} into {item.target!r} is declared twice")
            self.flows.append(item)
            return
        if item.name in self.declared:
            raise LakeportError(f"dataset {item.name!r} is declared twice")
        self.declared[item.name] = item

    # -- reading (dlt.read, spark.read.table) -----------------------------------------------
    def knows(self, name: str) -> bool:
        return name in self.declared

    def read(self, name: str, streaming: bool) -> DataFrame:
        self.ensure(name)
        if name in self._views:
            view = self._views[name]
            if streaming and not view.isStreaming:
                raise LakeportError(f"dataset {name!r} is a batch view; a streaming read needs a streaming view")
            return view
        handle = self.lake.handle(name)
        return handle.read_stream() if streaming else handle.read()

    # -- running ----------------------------------------------------------------------------
    def run(self) -> None:
        for name in list(self.declared):
            self.ensure(name)
        for flow in self.flows:
            if flow.target not in self.declared:
                raise LakeportError(
                    f"flow {flow.name!r} appends to {flow.target!r}, which no create_streaming_table declares"
                )

    def _run_cdc(self, flow: Declared, target: Declared) -> None:
        from lakeport_dlt.cdc import apply_changes
        from lakeport_dlt.spec import ApplyChanges

        options = dict(flow.options)
        source = options.pop("source")
        conditions = {k: options.pop(k) for k in ("apply_as_deletes", "apply_as_truncates") if options.get(k) is not None}
        options.pop("name", None)
        try:
            keys = tuple(_names(options.pop("keys")))
            sequence_by = _names([options.pop("sequence_by")])[0]
            rest: dict[str, Any] = {k: tuple(_names(v)) if isinstance(v, (list, tuple)) else v for k, v in options.items()}
            spec = ApplyChanges(target=target.name, keys=keys, sequence_by=sequence_by, **rest)
        except TypeError as exc:
            raise LakeportError(f"apply_changes into {target.name!r}: {exc}") from None
        started = time.monotonic()
        report = FlowReport(flow=flow.name, target=target.name, kind=f"apply changes, SCD{spec.stored_as_scd_type}")
        apply_changes(self.lake, self.read(source, streaming=True), spec, flow=flow.name, report=report,
                      conditions=conditions)
        report.seconds = time.monotonic() - started
        self.reports.append(report)

    def ensure(self, name: str) -> None:
        state = self._state.get(name)
        if state == "done":
            return
        if state == "running":
            raise LakeportError(f"dataset {name!r} reads itself through a cycle of datasets")
        self._state[name] = "running"
        item = self.declared[name]
        if item.role == "streaming_table":
            self._handle(item)
            for flow in [f for f in self.flows if f.target == name]:
                if flow.role == "cdc":
                    self._run_cdc(flow, item)
                else:
                    self._run_flow(flow, item)
        else:
            self._run_query(item)
        self._state[name] = "done"

    def _handle(self, item: Declared) -> Any:
        rules = [{"name": n, "constraint": c, "action": a} for n, c, a in item.expectations()]
        if item.role == "streaming_table":
            for flow in self.flows:
                if flow.target == item.name:
                    rules += [{"name": n, "constraint": c, "action": a} for n, c, a in flow.expectations()]
        options = item.options
        return self.lake.handle(item.name, expectations=rules, comment=options.get("comment"),
                                schema=options.get("schema") if isinstance(options.get("schema"), str) else None,
                                partition_by=options.get("partition_cols") or ())

    def _run_query(self, item: Declared) -> None:
        started = time.monotonic()
        assert item.function is not None
        df = item.function()
        if item.role == "view":
            self._views[item.name] = df
            return
        handle = self._handle(item)
        if df.isStreaming:
            report = FlowReport(flow=item.name, target=item.name, kind="streaming table")
            self.lake.stream_into(handle, df, item.name, report)
        else:
            report = FlowReport(flow=item.name, target=item.name, kind="materialized view")
            report.add(handle.overwrite(df))
        report.seconds = time.monotonic() - started
        self.reports.append(report)

    def _run_flow(self, flow: Declared, target: Declared) -> None:
        started = time.monotonic()
        assert flow.function is not None
        df = flow.function()
        if not df.isStreaming:
            raise LakeportError(f"flow {flow.name!r} into streaming table {target.name!r} returned a batch DataFrame")
        report = FlowReport(flow=flow.name, target=target.name, kind="append flow")
        self.lake.stream_into(self._handle(target), df, flow.name, report)
        report.seconds = time.monotonic() - started
        self.reports.append(report)


# -- the emulated modules ---------------------------------------------------------------------
def _dataset_decorator(registry: Registry, role: str | Callable[[Any], str]) -> Callable[..., Any]:
    """``@table`` / ``@table(name=...)``: registers the function, returns it unchanged."""

    def decorator(function: Any = None, **options: Any) -> Any:
        def register(fn: Callable[[], Any]) -> Callable[[], Any]:
            name = options.get("name") or fn.__name__
            registry.declare(Declared(name=name, role=role if isinstance(role, str) else role(options), function=fn,
                                      options=dict(options)))
            return fn

        return register(function) if callable(function) else register

    return decorator


def _expect_decorator(action: str, many: bool) -> Callable[..., Any]:
    def decorator(*args: Any) -> Callable[[Any], Any]:
        rules = list(args[0].items()) if many else [(args[0], args[1])]

        def attach(fn: Any) -> Any:
            # decorators apply bottom-up: put this one first, so rules keep the order they are written in
            setattr(fn, _RULES, [*((n, c, action) for n, c in rules), *getattr(fn, _RULES, [])])
            return fn

        return attach

    return decorator


def _create_streaming_table(registry: Registry) -> Callable[..., None]:
    def create_streaming_table(name: str, *, expect_all: dict | None = None, expect_all_or_drop: dict | None = None,
                               expect_all_or_fail: dict | None = None, **options: Any) -> None:
        rules = [(n, c, "allow") for n, c in (expect_all or {}).items()]
        rules += [(n, c, "drop") for n, c in (expect_all_or_drop or {}).items()]
        rules += [(n, c, "fail") for n, c in (expect_all_or_fail or {}).items()]
        registry.declare(Declared(name=name, role="streaming_table", options={"name": name, **options}, rules=rules))

    return create_streaming_table


def _append_flow(registry: Registry) -> Callable[..., Any]:
    def append_flow(target: str, name: str | None = None, **options: Any) -> Callable[[Any], Any]:
        def register(fn: Callable[[], Any]) -> Callable[[], Any]:
            registry.declare(Declared(name=name or fn.__name__, role="flow", function=fn, target=target, options=options))
            return fn

        return register

    return append_flow


def _apply_changes(registry: Registry) -> Callable[..., None]:
    """``dlt.apply_changes`` / ``dp.create_auto_cdc_flow``: a CDC flow from ``source`` into ``target``."""

    def apply_changes(target: str, source: str, keys: Any, sequence_by: Any, **options: Any) -> None:
        name = options.pop("name", None) or f"apply_changes_{source}_to_{target}"
        registry.declare(Declared(name=name, role="cdc", target=target,
                                  options={"source": source, "keys": keys, "sequence_by": sequence_by, **options}))

    return apply_changes


def _names(values: Any) -> list[str]:
    """Column names given as strings or as ``F.col(...)`` Columns."""
    names = []
    for value in values:
        if isinstance(value, str):
            names.append(value)
        else:
            text = str(value._jc.toString()) if hasattr(value, "_jc") else str(value)
            names.append(text.strip("`"))
    return names


def _expectation_functions(module: types.ModuleType) -> None:
    for suffix, action in (("", "allow"), ("_or_drop", "drop"), ("_or_fail", "fail")):
        setattr(module, f"expect{suffix}", _expect_decorator(action, many=False))
        setattr(module, f"expect_all{suffix}", _expect_decorator(action, many=True))


def dlt_module(registry: Registry) -> types.ModuleType:
    """``import dlt``: table, view, expectations, streaming tables, flows, read/read_stream."""
    module = types.ModuleType("dlt", "lakeport-dlt's local stand-in for Databricks' dlt module")
    module.table = _dataset_decorator(registry, "table")  # type: ignore[attr-defined]
    module.view = _dataset_decorator(registry, "view")  # type: ignore[attr-defined]
    module.create_streaming_table = _create_streaming_table(registry)  # type: ignore[attr-defined]
    module.create_target_table = module.create_streaming_table  # type: ignore[attr-defined]
    module.append_flow = _append_flow(registry)  # type: ignore[attr-defined]
    module.read = lambda name: registry.read(name, streaming=False)  # type: ignore[attr-defined]
    module.read_stream = lambda name: registry.read(name, streaming=True)  # type: ignore[attr-defined]
    module.apply_changes = _apply_changes(registry)  # type: ignore[attr-defined]
    module.create_auto_cdc_flow = module.apply_changes  # type: ignore[attr-defined]
    _expectation_functions(module)
    return module


def pipelines_module(registry: Registry) -> types.ModuleType:
    """``from pyspark import pipelines as dp``, with Databricks' expectations."""
    module = types.ModuleType("pyspark.pipelines", "lakeport-dlt's local stand-in for pyspark.pipelines")
    module.materialized_view = _dataset_decorator(registry, "materialized_view")  # type: ignore[attr-defined]
    module.table = _dataset_decorator(registry, "table")  # type: ignore[attr-defined]
    module.temporary_view = _dataset_decorator(registry, "view")  # type: ignore[attr-defined]
    module.create_streaming_table = _create_streaming_table(registry)  # type: ignore[attr-defined]
    module.append_flow = _append_flow(registry)  # type: ignore[attr-defined]
    module.create_auto_cdc_flow = _apply_changes(registry)  # type: ignore[attr-defined]
    _expectation_functions(module)
    return module


@contextlib.contextmanager
def emulated_modules(registry: Registry) -> Iterator[None]:
    """``dlt``, ``pyspark.pipelines`` and table reads that know the pipeline's datasets, for the run only."""
    import pyspark
    from pyspark.sql.readwriter import DataFrameReader
    from pyspark.sql.streaming.readwriter import DataStreamReader

    batch_table, stream_table = DataFrameReader.table, DataStreamReader.table

    def read_table(reader: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        if registry.knows(name):
            return registry.read(name, streaming=False)
        return batch_table(reader, name, *args, **kwargs)

    def read_stream_table(reader: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        if registry.knows(name):
            return registry.read(name, streaming=True)
        return stream_table(reader, name, *args, **kwargs)

    saved = {name: sys.modules.get(name) for name in ("dlt", "pyspark.pipelines")}
    saved_attribute = getattr(pyspark, "pipelines", None)
    dp = pipelines_module(registry)
    sys.modules["dlt"] = dlt_module(registry)
    sys.modules["pyspark.pipelines"] = dp
    pyspark.pipelines = dp  # type: ignore[attr-defined]
    DataFrameReader.table = read_table  # type: ignore[method-assign,assignment]
    DataStreamReader.table = read_stream_table  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        DataFrameReader.table = batch_table  # type: ignore[method-assign]
        DataStreamReader.table = stream_table  # type: ignore[method-assign]
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
        if saved_attribute is None:
            with contextlib.suppress(AttributeError):
                delattr(pyspark, "pipelines")
        else:
            pyspark.pipelines = saved_attribute  # type: ignore[attr-defined]


class CodeRun:
    """``lakeport dlt run-local code.py``: the code's declarations run on the project's local lake."""

    def __init__(self, project: Project, code: Path, *, schema: str | None = None, conf: dict[str, str] | None = None,
                 full_refresh: bool = False, refresh_datasets: Sequence[str] = ()) -> None:
        self.project = project
        self.code = code
        self.pipeline = code.stem
        self.lake = LocalLake(project, self.pipeline, schema)
        self.conf = dict(conf or {})
        self.full_refresh = full_refresh or bool(refresh_datasets)
        self.refresh_datasets = tuple(refresh_datasets)
        self.registry: Registry | None = None

    def execute(self) -> None:
        if not self.code.is_file():
            raise ConfigError(f"run-local: no pipeline code at {self.code}")
        spark = self.project.spark()
        for key, value in {"lakeport.project_file": self.project.source, **self.conf}.items():
            spark.conf.set(key, value)
        self.registry = Registry(self.lake, spark)
        # the code's folder and the project's, so `import user_code` works as beside it on Databricks
        added = [f for f in dict.fromkeys([str(self.code.resolve().parent), str(self.project.root)]) if f not in sys.path]
        sys.path[:0] = added
        try:
            with emulated_modules(self.registry):
                runpy.run_path(str(self.code), init_globals={"spark": spark}, run_name="__main__")
                if self.full_refresh:
                    self._reset(self.registry)
                try:
                    self.registry.run()
                finally:
                    self.lake.log_update(self.registry.reports)
        finally:
            for folder in added:
                sys.path.remove(folder)

    def _reset(self, registry: Registry) -> None:
        """``--full-refresh [DATASETS]``: the tables named (default: all) and their flows' checkpoints start empty."""
        from lakeport_dlt.cdc import history_table

        names = list(self.refresh_datasets or registry.declared)
        for name in self.refresh_datasets:
            item = registry.declared.get(name)
            if item is None or item.role == "view":
                tables = ", ".join(n for n, d in registry.declared.items() if d.role != "view")
                what = "a view: views are not persisted" if item is not None else "not a table the code declares"
                raise ConfigError(f"--full-refresh: {name!r} is {what} (its tables: {tables})")
        flows = None if not self.refresh_datasets else [*names, *(f.name for f in registry.flows if f.target in names)]
        self.lake.reset([*names, *(history_table(n) for n in names)], flows)

    def result(self) -> PipelineResult:
        reports = self.registry.reports if self.registry is not None else []
        return PipelineResult(pipeline=self.pipeline, kind="dlt", summary=[r.line() for r in reports],
                              details={"flows": [attrs.asdict(r) for r in reports]})
