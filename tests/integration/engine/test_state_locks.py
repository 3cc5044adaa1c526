"""Run state: locks are counting semaphores shared by plans of one tenant."""

from __future__ import annotations

import threading

import pytest

from jobplan.store import Database
from jobplan.store import runs as store
from support.engine import T0, Harness, at, cmd


@pytest.fixture
def h(database: Database) -> Harness:
    return Harness(database)


def locked_plan(h: Harness, name: str, *jobs: str, count: int = 1) -> object:
    return h.plan(
        name,
        jobs=[cmd(j) for j in jobs],
        locks=[{"name": "L", "count": count, "jobs": list(jobs)}],
    )


def holders(h: Harness, tenant_id: str | None = None) -> int:
    return h.tx(lambda c: store.count_lock_holders(c, tenant_id or h.tenant_id, "L"))


def test_second_plan_queues_on_the_lock_until_the_first_releases_it(h: Harness) -> None:
    first = h.start(locked_plan(h, "first", "a"))
    second = h.start(locked_plan(h, "second", "b"), at(1))

    assert h.claim_names(at(1)) == ["a"], "a is due first and takes the lock"
    b = h.job(second, "b")
    assert (b.status, b.reason, b.wake_at, b.owner_node) == (
        "LOCK_QUEUED",
        "waiting for lock 'L'",
        None,
        None,
    )
    assert b.queued_at == at(1)
    assert h.status(second) == "RUNNING"
    assert holders(h) == 1
    assert h.claim_names(at(2)) == [], "a queued job is not claimed while the lock is held"

    assert h.finish(h.job(first, "a"), at(5))
    b = h.job(second, "b")
    assert (b.status, b.reason) == ("WAITING", None)
    assert b.wake_at is not None and at(5) <= b.wake_at < at(5.001)
    assert holders(h) == 0

    assert h.claim_names(at(5)) == ["b"]
    assert h.job(second, "b").status == "RUNNING"
    assert holders(h) == 1
    h.finish(h.job(second, "b"), at(6))
    assert holders(h) == 0
    assert (h.status(first), h.status(second)) == ("COMPLETE", "COMPLETE")


def test_lock_count_two_lets_two_run_at_once(h: Harness) -> None:
    run = h.start(locked_plan(h, "three", "a", "b", "c", count=2))
    assert len(h.claim(T0)) == 2
    statuses = sorted(h.statuses(run).values())
    assert statuses == ["LOCK_QUEUED", "RUNNING", "RUNNING"]
    assert holders(h) == 2

    running = next(j for j in h.jobs(run).values() if j.status == "RUNNING")
    h.finish(running, at(1))
    assert len(h.claim(at(1))) == 1
    assert sorted(h.statuses(run).values()) == ["COMPLETE", "RUNNING", "RUNNING"]


def test_locks_of_another_tenant_do_not_interfere(h: Harness) -> None:
    other = h.other_tenant("globex")
    mine = h.start(locked_plan(h, "mine", "a"))
    theirs = other.start(locked_plan(other, "theirs", "b"))
    assert sorted(t.job_run.job_name for t in h.claim(T0)) == ["a", "b"]
    assert h.job(mine, "a").status == "RUNNING"
    assert other.job(theirs, "b").status == "RUNNING"
    assert holders(h) == 1
    assert holders(h, other.tenant_id) == 1


def test_a_failed_lock_holder_releases_the_lock(h: Harness) -> None:
    first = h.start(locked_plan(h, "first", "a"))
    second = h.start(locked_plan(h, "second", "b"), at(1))
    h.claim(at(1))
    h.finish(h.job(first, "a"), at(2), ok=False)
    assert holders(h) == 0
    assert h.claim_names(at(2)) == ["b"]
    assert h.job(second, "b").status == "RUNNING"


def test_holding_a_lock_queued_job_and_releasing_it_queues_it_again(h: Harness) -> None:
    first = h.start(locked_plan(h, "first", "a"))
    second = h.start(locked_plan(h, "second", "b"), at(1))
    h.claim(at(1))
    held = h.act(second, "b", "hold", at(2))
    assert (held.status, held.queued_at) == ("ON_HOLD", None)
    released = h.act(second, "b", "release", at(3))
    assert (released.status, released.wake_at) == ("WAITING", at(3))
    assert h.claim_names(at(3)) == []
    assert h.job(second, "b").status == "LOCK_QUEUED"
    h.finish(h.job(first, "a"), at(4))
    assert h.claim_names(at(4)) == ["b"]


def test_stopping_a_plan_run_with_a_lock_queued_job_frees_nobody_elses_lock(h: Harness) -> None:
    first = h.start(locked_plan(h, "first", "a"))
    second = h.start(locked_plan(h, "second", "b"), at(1))
    h.claim(at(1))
    h.stop(second, at(2))
    assert holders(h) == 1
    h.finish(h.job(first, "a"), at(3))
    assert h.claim(at(3)) == [], "the stopped run's job must not start"
    assert h.job(second, "b").status != "RUNNING"


def test_two_nodes_claiming_at_once_respect_the_lock_count(h: Harness) -> None:
    # PostgreSQL serialises the lock's takers; on SQLite the second writer waits for the first
    first = h.start(locked_plan(h, "first", "a"))
    second = h.start(locked_plan(h, "second", "b"))
    engine = h.database.engine
    errors: list[BaseException] = []

    def claim_on_the_second_node() -> None:
        try:
            with engine.connect() as two, two.begin():
                h.state.claim(two, node_id="n2", now=at(1), limit=1)
        except BaseException as exc:
            errors.append(exc)

    with engine.connect() as one:
        with one.begin():
            h.state.claim(one, node_id="n1", now=at(1), limit=1)
            # the second node claims while the first node's transaction is still open; a
            # correct implementation may make it wait for the first to commit
            other = threading.Thread(target=claim_on_the_second_node)
            other.start()
            other.join(timeout=1.0)
        other.join(timeout=30)
    assert not other.is_alive()
    assert errors == []
    statuses = sorted([h.job(first, "a").status, h.job(second, "b").status])
    assert holders(h) == 1
    assert statuses == ["LOCK_QUEUED", "RUNNING"]
