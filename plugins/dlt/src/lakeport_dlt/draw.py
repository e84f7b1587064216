"""The dataflow graph as Mermaid or Graphviz dot text: sources on the left, tables by kind."""

from __future__ import annotations

from lakeport_dlt.graph import Graph

_SHAPES = {"table": ("[(", ")]"), "view": ("([", "])"), "flow": ("[/", "/]"), "streaming_table": ("[[", "]]")}


def _label(graph: Graph, name: str) -> tuple[str, str]:
    node = graph.nodes[name]
    if node.role == "table":
        return "table", f"{name} (lakeport table)"
    dataset = graph.datasets.get(name)
    if dataset is not None and (dataset.append_flow or dataset.apply_changes):
        return "flow", f"{name} ({'append flow' if dataset.append_flow else 'apply changes'})"
    kind = node.kind.value if node.kind else "table"
    return ("view" if kind == "view" else "streaming_table" if kind == "streaming_table" else "table"), f"{name} ({kind})"


def _edges(graph: Graph) -> list[tuple[str, str]]:
    edges = []
    for name in graph.order:
        dataset = graph.datasets.get(name)
        if dataset is not None:
            edges += [(source, name) for source in dataset.source]
            flow = dataset.append_flow or dataset.apply_changes
            if flow is not None:
                edges.append((name, flow.target))
    return list(dict.fromkeys(edges))


def draw(graph: Graph, fmt: str = "mermaid") -> str:
    edges = _edges(graph)
    names = list(dict.fromkeys([n for edge in edges for n in edge] + list(graph.order)))
    ids = {name: f"n{index}" for index, name in enumerate(names)}
    if fmt == "dot":
        lines = [f'digraph "{graph.pipeline}" {{', "  rankdir=LR;"]
        lines += [f'  {ids[n]} [label="{_label(graph, n)[1]}"];' for n in names]
        lines += [f"  {ids[a]} -> {ids[b]};" for a, b in edges]
        return "\n".join(lines + ["}"]) + "\n"
    lines = ["flowchart LR"]
    for name in names:
        shape, label = _label(graph, name)
        left, right = _SHAPES[shape]
        lines.append(f'  {ids[name]}{left}"{label}"{right}')
    lines += [f"  {ids[a]} --> {ids[b]}" for a, b in edges]
    return "\n".join(lines) + "\n"
