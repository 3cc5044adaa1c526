"""Run state: retries with exponential backoff, and min/max execution flags."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from jobplan.engine import state as state_module
from jobplan.store import Database
from support.engine import T0, Harness, at, cmd


@pytest.fixture
def h(database: Database) -> Harness:
    return Harness(database)


def between(value: datetime | None, low: datetime, high: datetime) -> bool:
    return value is not None and low <= value <= high


def retrying_plan(h: Harness, **job_fields: object) -> object:
    return h.plan(
        jobs=[cmd("a", **job_fields), cmd("b", depends_on="a")],
        policies={"max_retries": 2, "retry_backoff_seconds": 10, "retry_jitter": 0.1},
    )


def test_retries_back_off_exponentially_then_fail(h: Harness) -> None:
    run = h.start(retrying_plan(h))
    h.claim(T0)
    assert h.job(run, "a").attempt == 1
    h.finish(h.job(run, "a"), at(1), ok=False, reason="exit code 3")

    a = h.job(run, "a")
    assert a.status == "WAITING"
    assert between(a.wake_at, at(1 + 9), at(1 + 11)), a.wake_at
    assert a.reason == "attempt 1 failed: exit code 3; retrying"
    assert (a.ended_at, a.owner_node, a.exit_code) == (None, None, None)
    assert h.status(run) == "RUNNING", "a pending retry keeps the run running"
    assert h.claim(at(1 + 8.9)) == []

    assert a.wake_at is not None
    second = a.wake_at
    assert h.claim_names(second) == ["a"]
    assert h.job(run, "a").attempt == 2
    h.finish(h.job(run, "a"), second + timedelta(seconds=1), ok=False, reason="exit code 4")
    a = h.job(run, "a")
    failed_at = second + timedelta(seconds=1)
    assert between(a.wake_at, failed_at + timedelta(seconds=18), failed_at + timedelta(seconds=22))
    assert a.reason is not None and a.reason.startswith("attempt 2 failed: exit code 4")

    assert a.wake_at is not None
    assert h.claim_names(a.wake_at) == ["a"]
    h.finish(h.job(run, "a"), a.wake_at, ok=False, reason="exit code 5")
    a = h.job(run, "a")
    assert (a.status, a.attempt, a.reason) == ("ERROR", 3, "exit code 5")
    assert h.status(run) == "ERROR"
    assert h.job(run, "b").queued_at is None


def test_a_retry_that_succeeds_completes_the_run(h: Harness) -> None:
    run = h.start(retrying_plan(h))
    h.step(T0, ok=False)
    wake = h.job(run, "a").wake_at
    assert wake is not None
    assert h.step(wake) == ["a"]
    assert h.job(run, "a").status == "COMPLETE"
    assert h.step(wake) == ["b"]
    assert h.status(run) == "COMPLETE"


def test_backoff_is_capped_by_the_maximum(h: Harness) -> None:
    plan = h.plan(
        jobs=[cmd("a")],
        policies={
            "max_retries": 3,
            "retry_backoff_seconds": 10,
            "retry_backoff_max_seconds": 15,
            "retry_jitter": 0,
        },
    )
    run = h.start(plan)
    h.step(T0, ok=False)
    assert h.job(run, "a").wake_at == at(10)
    h.step(at(10), ok=False)
    assert h.job(run, "a").wake_at == at(25), "20 s capped to 15 s"


def test_job_max_retries_overrides_the_policy(h: Harness) -> None:
    run = h.start(retrying_plan(h, max_retries=0))
    h.step(T0, ok=False)
    assert h.job(run, "a").status == "ERROR"

    plan = h.plan("once", jobs=[cmd("x", max_retries=1)], policies={"retry_jitter": 0})
    run = h.start(plan)
    h.step(T0, ok=False)
    x = h.job(run, "x")
    assert (x.status, x.wake_at) == ("WAITING", at(10))
    h.step(at(10), ok=False)
    assert h.job(run, "x").status == "ERROR"


def test_retry_jitter_only_lengthens_the_wait(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(state_module.random, "uniform", lambda low, high: low)
    run = h.start(retrying_plan(h))
    h.step(T0, ok=False)
    wake = h.job(run, "a").wake_at
    assert wake is not None and wake >= at(10)


def test_a_reset_job_gets_its_retries_again(h: Harness) -> None:
    plan = h.plan(jobs=[cmd("a")], policies={"max_retries": 1, "retry_jitter": 0})
    run = h.start(plan)
    h.step(T0, ok=False)
    h.step(at(10), ok=False)
    assert h.job(run, "a").status == "ERROR"
    h.act(run, "a", "reset", at(100))
    h.step(at(100), ok=False)
    a = h.job(run, "a")
    assert (a.status, a.wake_at) == ("WAITING", at(110))


# --- min / max execution --------------------------------------------------------------------


def test_min_execution_flags_too_short_successes_only(h: Harness) -> None:
    plan = h.plan(
        jobs=[cmd("quick", min_execution_seconds=5), cmd("fine", min_execution_seconds=5)]
    )
    run = h.start(plan)
    h.claim(T0)
    h.finish(h.job(run, "quick"), at(2))
    h.finish(h.job(run, "fine"), at(6))
    assert h.job(run, "quick").flags == ["too_short"]
    assert h.job(run, "fine").flags == []
    assert h.statuses(run) == {"quick": "COMPLETE", "fine": "COMPLETE"}

    failing = h.start(h.plan("failing", jobs=[cmd("f", min_execution_seconds=5)]))
    h.claim(T0)
    h.finish(h.job(failing, "f"), at(1), ok=False)
    assert h.job(failing, "f").flags == []


def test_max_execution_flags_overdue_runs(h: Harness) -> None:
    plan = h.plan(
        jobs=[
            cmd("slow", max_execution_seconds=10),
            cmd("slow_fail", max_execution_seconds=10),
            cmd("ok", max_execution_seconds=10),
        ]
    )
    run = h.start(plan)
    h.claim(T0)
    h.finish(h.job(run, "slow"), at(11))
    h.finish(h.job(run, "slow_fail"), at(11), ok=False)
    h.finish(h.job(run, "ok"), at(9))
    assert h.job(run, "slow").flags == ["overdue"]
    assert h.job(run, "slow_fail").flags == ["overdue"]
    assert h.job(run, "ok").flags == []
    assert h.job(run, "slow").status == "COMPLETE", "overdue is a flag, not a failure"


def test_flags_are_not_duplicated_after_a_reset(h: Harness) -> None:
    plan = h.plan(jobs=[cmd("quick", min_execution_seconds=5), cmd("other", startup="manual")])
    run = h.start(plan)
    h.step(T0)
    h.act(run, "quick", "reset", at(1))
    h.step(at(1))
    assert h.job(run, "quick").flags == ["too_short"]
