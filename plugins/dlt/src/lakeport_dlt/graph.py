"""The dataflow graph of a dlt pipeline, checked before anything runs.

Nodes are the datasets (and the streaming tables flows write into, declared or
not); edges go from each source to its reader. Every problem names the
pipeline, the dataset and the key.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import attrs

from lakeport.api import ConfigError
from lakeport_dlt.spec import Dataset, DatasetKind, DltPipeline

#: kinds whose rows are recomputed from a batch query: a stream cannot read them.
BATCH_KINDS = (DatasetKind.TABLE, DatasetKind.MATERIALIZED_VIEW)


@attrs.frozen
class Node:
    """A readable name in the pipeline: a dataset, a flow target, or a lakeport table."""

    name: str
    #: ``dataset``, ``flow_target`` or ``table``.
    role: str
    kind: DatasetKind | None = None
    #: datasets feeding a flow target.
    flows: tuple[str, ...] = ()


@attrs.frozen
class Graph:
    pipeline: str
    datasets: Mapping[str, Dataset]
    #: name -> node, for every name a dataset may read.
    nodes: Mapping[str, Node]
    #: datasets and flow targets in dependency order (sources first).
    order: tuple[str, ...]

    def readers_of(self, name: str) -> list[str]:
        return [d.name for d in self.datasets.values() if name in d.source]


def is_streaming_query(dataset: Dataset) -> bool:
    """Whether the dataset's query reads its sources as streams."""
    if dataset.append_flow is not None or dataset.apply_changes is not None:
        return True
    if dataset.kind is DatasetKind.VIEW:
        return dataset.streaming
    return dataset.kind is DatasetKind.STREAMING_TABLE


def flow_target(dataset: Dataset) -> str | None:
    flow = dataset.append_flow or dataset.apply_changes
    return flow.target if flow is not None else None


def check_pipeline(spec: Any, tables: Mapping[str, Any], where: str) -> list[str]:
    """The pipeline kind's load-time check (``register(..., check=...)``): the graph, then the deploy settings."""
    from lakeport_dlt.deploy.settings import check

    return build_graph(spec.name, spec.options, tables, where)[1] + check(spec, where)


def pipeline_graph(project: Any, spec: Any) -> Graph:
    """The graph of the project's pipeline ``spec``, for commands (render, deploy, bundle)."""
    graph, problems = build_graph(spec.name, spec.options, project.config.tables, f"pipelines.{spec.name}")
    if problems or graph is None:  # the project checked it on load; only a changed file gets here
        raise ConfigError(problems, source=project.source)
    return graph


def build_graph(name: str, pipeline: DltPipeline, tables: Iterable[str], where: str) -> tuple[Graph | None, list[str]]:
    """The graph and every problem found; the graph is None when there are problems."""
    tables = set(tables)
    problems: list[str] = []
    if (pipeline.code is None) == (pipeline.module is None):
        problems.append(f"{where}: name the pipeline's code with exactly one of code = \"file.py\" or module = \"pkg.mod\"")
    if not pipeline.datasets:
        problems.append(f"{where}.datasets: a dlt pipeline needs at least one [[{where}.datasets]] entry")

    datasets: dict[str, Dataset] = {}
    for index, dataset in enumerate(pipeline.datasets):
        at = f"{where}.datasets[{index}]"
        if dataset.name in datasets:
            problems.append(f"{at}.name: dataset {dataset.name!r} is defined twice in pipeline {name!r}")
            continue
        datasets[dataset.name] = dataset
        problems += _check_dataset(dataset, at)

    nodes: dict[str, Node] = {n: Node(n, "table") for n in tables}
    for dataset_name, dataset in datasets.items():
        nodes[dataset_name] = Node(dataset_name, "dataset", dataset.kind)
    for index, dataset in enumerate(pipeline.datasets):
        target = flow_target(dataset)
        if target is None or datasets.get(dataset.name) is not dataset:
            continue
        at = f"{where}.datasets[{index}].{'append_flow' if dataset.append_flow else 'apply_changes'}.target"
        existing = nodes.get(target)
        if existing is not None and existing.role == "dataset":
            declared = datasets[target]
            if declared.kind is not DatasetKind.STREAMING_TABLE or declared.func is not None:
                problems.append(f"{at}: flows write into a streaming table; {target!r} is a {declared.kind.value} with a query of its own")
                continue
        flows = existing.flows if existing is not None and existing.role == "flow_target" else ()
        if existing is not None and existing.role == "table":
            problems.append(f"{at}: {target!r} is a lakeport table of the project; a flow target is a table the pipeline creates")
            continue
        nodes[target] = Node(target, "flow_target", DatasetKind.STREAMING_TABLE, (*flows, dataset.name))

    known = sorted(n for n, node in nodes.items() if node.role != "table")
    for index, dataset in enumerate(pipeline.datasets):
        at = f"{where}.datasets[{index}]"
        for position, source in enumerate(dataset.source):
            key = f"{at}.source" + (f"[{position}]" if len(dataset.source) > 1 else "")
            node = nodes.get(source)
            if node is None:
                problems.append(
                    f"{key}: unknown source {source!r} (datasets: {', '.join(known) or 'none'}; "
                    f"tables: {', '.join(sorted(tables)) or 'none'})"
                )
                continue
            if node.role == "dataset" and datasets[source].append_flow is not None:
                problems.append(f"{key}: {source!r} is an append flow; read its target {flow_target(datasets[source])!r}")
            elif is_streaming_query(dataset) and node.kind in BATCH_KINDS:
                problems.append(
                    f"{key}: a streaming query cannot read {node.kind.value} {source!r} (it is recomputed in batch); "
                    "make the source a streaming_table or read a lakeport table"
                )
            elif is_streaming_query(dataset) and node.kind is DatasetKind.VIEW and not datasets[source].streaming:
                problems.append(f"{key}: a streaming query cannot read the batch view {source!r}; set streaming = true on it")

    order, cycle = _order(datasets, nodes)
    if cycle:
        problems.append(f"{where}.datasets: a cycle: {' -> '.join(cycle)}")
    if problems:
        return None, problems
    return Graph(pipeline=name, datasets=datasets, nodes=nodes, order=tuple(order)), []


def _check_dataset(dataset: Dataset, at: str) -> list[str]:
    problems = []
    if dataset.append_flow is not None and dataset.apply_changes is not None:
        problems.append(f"{at}: a dataset is either an append_flow or an apply_changes flow, not both")
    declared_target = dataset.kind is DatasetKind.STREAMING_TABLE and not dataset.source and dataset.func is None
    if dataset.func is None and not declared_target:
        problems.append(f"{at}.func: required: the function that computes {dataset.name!r}")
    if dataset.streaming and dataset.kind is not DatasetKind.VIEW:
        problems.append(f"{at}.streaming: only views take streaming (a {dataset.kind.value} is streaming by its kind)")
    changes = dataset.apply_changes
    if changes is not None:
        cdc = f"{at}.apply_changes"
        if not changes.keys:
            problems.append(f"{cdc}.keys: needs at least one key column")
        if changes.stored_as_scd_type not in (1, 2):
            problems.append(f"{cdc}.stored_as_scd_type: expected 1 or 2; got {changes.stored_as_scd_type!r}")
        if changes.column_list and changes.except_column_list:
            problems.append(f"{cdc}: column_list and except_column_list exclude each other")
        if changes.track_history_column_list and changes.track_history_except_column_list:
            problems.append(f"{cdc}: track_history_column_list and track_history_except_column_list exclude each other")
        if changes.stored_as_scd_type == 1 and (changes.track_history_column_list or changes.track_history_except_column_list):
            problems.append(f"{cdc}: track_history_* lists need stored_as_scd_type = 2")
        if changes.apply_as_truncates and changes.stored_as_scd_type == 2:
            problems.append(f"{cdc}.apply_as_truncates: DLT applies truncates only to SCD type 1 targets")
    if dataset.kind is DatasetKind.VIEW and (dataset.partition_cols or dataset.cluster_by or dataset.path or dataset.table_properties):
        problems.append(f"{at}: a view is not persisted; partition_cols, cluster_by, path and table_properties apply to tables")
    return problems


def _order(datasets: Mapping[str, Dataset], nodes: Mapping[str, Node]) -> tuple[list[str], list[str] | None]:
    """Depth-first topological order of datasets and flow targets; a cycle if there is one."""
    edges: dict[str, list[str]] = {}
    for name, dataset in datasets.items():
        edges[name] = [s for s in dataset.source if s in nodes and nodes[s].role != "table"]
    for name, target in nodes.items():
        if target.role == "flow_target":
            edges[name] = list(target.flows)
    order: list[str] = []
    state: dict[str, int] = {}
    for start in edges:  # the file's order, so the rendered source follows it
        if state.get(start):
            continue
        stack = [(start, iter(edges[start]))]
        path = [start]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                state[node] = 2
                order.append(node)
            elif state.get(child) == 1:
                return order, path[path.index(child):] + [child]
            elif not state.get(child):
                state[child] = 1
                path.append(child)
                stack.append((child, iter(edges.get(child, []))))
    return order, None
