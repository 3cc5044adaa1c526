"""Run state: global events complete waiting event jobs in the tenant's open plan runs."""

from __future__ import annotations

import pytest

from jobplan.store import Database
from jobplan.store.records import PlanRecord
from support.engine import T0, Harness, at, cmd, event_job


@pytest.fixture
def h(database: Database) -> Harness:
    return Harness(database)


def waiter_plan(h: Harness, name: str = "waiter", event: str = "go") -> PlanRecord:
    return h.plan(name, jobs=[event_job("wait", event), cmd("after", depends_on="wait")])


def test_event_job_without_dependencies_waits_for_its_event(h: Harness) -> None:
    run = h.start(waiter_plan(h))
    wait = h.job(run, "wait")
    assert (wait.status, wait.queued_at, wait.wake_at) == ("WAITING", T0, None)
    assert h.claim(at(hours=24)) == []
    assert h.status(run) == "RUNNING"


def test_raising_the_event_directly_completes_the_waiter(h: Harness) -> None:
    run = h.start(waiter_plan(h))
    assert h.raise_event("other", at(1)) == 0
    assert h.job(run, "wait").status == "WAITING"

    assert h.raise_event("go", at(2), by="alice") == 1
    wait = h.job(run, "wait")
    assert (wait.status, wait.started_at, wait.ended_at) == ("COMPLETE", T0, at(2))
    assert wait.reason == "event 'go' raised by alice"
    assert h.job(run, "after").wake_at == at(2)
    assert h.step(at(2)) == ["after"]
    assert h.status(run) == "COMPLETE"
    assert h.raise_event("go", at(3)) == 0, "a completed waiter is not completed again"

    # through the service, and not for the waiters of ended runs
    stopped = h.start(waiter_plan(h, "stopped"), at(4))
    h.stop(stopped, at(5))
    again = h.start(waiter_plan(h, "again"), at(6))
    assert h.runs.raise_event(h.caller, "go") == 1
    assert h.job(again, "wait").status == "COMPLETE"
    assert h.job(stopped, "wait").status == "WAITING"


def test_an_event_job_with_dependencies_raises_the_event_for_other_runs(h: Harness) -> None:
    waiting = h.start(waiter_plan(h))
    also_waiting = h.start(waiter_plan(h, "waiter2"))
    raiser = h.start(h.plan("raiser", jobs=[cmd("prep"), event_job("signal", "go", "prep")]))

    assert h.step(T0) == ["prep"]
    signal = h.job(raiser, "signal")
    assert (signal.status, signal.wake_at) == ("WAITING", T0)
    assert h.claim(at(1)) == [], "event raisers complete inside claim"
    assert h.job(raiser, "signal").status == "COMPLETE"
    assert h.status(raiser) == "COMPLETE"
    for run in (waiting, also_waiting):
        wait = h.job(run, "wait")
        assert wait.status == "COMPLETE"
        assert wait.reason == f"event 'go' raised by plan run {raiser.id}"


def test_events_do_not_cross_tenants(h: Harness) -> None:
    run = h.start(waiter_plan(h))
    other = h.other_tenant("globex")
    assert other.raise_event("go", at(1)) == 0
    raiser = other.start(
        other.plan("raiser", jobs=[cmd("prep"), event_job("signal", "go", "prep")])
    )
    assert other.step(at(2)) == ["prep"]
    other.claim(at(3))
    assert other.job(raiser, "signal").status == "COMPLETE"
    assert h.job(run, "wait").status == "WAITING"
    assert h.raise_event("go", at(4)) == 1


def test_a_waiter_not_yet_armed_is_not_completed(h: Harness) -> None:
    plan = h.plan(
        "late",
        jobs=[cmd("first"), cmd("x", depends_on="first")],
        stages=[{"name": "s", "depends_on": "first", "jobs": [event_job("wait", "go")]}],
    )
    run = h.start(plan)
    assert h.raise_event("go", at(1)) == 0
    assert h.job(run, "wait").status == "WAITING"
    h.step(at(2))
    assert h.job(run, "wait").queued_at == at(2)
    assert h.raise_event("go", at(3)) == 1
