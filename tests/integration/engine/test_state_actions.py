"""Run state: operator actions on job runs and plan runs, and their refusals."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from jobplan.errors import Conflict
from jobplan.store import Database
from jobplan.store import runs as store
from jobplan.store.records import JobRunRecord, PlanRunRecord
from support.engine import T0, Harness, at, cmd

# what each action applies to, and the status it leaves the job run in
ALLOWED: dict[str, dict[str, str]] = {
    "hold": {"WAITING": "ON_HOLD", "LOCK_QUEUED": "ON_HOLD"},
    "release": {"ON_HOLD": "WAITING"},
    "skip": {
        "WAITING": "SKIPPED",
        "LOCK_QUEUED": "SKIPPED",
        "ON_HOLD": "SKIPPED",
        "ERROR": "SKIPPED",
        "KILLED": "SKIPPED",
    },
    "unskip": {"SKIPPED": "WAITING"},
    "reset": {"COMPLETE": "WAITING", "ERROR": "WAITING", "KILLED": "WAITING", "SKIPPED": "WAITING"},
    "acknowledge": {"ERROR": "ERROR", "KILLED": "KILLED"},
    "kill": {"RUNNING": "RUNNING"},
}
# one job in each job-run status; the job is named after the status
STATUSES = (
    "WAITING",
    "LOCK_QUEUED",
    "RUNNING",
    "COMPLETE",
    "ERROR",
    "KILLED",
    "SKIPPED",
    "ON_HOLD",
    "DISABLED",
)


class _Rollback(Exception):
    def __init__(self, job_run: JobRunRecord | None) -> None:
        super().__init__("rollback")
        self.job_run = job_run


@dataclass
class Matrix:
    h: Harness
    run: PlanRunRecord

    def try_action(self, status: str, action: str) -> JobRunRecord | None:
        """Apply ``action`` to the job in ``status`` and roll it back; returns the job run as
        the action left it."""
        with pytest.raises(_Rollback) as caught, self.h.database.transaction() as conn:
            jr = next(j for j in store.job_runs_of(conn, self.run.id) if j.job_name == status)
            self.h.state.job_action(conn, jr, action, "ops", at(100))
            raise _Rollback(store.get_job_run(conn, jr.id))
        return caught.value.job_run


@pytest.fixture
def matrix(database: Database) -> Matrix:
    """A plan run with one job run in every status, the run itself still RUNNING."""
    h = Harness(database)
    plan = h.plan(
        jobs=[
            cmd("ON_HOLD", startup="manual"),
            cmd("WAITING", depends_on="ON_HOLD"),
            cmd("SKIPPED", depends_on="ON_HOLD"),
            cmd("DISABLED", startup="disabled"),
            cmd("RUNNING"),
            cmd("COMPLETE"),
            cmd("ERROR"),
            cmd("KILLED"),
            cmd("LOCK_QUEUED", depends_on="COMPLETE"),
        ],
        locks=[{"name": "L", "jobs": ["RUNNING", "LOCK_QUEUED"]}],
    )
    run = h.start(plan)
    assert h.claim_names(T0) == ["COMPLETE", "ERROR", "KILLED", "RUNNING"]
    h.act(run, "KILLED", "kill", at(1))
    h.finish(h.job(run, "KILLED"), at(2))
    h.finish(h.job(run, "ERROR"), at(2), ok=False)
    h.act(run, "SKIPPED", "skip", at(3))
    h.finish(h.job(run, "COMPLETE"), at(4))
    assert h.claim(at(4)) == []
    assert h.statuses(run) == {s: s for s in STATUSES}
    assert h.status(run) == "RUNNING"
    return Matrix(h, run)


def test_every_action_applies_to_its_states_and_is_refused_on_others(matrix: Matrix) -> None:
    for action, allowed in ALLOWED.items():
        for status in STATUSES:
            if status in allowed:
                after = matrix.try_action(status, action)
                assert after is not None
                assert after.status == allowed[status], (action, status)
            else:
                with pytest.raises(Conflict) as refused:
                    matrix.try_action(status, action)
                message = str(refused.value)
                assert f"cannot {action} job run '{status}'" in message, message
                assert f"it is {status}" in message, message
    # refusals and rolled-back actions changed nothing
    assert matrix.h.statuses(matrix.run) == {s: s for s in STATUSES}


def test_action_effects(matrix: Matrix) -> None:
    held = matrix.try_action("WAITING", "hold")
    assert held is not None
    assert (held.reason, held.wake_at, held.queued_at) == ("held by ops", None, None)

    skipped = matrix.try_action("ERROR", "skip")
    assert skipped is not None
    assert (skipped.reason, skipped.ended_at) == ("skipped by ops", at(100))

    unskipped = matrix.try_action("SKIPPED", "unskip")
    assert unskipped is not None
    assert (unskipped.reason, unskipped.ended_at) == ("unskipped by ops", None)

    reset = matrix.try_action("KILLED", "reset")
    assert reset is not None
    assert (reset.reason, reset.ended_at, reset.stop_requested) == ("reset by ops", None, False)
    assert reset.wake_at == at(100), "a reset job whose conditions hold is armed at once"

    acknowledged = matrix.try_action("ERROR", "acknowledge")
    assert acknowledged is not None
    assert (acknowledged.acknowledged, acknowledged.status) == (True, "ERROR")

    killed = matrix.try_action("RUNNING", "kill")
    assert killed is not None
    assert (killed.stop_requested, killed.status) == (True, "RUNNING")


def test_kill_then_finish_records_killed_and_errors_the_run(database: Database) -> None:
    h = Harness(database)
    run = h.start(h.plan(jobs=[cmd("a")]))
    h.claim(T0)
    h.act(run, "a", "kill", at(1))
    assert h.finish(h.job(run, "a"), at(2), ok=True)
    a = h.job(run, "a")
    assert (a.status, a.reason, a.ended_at) == ("KILLED", "stopped by an operator", at(2))
    assert h.status(run) == "ERROR"
    h.act(run, "a", "acknowledge", at(3))  # a killed job's failure can be acknowledged too
    assert h.job(run, "a").acknowledged is True


def test_releasing_the_hold_and_skipping_drive_the_run_to_completion(database: Database) -> None:
    h = Harness(database)
    run = h.start(h.plan(jobs=[cmd("m", startup="manual"), cmd("n", depends_on="m")]))
    h.act(run, "m", "skip", at(1))
    assert h.step(at(1)) == ["n"]
    assert h.status(run) == "COMPLETE"


def test_actions_on_an_ended_plan_run_are_refused_except_acknowledge(matrix: Matrix) -> None:
    h = matrix.h
    h.stop(matrix.run, at(50))
    ended = h.plan_run(matrix.run)
    assert ended is not None
    assert (ended.status, ended.reason, ended.ended_at) == ("ENDED", "stopped by ops", at(50))
    assert h.job(matrix.run, "RUNNING").stop_requested

    for status, action in [
        ("WAITING", "hold"),
        ("ON_HOLD", "release"),
        ("ERROR", "reset"),
        ("SKIPPED", "unskip"),
        ("KILLED", "skip"),
        ("RUNNING", "kill"),
    ]:
        with pytest.raises(Conflict) as refused:
            h.act(matrix.run, status, action, at(60))
        assert str(refused.value) == (
            f"cannot {action} job run '{status}': its plan run has ended (ENDED)"
        )
    assert h.act(matrix.run, "ERROR", "acknowledge", at(60)).acknowledged


def test_stop_plan_run_refusals_and_error_runs(database: Database) -> None:
    h = Harness(database)
    plan = h.plan(jobs=[cmd("a"), cmd("b")], policies={"overlap": "allow"})
    done = h.start(plan)
    h.step(T0)
    assert h.status(done) == "COMPLETE"
    with pytest.raises(Conflict, match=rf"plan run {done.id} has already ended \(COMPLETE\)"):
        h.stop(done, at(1))

    failed = h.start(plan, at(2))
    h.claim(at(2))
    h.finish(h.job(failed, "a"), at(3), ok=False)
    h.finish(h.job(failed, "b"), at(3))
    assert h.status(failed) == "ERROR"
    h.stop(failed, at(4))
    ended = h.plan_run(failed)
    assert ended is not None
    assert (ended.status, ended.reason, ended.ended_at) == ("ERROR", "stopped by ops", at(4))
    with pytest.raises(Conflict, match="has already ended"):
        h.stop(failed, at(5))


def test_service_actions_report_conflicts_and_apply_changes(database: Database) -> None:
    h = Harness(database)
    plan = h.plan(jobs=[cmd("a"), cmd("m", startup="manual")])
    outcome = h.runs.start(h.caller, plan.id)
    assert outcome.run is not None
    run = outcome.run
    a = h.job(run, "a")
    with pytest.raises(Conflict, match="cannot release job run 'a': it is WAITING"):
        h.runs.act(h.caller, a.id, "release")
    assert h.runs.act(h.caller, a.id, "hold").status == "ON_HOLD"
    stopped = h.runs.stop(h.caller, run.id)
    assert stopped.status == "ENDED"
    assert stopped.reason == f"stopped by {h.caller.username}"
