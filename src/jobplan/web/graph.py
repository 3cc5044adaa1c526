"""A plan's dependency graph laid out for an SVG drawn on the server.

A small layered (Sugiyama-style) layout: layers by longest path from the sources, a few
barycentre sweeps to untangle crossings, then a grid. Plans have tens of jobs, not
thousands, so this is quick and needs no JavaScript layout library in the browser.
Written here because no Python library lays out a DAG without pulling in Graphviz binaries.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from jobplan.model import Condition, Job, Not, Or, PlanDocument, Stage

__all__ = ["GraphEdge", "GraphLayout", "GraphNode", "layout_plan"]

NODE_WIDTH = 176
NODE_HEIGHT = 48
LAYER_GAP = 64
ROW_GAP = 18
MARGIN = 16
_SWEEPS = 4


@dataclass(slots=True)
class GraphNode:
    name: str
    kind: str
    """The job's kind, or ``stage``."""
    stage: str | None
    """The stage holding it, if any."""
    condition: str | None
    """Its ``depends_on`` as text."""
    x: float = 0.0
    y: float = 0.0
    width: float = NODE_WIDTH
    height: float = NODE_HEIGHT


@dataclass(slots=True)
class GraphEdge:
    source: str
    target: str
    style: str
    """``and`` (the default), ``or``, ``not``, or ``contains`` (a stage to its members)."""
    path: str = ""
    """SVG path data."""


@dataclass(slots=True)
class GraphLayout:
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    width: float = 0.0
    height: float = 0.0
    by_name: dict[str, GraphNode] = field(default_factory=dict)


def _refs(condition: Condition, style: str = "and") -> Iterable[tuple[str, str]]:
    """``(name, style)`` of every reference; ``not`` wins over ``or`` on the way down."""
    if isinstance(condition, Not):
        yield from _refs(condition.condition, "not")
        return
    operands = condition.operands()
    if not operands:
        yield condition.names().pop(), style
        return
    inner = "or" if isinstance(condition, Or) and style == "and" else style
    for operand in operands:
        yield from _refs(operand, inner)


def _collect(jobs: list[Job], stages: list[Stage], stage: str | None, layout: GraphLayout) -> None:
    for job in jobs:
        condition = str(job.depends_on) if job.depends_on is not None else None
        layout.nodes.append(GraphNode(job.name, str(job.kind), stage, condition))
        if job.depends_on is not None:
            layout.edges += [GraphEdge(src, job.name, s) for src, s in _refs(job.depends_on)]
        if stage is not None:
            layout.edges.append(GraphEdge(stage, job.name, "contains"))
    for inner in stages:
        condition = str(inner.depends_on) if inner.depends_on is not None else None
        layout.nodes.append(GraphNode(inner.name, "stage", stage, condition))
        if inner.depends_on is not None:
            layout.edges += [GraphEdge(src, inner.name, s) for src, s in _refs(inner.depends_on)]
        if stage is not None:
            layout.edges.append(GraphEdge(stage, inner.name, "contains"))
        _collect(inner.jobs, inner.stages, inner.name, layout)


def _layers(names: list[str], edges: list[GraphEdge]) -> dict[str, int]:
    """Longest path from a source (Kahn's order); anything left on a cycle goes last."""
    incoming: dict[str, list[str]] = {name: [] for name in names}
    outgoing: dict[str, list[str]] = {name: [] for name in names}
    for edge in edges:
        if edge.source in incoming and edge.target in incoming:
            incoming[edge.target].append(edge.source)
            outgoing[edge.source].append(edge.target)
    waiting = {name: len(incoming[name]) for name in names}
    layer = dict.fromkeys(names, 0)
    ready = [name for name in names if waiting[name] == 0]
    done: set[str] = set()
    while ready:
        name = ready.pop(0)
        done.add(name)
        for target in outgoing[name]:
            layer[target] = max(layer[target], layer[name] + 1)
            waiting[target] -= 1
            if waiting[target] == 0:
                ready.append(target)
    last = max(layer.values(), default=0) + 1
    for name in names:
        if name not in done:
            layer[name] = last
    return layer


def layout_plan(document: PlanDocument) -> GraphLayout:
    """Nodes for every job and stage of ``document``, placed left to right by dependency."""
    layout = GraphLayout([], [])
    _collect(document.jobs, document.stages, None, layout)
    layout.by_name = {node.name: node for node in layout.nodes}
    layout.edges = [e for e in layout.edges if e.source in layout.by_name]
    layer = _layers([node.name for node in layout.nodes], layout.edges)
    columns: list[list[str]] = [[] for _ in range(max(layer.values(), default=-1) + 1)]
    for node in layout.nodes:
        columns[layer[node.name]].append(node.name)
    neighbours: dict[str, list[str]] = {node.name: [] for node in layout.nodes}
    for edge in layout.edges:
        neighbours[edge.source].append(edge.target)
        neighbours[edge.target].append(edge.source)
    position = {name: float(i) for column in columns for i, name in enumerate(column)}
    for sweep in range(_SWEEPS):
        order = columns if sweep % 2 == 0 else columns[::-1]
        for column in order:

            def barycentre(name: str) -> float:
                linked = [position[other] for other in neighbours[name]]
                return sum(linked) / len(linked) if linked else position[name]

            column.sort(key=barycentre)
            for i, name in enumerate(column):
                position[name] = float(i)
    tallest = max((len(column) for column in columns), default=0)
    for index, column in enumerate(columns):
        # centre shorter columns against the tallest one
        top = MARGIN + (tallest - len(column)) * (NODE_HEIGHT + ROW_GAP) / 2
        for row, name in enumerate(column):
            node = layout.by_name[name]
            node.x = MARGIN + index * (NODE_WIDTH + LAYER_GAP)
            node.y = top + row * (NODE_HEIGHT + ROW_GAP)
    for edge in layout.edges:
        source, target = layout.by_name[edge.source], layout.by_name[edge.target]
        x1, y1 = source.x + source.width, source.y + source.height / 2
        x2, y2 = target.x, target.y + target.height / 2
        bend = max(24.0, (x2 - x1) / 2)
        edge.path = (
            f"M{x1:.0f},{y1:.0f} C{x1 + bend:.0f},{y1:.0f} "
            f"{x2 - bend:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"
        )
    layout.width = MARGIN * 2 + len(columns) * NODE_WIDTH + max(len(columns) - 1, 0) * LAYER_GAP
    layout.height = MARGIN * 2 + tallest * NODE_HEIGHT + max(tallest - 1, 0) * ROW_GAP
    return layout
