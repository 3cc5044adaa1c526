"""Run state: recovering job runs of dead nodes, lease expiry and late results."""

from __future__ import annotations

import pytest

from jobplan.engine.executors.base import ExecutionResult
from jobplan.store import Database
from jobplan.store import runs as store
from support.engine import T0, Harness, at, cmd, file_job


@pytest.fixture
def h(database: Database) -> Harness:
    return Harness(database)


def recover(h: Harness, run_id: str, name: str, now: object) -> int:
    def work(conn: object) -> int:
        jr = next(j for j in store.job_runs_of(conn, run_id) if j.job_name == name)  # type: ignore[arg-type]
        return h.state.recover(conn, [jr], now)  # type: ignore[arg-type]

    return h.tx(work)  # type: ignore[arg-type]


def test_a_running_job_of_a_dead_node_ends_in_error_interrupted(h: Harness) -> None:
    plan = h.plan(jobs=[cmd("a"), cmd("b", depends_on="a")], locks=[{"name": "L", "jobs": ["a"]}])
    run = h.start(plan)
    h.claim(T0)
    assert recover(h, run.id, "a", at(40)) == 1
    a = h.job(run, "a")
    assert a.status == "ERROR"
    assert a.reason is not None and "interrupted" in a.reason
    assert (a.ended_at, a.owner_node, a.lease_until) == (at(40), None, None)
    assert h.status(run) == "ERROR"
    assert h.tx(lambda c: store.count_lock_holders(c, h.tenant_id, "L")) == 0
    assert h.finish(a, at(41)) is False, "the dead node's late result is ignored"
    assert h.job(run, "a").status == "ERROR"


def test_an_interrupted_job_with_retries_left_is_retried(h: Harness) -> None:
    plan = h.plan(jobs=[cmd("a")], policies={"max_retries": 1})
    run = h.start(plan)
    h.claim(T0)
    recover(h, run.id, "a", at(40))
    a = h.job(run, "a")
    assert (a.status, a.wake_at, a.owner_node) == ("WAITING", at(40), None)
    assert a.reason is not None and "interrupted" in a.reason
    assert h.status(run) == "RUNNING"
    (ticket,) = h.claim(at(40), node="n2")
    assert ticket.job_run.attempt == 2
    assert h.job(run, "a").owner_node == "n2"
    assert h.finish(ticket, at(41), node="n2")
    assert h.status(run) == "COMPLETE"


def test_an_interrupted_job_that_was_being_stopped_ends_killed(h: Harness) -> None:
    plan = h.plan(jobs=[cmd("a")], policies={"max_retries": 3})
    run = h.start(plan)
    h.claim(T0)
    h.act(run, "a", "kill", at(1))
    recover(h, run.id, "a", at(40))
    assert h.job(run, "a").status == "KILLED"


def test_finish_from_a_node_that_does_not_own_the_job_changes_nothing(h: Harness) -> None:
    run = h.start(h.plan(jobs=[cmd("a")]))
    (ticket,) = h.claim(T0, node="n1")
    before = h.job(run, "a")
    assert h.finish(ticket, at(1), node="n2") is False
    assert h.job(run, "a") == before
    assert h.status(run) == "RUNNING"
    assert h.finish(ticket, at(2), node="n1") is True
    assert h.finish(ticket, at(3), node="n1") is False, "a finished job run is not finished twice"
    assert h.job(run, "a").ended_at == at(2)
    result = ExecutionResult(succeeded=True, reason=None)
    assert h.tx(lambda c: h.state.finish(c, "no-such-id", "n1", result, T0)) is False


def test_an_expired_lease_lets_another_node_claim_a_file_job(h: Harness) -> None:
    run = h.start(h.plan(jobs=[file_job("f"), cmd("after", depends_on="f")]))
    (ticket,) = h.claim(T0, node="n1")
    f = h.job(run, "f")
    assert (f.status, f.owner_node, f.lease_until) == ("WAITING", "n1", at(30))
    assert ticket.job.kind.value == "file"
    assert h.claim(at(29), node="n2") == [], "the lease is still n1's"

    (taken,) = h.claim(at(31), node="n2")
    assert taken.job_run.id == f.id
    assert h.job(run, "f").owner_node == "n2"

    h.tx(lambda c: h.state.file_polled(c, f.id, "n1", True, at(32)))
    assert h.job(run, "f").status == "WAITING", "n1 no longer owns the poll"

    h.tx(lambda c: h.state.file_polled(c, f.id, "n2", False, at(33), "no file yet"))
    f = h.job(run, "f")
    assert (f.status, f.owner_node, f.wake_at, f.reason) == (
        "WAITING",
        None,
        at(60),
        "no file yet",
    )
    (again,) = h.claim(at(60), node="n2")
    h.tx(lambda c: h.state.file_polled(c, f.id, "n2", True, at(61), "found in.csv"))
    f = h.job(run, "f")
    assert (f.status, f.started_at, f.ended_at, f.reason) == (
        "COMPLETE",
        T0,
        at(61),
        "found in.csv",
    )
    assert again.job_run.id == f.id
    assert h.job(run, "after").wake_at == at(61)


def test_claiming_drops_job_runs_of_ended_runs(h: Harness) -> None:
    plan = h.plan(jobs=[cmd("a")], policies={"overlap": "allow"})
    run = h.start(plan)
    # an ended run whose job run is still armed (e.g. ended by another node meanwhile)
    h.tx(lambda c: store.update_plan_run(c, run.id, status="ENDED", ended_at=at(1)))
    assert h.claim(at(2)) == []
    a = h.job(run, "a")
    assert (a.status, a.wake_at, a.owner_node) == ("WAITING", None, None)
