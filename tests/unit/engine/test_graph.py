"""RunGraph: conditions, stage membership, start rules and the plan run's outcome (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from jobplan.engine.graph import DONE, FAILED, RunGraph
from jobplan.model import JobRunStatus, PlanDocument, PlanRunStatus, parse_condition

S = JobRunStatus
ALL = tuple(JobRunStatus)


def job(name: str, depends_on: Any = None, **fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": name, "kind": "command", "command": "true"} | fields
    if depends_on is not None:
        doc["depends_on"] = depends_on
    return doc


def graph(jobs: list[dict[str, Any]], **extra: Any) -> RunGraph:
    return RunGraph(PlanDocument.model_validate({"name": "g", "jobs": jobs} | extra))


@pytest.fixture
def g() -> RunGraph:
    return graph(
        [job("a"), job("b"), job("c")],
        stages=[
            {
                "name": "outer",
                "depends_on": "a",
                "jobs": [job("o1")],
                "stages": [{"name": "inner", "depends_on": "b", "jobs": [job("i1", "o1")]}],
            }
        ],
        locks=[{"name": "L", "jobs": ["a", "o1"]}, {"name": "M", "count": 3, "jobs": ["a"]}],
    )


def holds(g: RunGraph, condition: Any, **statuses: JobRunStatus) -> bool:
    return g.holds(parse_condition(condition), {k: v.value for k, v in statuses.items()})


def test_done_and_failed_states() -> None:
    assert {S.COMPLETE, S.SKIPPED, S.DISABLED} == DONE
    assert {S.ERROR, S.KILLED} == FAILED


@pytest.mark.parametrize("status", ALL)
def test_a_job_reference_holds_only_when_the_job_is_done(g: RunGraph, status: S) -> None:
    assert holds(g, "a", a=status) is (status in DONE)
    assert holds(g, {"not": "a"}, a=status) is (status not in DONE)


def test_a_reference_to_a_job_without_a_status_does_not_hold(g: RunGraph) -> None:
    assert not holds(g, "a")
    assert holds(g, {"not": "a"})


@pytest.mark.parametrize(
    ("a", "b", "and_", "or_"),
    [
        (S.COMPLETE, S.COMPLETE, True, True),
        (S.COMPLETE, S.RUNNING, False, True),
        (S.ERROR, S.SKIPPED, False, True),
        (S.WAITING, S.KILLED, False, False),
    ],
)
def test_and_or(g: RunGraph, a: S, b: S, and_: bool, or_: bool) -> None:
    assert holds(g, {"and": ["a", "b"]}, a=a, b=b) is and_
    assert holds(g, ["a", "b"], a=a, b=b) is and_
    assert holds(g, {"or": ["a", "b"]}, a=a, b=b) is or_


def test_nested_conditions(g: RunGraph) -> None:
    condition = {"or": [{"and": ["a", {"not": "b"}]}, "c"]}
    assert holds(g, condition, a=S.COMPLETE, b=S.RUNNING, c=S.WAITING)
    assert not holds(g, condition, a=S.COMPLETE, b=S.COMPLETE, c=S.WAITING)
    assert holds(g, condition, a=S.WAITING, b=S.COMPLETE, c=S.DISABLED)


def test_stage_reference_needs_every_job_including_nested_stages(g: RunGraph) -> None:
    assert g.stage_members == {"outer": {"o1", "i1"}, "inner": {"i1"}}
    assert not holds(g, {"stage": "outer"}, o1=S.COMPLETE, i1=S.RUNNING)
    assert holds(g, {"stage": "outer"}, o1=S.COMPLETE, i1=S.SKIPPED)
    assert holds(g, {"stage": "inner"}, o1=S.WAITING, i1=S.COMPLETE)
    assert not holds(g, {"stage": "outer"}, o1=S.COMPLETE)


def test_stage_jobs_inherit_the_conditions_of_every_enclosing_stage(g: RunGraph) -> None:
    def may(name: str, **statuses: S) -> bool:
        return g.may_start(name, {k: v.value for k, v in statuses.items()})

    assert may("a")
    assert not may("o1", a=S.RUNNING)
    assert may("o1", a=S.COMPLETE)
    assert not may("i1", a=S.COMPLETE, b=S.COMPLETE, o1=S.RUNNING)
    assert not may("i1", a=S.RUNNING, b=S.COMPLETE, o1=S.COMPLETE)
    assert not may("i1", a=S.COMPLETE, b=S.ERROR, o1=S.COMPLETE)
    assert may("i1", a=S.COMPLETE, b=S.COMPLETE, o1=S.COMPLETE)
    assert len(g.jobs["i1"].conditions) == 3


def test_locks_of(g: RunGraph) -> None:
    assert [(lock.name, lock.count) for lock in g.locks_of("a")] == [("L", 1), ("M", 3)]
    assert [lock.name for lock in g.locks_of("o1")] == ["L"]
    assert g.locks_of("b") == ()


def test_initial_status() -> None:
    g = graph(
        [job("auto"), job("manual", startup="manual"), job("off", startup="disabled")],
        stages=[
            {
                "name": "dark",
                "enabled": False,
                "jobs": [job("in_dark", startup="manual")],
                "stages": [{"name": "deeper", "jobs": [job("deep")]}],
            }
        ],
    )
    none: frozenset[str] = frozenset()
    assert g.initial_status("auto", none) == S.WAITING
    assert g.initial_status("manual", none) == S.ON_HOLD
    assert g.initial_status("off", none) == S.DISABLED
    assert g.initial_status("in_dark", none) == S.DISABLED, "a disabled stage beats manual"
    assert g.initial_status("deep", none) == S.DISABLED
    assert g.initial_status("auto", frozenset({"auto"})) == S.DISABLED
    assert g.initial_status("manual", frozenset({"manual"})) == S.DISABLED


def outcome(
    g: RunGraph, armed: set[str] | None = None, **statuses: S
) -> tuple[PlanRunStatus, list[str]]:
    return g.outcome({k: v.value for k, v in statuses.items()}, frozenset(armed or ()))


def test_outcome_complete_when_every_job_is_done(g: RunGraph) -> None:
    assert outcome(g, a=S.COMPLETE, b=S.SKIPPED, c=S.DISABLED) == (PlanRunStatus.COMPLETE, [])
    assert outcome(g) == (PlanRunStatus.COMPLETE, [])


@pytest.mark.parametrize("busy", [S.RUNNING, S.LOCK_QUEUED, S.ON_HOLD])
def test_outcome_running_while_anything_is_busy_or_held(g: RunGraph, busy: S) -> None:
    assert outcome(g, a=busy, b=S.ERROR, c=S.WAITING) == (PlanRunStatus.RUNNING, [])


def test_outcome_running_while_a_waiting_job_is_armed(g: RunGraph) -> None:
    assert outcome(g, {"c"}, a=S.ERROR, c=S.WAITING) == (PlanRunStatus.RUNNING, [])


def test_outcome_error_when_stalled_behind_a_failure(g: RunGraph) -> None:
    assert outcome(g, a=S.ERROR, b=S.COMPLETE, c=S.WAITING) == (PlanRunStatus.ERROR, [])
    assert outcome(g, a=S.KILLED, b=S.COMPLETE) == (PlanRunStatus.ERROR, [])


def test_outcome_completes_and_names_the_stuck_jobs_when_stalled_without_failure(
    g: RunGraph,
) -> None:
    assert outcome(g, a=S.COMPLETE, c=S.WAITING, b=S.WAITING) == (
        PlanRunStatus.COMPLETE,
        ["b", "c"],
    )
