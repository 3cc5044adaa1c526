"""The console's dependency graph layout (pure)."""

from __future__ import annotations

from jobplan.model import PlanDocument
from jobplan.web.graph import NODE_HEIGHT, NODE_WIDTH, layout_plan


def _plan(
    jobs: list[dict[str, object]], stages: list[dict[str, object]] | None = None
) -> PlanDocument:
    return PlanDocument.model_validate({"name": "p", "jobs": jobs, "stages": stages or []})


def _cmd(name: str, depends_on: object = None) -> dict[str, object]:
    job: dict[str, object] = {"name": name, "kind": "command", "command": "true"}
    if depends_on is not None:
        job["depends_on"] = depends_on
    return job


def test_layers_follow_dependencies_left_to_right() -> None:
    layout = layout_plan(
        _plan([_cmd("load", ["a", "b"]), _cmd("a"), _cmd("b", "a"), _cmd("report", "load")])
    )
    x = {node.name: node.x for node in layout.nodes}
    assert x["a"] < x["b"] < x["load"] < x["report"]
    assert layout.width >= x["report"] + NODE_WIDTH


def test_nodes_never_overlap() -> None:
    jobs = [_cmd("root")] + [_cmd(f"j{i}", "root") for i in range(12)] + [_cmd("end", "j3")]
    layout = layout_plan(_plan(jobs))
    boxes = [(n.x, n.y) for n in layout.nodes]
    assert len(set(boxes)) == len(boxes)
    for i, (x1, y1) in enumerate(boxes):
        for x2, y2 in boxes[i + 1 :]:
            assert abs(x1 - x2) >= NODE_WIDTH or abs(y1 - y2) >= NODE_HEIGHT


def test_edge_styles_tell_and_or_and_not_apart() -> None:
    layout = layout_plan(
        _plan(
            [
                _cmd("a"),
                _cmd("b"),
                _cmd("c"),
                _cmd("d", {"and": ["a", {"or": ["b", {"not": "c"}]}]}),
            ]
        )
    )
    styles = {(e.source, e.target): e.style for e in layout.edges}
    assert styles == {("a", "d"): "and", ("b", "d"): "or", ("c", "d"): "not"}
    node = layout.by_name["d"]
    assert node.condition == "a and (b or not c)"


def test_stages_contain_their_jobs_and_take_dependencies() -> None:
    layout = layout_plan(
        _plan(
            [_cmd("first"), _cmd("last", {"stage": "ingest"})],
            [
                {
                    "name": "ingest",
                    "depends_on": "first",
                    "jobs": [_cmd("pull"), _cmd("push", "pull")],
                }
            ],
        )
    )
    kinds = {node.name: node.kind for node in layout.nodes}
    assert kinds["ingest"] == "stage" and layout.by_name["pull"].stage == "ingest"
    edges = {(e.source, e.target, e.style) for e in layout.edges}
    assert ("ingest", "pull", "contains") in edges
    assert ("first", "ingest", "and") in edges and ("ingest", "last", "and") in edges
    x = {node.name: node.x for node in layout.nodes}
    assert x["first"] < x["ingest"] < x["pull"] < x["push"]


def test_every_edge_has_a_path_between_its_nodes() -> None:
    layout = layout_plan(_plan([_cmd("a"), _cmd("b", "a")]))
    (edge,) = layout.edges
    a, b = layout.by_name["a"], layout.by_name["b"]
    assert edge.path.startswith(f"M{a.x + a.width:.0f},{a.y + a.height / 2:.0f}")
    assert edge.path.endswith(f"{b.x:.0f},{b.y + b.height / 2:.0f}")
