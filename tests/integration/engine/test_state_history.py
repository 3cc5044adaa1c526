"""Run state: history strategies, per-plan statistics and retention."""

from __future__ import annotations

import pytest

from jobplan.store import Database
from jobplan.store import runs as store
from jobplan.store.records import PlanRecord, PlanRunRecord
from support.engine import T0, Harness, at, cmd


@pytest.fixture
def h(database: Database) -> Harness:
    return Harness(database)


def history_plan(h: Harness, strategy: str) -> PlanRecord:
    return h.plan(
        f"hist-{strategy.lower()}",
        jobs=[cmd("a")],
        policies={"history": strategy, "overlap": "allow", "retention_days": 1},
    )


def run_once(h: Harness, plan: PlanRecord, start: float, end: float, *, ok: bool) -> PlanRunRecord:
    """A run whose job writes output and succeeds or fails; failed runs are then stopped."""
    run = h.start(plan, at(start))
    (ticket,) = h.claim(at(start))
    h.output(ticket.job_run, f"output of {run.id}")
    h.finish(ticket, at(end), ok=ok)
    if not ok:
        h.stop(run, at(end))
    return run


def test_full_keeps_runs_and_output(h: Harness) -> None:
    plan = history_plan(h, "FULL")
    good = run_once(h, plan, 0, 10, ok=True)
    kept = h.plan_run(good)
    assert kept is not None
    assert (kept.status, kept.ended_at, kept.history) == ("COMPLETE", at(10), "FULL")
    assert kept.purge_after == at(hours=24, seconds=10)
    assert h.read_output(h.job(good, "a")) == f"output of {good.id}"


def test_minimal_keeps_the_run_but_not_its_output(h: Harness) -> None:
    plan = history_plan(h, "MINIMAL")
    good = run_once(h, plan, 0, 10, ok=True)
    bad = run_once(h, plan, 20, 30, ok=False)
    assert h.status(good) == "COMPLETE"
    assert h.status(bad) == "ERROR"
    assert h.job(good, "a").status == "COMPLETE"
    assert h.read_output(h.job(good, "a")) == ""
    assert h.read_output(h.job(bad, "a")) == ""


def test_error_keeps_only_failed_runs(h: Harness) -> None:
    plan = history_plan(h, "ERROR")
    good = run_once(h, plan, 0, 10, ok=True)
    bad = run_once(h, plan, 20, 30, ok=False)
    assert h.plan_run(good) is None
    assert h.jobs(good) == {}
    assert h.status(bad) == "ERROR"
    assert h.read_output(h.job(bad, "a")) == f"output of {bad.id}"

    ended = h.start(plan, at(40))
    h.stop(ended, at(41))
    assert h.status(ended) == "ENDED", "an ended run is not a success: it is kept"


def test_off_keeps_no_runs(h: Harness) -> None:
    plan = history_plan(h, "OFF")
    good = run_once(h, plan, 0, 10, ok=True)
    bad = run_once(h, plan, 20, 30, ok=False)
    assert h.plan_run(good) is None
    assert h.plan_run(bad) is None
    assert h.jobs(bad) == {}
    assert h.runs_of(plan) == []


def test_stats_count_every_run_whatever_the_history(h: Harness) -> None:
    for strategy in ("FULL", "MINIMAL", "ERROR", "OFF"):
        plan = history_plan(h, strategy)
        run_once(h, plan, 0, 10, ok=True)
        run_once(h, plan, 20, 50, ok=False)
        run_once(h, plan, 60, 80, ok=True)
        stats = h.stats(plan)
        assert stats is not None
        assert (stats.total, stats.succeeded, stats.failed, stats.ended) == (3, 2, 1, 0), strategy
        assert stats.total_duration_seconds == pytest.approx(10 + 30 + 20)
        assert (stats.last_status, stats.last_run_at) == ("COMPLETE", at(80))

        view = h.runs.stats(h.caller, plan.id)
        assert (view.total, view.succeeded, view.failed) == (3, 2, 1)
        assert view.success_percent == pytest.approx(66.67)
        assert view.failure_percent == pytest.approx(33.33)
        assert view.average_duration_seconds == pytest.approx(20.0)


def test_stats_count_ended_runs(h: Harness) -> None:
    plan = history_plan(h, "FULL")
    run = h.start(plan)
    h.stop(run, at(5))
    stats = h.stats(plan)
    assert stats is not None
    assert (stats.total, stats.succeeded, stats.failed, stats.ended) == (1, 0, 0, 1)
    assert (stats.last_status, stats.total_duration_seconds) == ("ENDED", 5.0)


def test_purge_deletes_runs_past_their_retention(h: Harness) -> None:
    plan = history_plan(h, "FULL")
    old = run_once(h, plan, 0, 10, ok=True)
    newer = run_once(h, plan, 3600, 3610, ok=True)
    still_open = h.start(plan, at(3700))
    assert h.tx(lambda c: store.purge_plan_runs(c, at(hours=24, seconds=9), 100)) == 0
    assert h.tx(lambda c: store.purge_plan_runs(c, at(hours=24, seconds=10), 100)) == 1
    assert h.plan_run(old) is None
    assert h.jobs(old) == {}
    assert h.plan_run(newer) is not None
    assert h.tx(lambda c: store.purge_plan_runs(c, at(hours=24 * 400), 100)) == 1
    assert h.runs_of(plan) == [h.plan_run(still_open)], "open runs are never purged"
    stats = h.stats(plan)
    assert stats is not None and stats.total == 2, "purging history keeps the statistics"


def test_stopping_a_run_without_history_still_stops_its_running_jobs(h: Harness) -> None:
    plan = h.plan(
        jobs=[cmd("a")],
        policies={"history": "OFF"},
        locks=[{"name": "L", "jobs": ["a"]}],
    )
    run = h.start(plan)
    (ticket,) = h.claim(T0)
    h.stop(run, at(1))
    assert h.tx(lambda c: store.stop_requests_for(c, "n1")) == [ticket.job_run.id]
    assert h.tx(lambda c: store.count_lock_holders(c, h.tenant_id, "L")) == 1


def test_batch_delete_removes_what_deleting_run_by_run_removes(h: Harness) -> None:
    """``delete_plan_runs`` (the purge's batch path) against ``delete_plan_run`` one run at a
    time: the same rows of every table go, and nothing else."""
    from sqlalchemy import func, select

    from jobplan.store.tables import job_run_output, job_runs, lock_holders, plan_runs

    plan = history_plan(h, "FULL")
    runs = [run_once(h, plan, 100 * i, 100 * i + 10, ok=i % 2 == 0) for i in range(5)]
    tables = (plan_runs, job_runs, job_run_output, lock_holders)

    def counts() -> list[int]:
        return [
            h.tx(lambda c, t=t: c.execute(select(func.count()).select_from(t)).scalar_one())
            for t in tables
        ]

    before = counts()
    for run in runs[:2]:
        h.tx(lambda c, run=run: store.delete_plan_run(c, run.id))
    by_run = counts()
    h.tx(lambda c: store.delete_plan_runs(c, [runs[2].id, runs[3].id]))
    batched = counts()
    assert [a - b for a, b in zip(before, by_run, strict=True)] == [
        a - b for a, b in zip(by_run, batched, strict=True)
    ]
    assert by_run[2] < before[2], "the runs had output, and it went"
    for gone in runs[:4]:
        assert h.plan_run(gone) is None and h.jobs(gone) == {}
    assert h.plan_run(runs[4]) is not None
    assert h.read_output(h.job(runs[4], "a")) == f"output of {runs[4].id}"
