"""Run state: re-running a finished or stalled plan run in place (issue #15, item 2)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest
from sqlalchemy import Connection

from jobplan.engine.state import RerunOutcome
from jobplan.errors import Conflict, InvalidInput
from jobplan.store import Database
from jobplan.store import notifications as outbox
from jobplan.store import runs as store
from jobplan.store.records import PlanRunRecord
from support.engine import T0, Harness, at, cmd, gate


@pytest.fixture
def h(database: Database) -> Harness:
    return Harness(database)


def rerun(
    h: Harness,
    run: PlanRunRecord,
    jobs: str | Sequence[str] = "failed",
    *,
    downstream: bool = False,
    now: float = 100,
    force: bool = False,
) -> RerunOutcome:
    def work(conn: Connection) -> RerunOutcome:
        fresh = store.get_plan_run(conn, run.id)
        assert fresh is not None
        return h.state.rerun_plan_run(
            conn,
            fresh,
            jobs,
            downstream=downstream,
            by="ops",
            now=at(now),
            force=force,
        )

    return h.tx(work)


def test_an_ended_run_reopens_with_its_version_parameters_and_fire_time(h: Harness) -> None:
    plan = h.plan(
        jobs=[cmd("a"), cmd("b", depends_on="a")],
        parameters=[{"name": "DAY", "default": "mon"}],
        policies={"on_error": "end", "retention_days": 3},
        window={"cron": "0 0 12 * * ?", "ttl_seconds": 600},
    )
    run = h.start(plan, scheduled_for=T0 - timedelta(days=2), overrides={"DAY": "sat"})
    assert h.step(at(1)) == ["a"]
    assert h.step(at(2), ok=False) == ["b"]
    ended = h.plan_run(run)
    assert ended is not None and (ended.status, ended.ended_at) == ("ERROR", at(2))
    assert h.stats(plan).failed == 1  # type: ignore[union-attr]
    h.plan(jobs=[cmd("a"), cmd("b", depends_on="a"), cmd("c")])  # a newer version

    outcome = rerun(h, run)
    assert outcome.cleared == ["b"]
    again = h.plan_run(run)
    assert again is not None
    assert (again.status, again.ended_at, again.purge_after, again.reason) == (
        "RUNNING",
        None,
        None,
        None,
    )
    assert again.started_at == at(100) and again.deadline_at == at(700)
    for kept in ("plan_version_id", "version", "parameters", "scheduled_for", "created_at"):
        assert getattr(again, kept) == getattr(run, kept), kept
    assert set(h.jobs(run)) == {"a", "b"}, "it runs its own version"
    stats = h.stats(plan)
    assert stats is not None and (stats.total, stats.failed) == (0, 0)

    b = h.job(run, "b")
    assert (b.status, b.attempt, b.ended_at, b.reason) == ("WAITING", 1, None, "re-run 1 by ops")
    assert b.wake_at == at(100), "armed at once: its dependency keeps its result"
    assert h.job(run, "a").status == "COMPLETE" and h.job(run, "a").attempt == 1
    assert h.step(at(101)) == ["b"], "only b runs again"
    done = h.plan_run(run)
    assert done is not None and done.status == "COMPLETE"
    assert h.job(run, "b").attempt == 2
    stats = h.stats(plan)
    assert stats is not None and (stats.total, stats.succeeded, stats.failed) == (1, 1, 0)


def test_downstream_follows_dependencies_through_stages(h: Harness) -> None:
    plan = h.plan(
        jobs=[cmd("a"), cmd("other"), cmd("z", depends_on={"stage": "s"})],
        stages=[
            {
                "name": "s",
                "depends_on": "a",
                "jobs": [cmd("s1"), cmd("s2", depends_on="s1")],
            }
        ],
    )
    run = h.start(plan)
    for second in range(1, 5):
        h.step(at(second))
    assert h.status(run) == "COMPLETE"
    assert rerun(h, run, ["s2"], downstream=True).cleared == ["s2", "z"]
    h.step(at(101))
    h.step(at(102))
    assert h.status(run) == "COMPLETE"
    assert rerun(h, run, ["a"], downstream=True, now=200).cleared == ["a", "s1", "s2", "z"]
    attempts = {name: jr.attempt for name, jr in h.jobs(run).items()}
    assert attempts == {"a": 1, "other": 1, "s1": 1, "s2": 2, "z": 2}


def test_a_stalled_run_is_rerun_but_a_running_or_queued_one_is_refused(h: Harness) -> None:
    plan = h.plan(jobs=[cmd("a"), cmd("b")], policies={"overlap": "buffer_one"})
    run = h.start(plan)
    queued = h.open(plan, at(1)).run
    assert queued is not None
    with pytest.raises(Conflict, match="it is QUEUED and has not started"):
        rerun(h, queued)
    tickets = {t.job_run.job_name: t for t in h.claim(at(2))}
    with pytest.raises(Conflict, match=r"still running \(RUNNING: job '\w' is RUNNING\)"):
        rerun(h, run, "all")
    h.finish(tickets["a"], at(3), ok=False)
    with pytest.raises(Conflict, match="still running"):
        rerun(h, run)
    h.finish(tickets["b"], at(4))
    assert h.status(run) == "ERROR" and h.plan_run(run).ended_at is None  # type: ignore[union-attr]
    assert rerun(h, run).cleared == ["a"]
    assert h.status(run) == "RUNNING"
    assert h.step(at(101)) == ["a"]
    assert h.status(run) == "COMPLETE"


def test_an_ended_run_whose_job_is_still_being_stopped_is_refused(h: Harness) -> None:
    plan = h.plan(jobs=[cmd("a")])
    run = h.start(plan)
    (ticket,) = h.claim(at(1))
    h.stop(run, at(2))
    with pytest.raises(Conflict, match="job 'a' is still RUNNING"):
        rerun(h, run, "all")
    h.finish(ticket, at(3), ok=False)
    assert h.job(run, "a").status == "KILLED"
    assert rerun(h, run).cleared == ["a"]


def test_selection_refusals(h: Harness) -> None:
    plan = h.plan(jobs=[cmd("a"), cmd("off", startup="disabled")])
    run = h.start(plan)
    h.step(at(1))
    assert h.status(run) == "COMPLETE"
    with pytest.raises(Conflict, match="no failed job"):
        rerun(h, run)
    with pytest.raises(InvalidInput, match="'ghost', 'nope'"):
        rerun(h, run, ["a", "nope", "ghost"])
    with pytest.raises(InvalidInput, match="at least one job"):
        rerun(h, run, [])
    with pytest.raises(Conflict, match=r"'off' in plan run .* disabled in this run"):
        rerun(h, run, ["off"])
    assert h.status(run) == "COMPLETE"
    assert h.tx(lambda c: store.reruns_of(c, run.id)) == []


def test_a_deleted_plans_run_is_refused(h: Harness) -> None:
    plan = h.plan(jobs=[cmd("a")])
    run = h.start(plan)
    h.step(at(1), ok=False)
    h.stop(run, at(2))
    h.plans.delete(h.caller, plan.id)
    with pytest.raises(Conflict, match=r"its plan version 1\.0\.0 is gone"):
        rerun(h, run)


def test_overlap_policy_refuses_reopening_beside_an_open_run_unless_forced(h: Harness) -> None:
    plan = h.plan(jobs=[cmd("a")], policies={"overlap": "skip", "on_error": "end"})
    old = h.start(plan)
    h.step(at(1), ok=False)
    assert h.status(old) == "ERROR"
    newer = h.start(plan, at(2))
    with pytest.raises(Conflict, match=f"has an open run {newer.id} .* overlap policy is skip"):
        rerun(h, old)
    assert h.status(old) == "ERROR"
    assert rerun(h, old, force=True).cleared == ["a"]
    assert {r.id for r in h.runs_of(plan, "RUNNING")} == {old.id, newer.id}


def test_a_time_gate_rerun_counts_from_the_runs_fire_time(h: Harness) -> None:
    plan = h.plan(jobs=[gate("noon", "0 0 12 * * ?"), cmd("work", depends_on="noon")])
    run = h.start(plan, scheduled_for=T0)
    assert h.statuses(run)["noon"] == "COMPLETE"
    h.step(at(1))
    assert h.status(run) == "COMPLETE"
    outcome = rerun(h, run, "all", now=3600)
    assert outcome.cleared == ["noon", "work"]
    # the gate opened again at once (its fire for the run's time has passed): work is armed
    assert h.statuses(run) == {"noon": "COMPLETE", "work": "WAITING"}
    assert h.job(run, "noon").attempt == 2
    assert h.step(at(3601)) == ["work"]


def test_old_attempts_stay_readable_and_the_record_keeps_their_results(h: Harness) -> None:
    plan = h.plan(jobs=[cmd("a")], policies={"on_error": "end"})
    run = h.start(plan)
    (ticket,) = h.claim(at(1))
    h.output(ticket.job_run, "first try\n")
    h.finish(ticket, at(2), ok=False)
    first = rerun(h, run).rerun
    (ticket,) = h.claim(at(101))
    assert ticket.job_run.attempt == 2
    h.output(ticket.job_run, "second try\n")
    h.finish(ticket, at(102))
    second = rerun(h, run, "all", now=200).rerun
    assert (first.number, second.number) == (1, 2)
    assert first.previous_status == "ERROR" and second.previous_status == "COMPLETE"
    assert [(j["attempt"], j["status"]) for j in first.jobs] == [(1, "ERROR")]
    assert [(j["attempt"], j["status"]) for j in second.jobs] == [(2, "COMPLETE")]
    a = h.job(run, "a")
    texts = [
        "".join(c for _, c in h.tx(lambda conn, n=n: store.read_output(conn, a.id, n)))
        for n in (1, 2)
    ]
    assert texts == ["first try\n", "second try\n"]
    assert [r.number for r in h.tx(lambda c: store.reruns_of(c, run.id))] == [1, 2]


def test_a_reopened_run_is_told_as_it_starts_fails_and_completes(h: Harness) -> None:
    hook = "https://hooks.example.com/ops"
    plan = h.plan(
        jobs=[cmd("a")],
        policies={"on_error": "end"},
        notifications={"on_start": [hook], "on_failure": [hook], "on_success": [hook]},
    )
    run = h.start(plan)
    h.step(at(1), ok=False)
    rerun(h, run)
    h.step(at(101))
    items, _ = h.tx(lambda c: outbox.list_for_tenant(c, h.tenant_id, limit=50))
    told = sorted((m.created_at, m.event, m.payload.get("reason")) for m in items)
    assert [(when, event) for when, event, _ in told] == [
        (T0, "run_started"),
        (at(1), "run_failed"),
        (at(100), "run_started"),
        (at(101), "run_completed"),
    ]
    assert told[2][2] == "re-run 1 by ops"
