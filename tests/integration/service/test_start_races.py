"""A manual start racing another start of the same plan on PostgreSQL (service/runs.py): the
start locks the plan's row before it reads the plan's open runs, as the scheduler's tick does
(its due-plan read locks them), so the overlap policy holds whichever start commits first.
Unlocked, both starts saw no open run and both opened one (SQLite's single writer serialises
them anyway, so these tests run on PostgreSQL only)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Connection, text

from jobplan.engine.state import OpenOutcome
from jobplan.store import Database
from jobplan.store.records import PlanRecord
from support.api import wait_for
from support.engine import Harness, cmd
from support.postgres import PostgresCluster

pytestmark = pytest.mark.postgres

BOUND = 30.0  # seconds: only catches a hang


@pytest.fixture
def h(postgres_cluster: PostgresCluster) -> Iterator[Harness]:
    name = f"r_{uuid.uuid4().hex[:16]}"
    postgres_cluster.execute(f"CREATE DATABASE {name} TEMPLATE jobplan_template")
    database = Database(postgres_cluster.url(name))
    try:
        yield Harness(database)
    finally:
        database.dispose()
        postgres_cluster.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def lock_waiters(database: Database) -> int:
    """How many sessions on this database wait for a lock held by another."""
    with database.read() as conn:
        waiting: int = conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        ).scalar_one()
    return waiting


def race(h: Harness, plan: PlanRecord, first: Callable[[Connection], object]) -> None:
    """Run ``first`` (which opens a run of ``plan``) in a transaction and, before it commits,
    a manual start of ``plan`` through the run service in another thread; commit ``first``
    once the manual start waits for a lock or has finished (unlocked, it finished at once,
    having seen no open run)."""
    done = threading.Event()
    errors: list[BaseException] = []

    def manual() -> None:
        try:
            h.runs.start(h.caller, plan.id)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            done.set()

    with h.database.transaction() as conn:
        first(conn)
        other = threading.Thread(target=manual)
        other.start()
        wait_for(
            lambda: done.is_set() or lock_waiters(h.database) > 0,
            BOUND,
            "the manual start to finish or wait for the plan's lock",
        )
    other.join(BOUND)
    assert not errors, errors


# policy -> the statuses of the plan's runs once both starts committed
EXPECTED = {
    "skip": ["RUNNING"],
    "buffer_one": ["QUEUED", "RUNNING"],
    "cancel_other": ["ENDED", "RUNNING"],
}


@pytest.mark.parametrize("policy", sorted(EXPECTED))
def test_a_manual_start_racing_the_scheduler_obeys_the_overlap_policy(
    h: Harness, policy: str
) -> None:
    plan = h.plan(jobs=[cmd("a")], window={"cron": "* * * * * ?"}, policies={"overlap": policy})
    now = datetime.now(UTC).replace(microsecond=0)  # a fire time of the window: one fire
    h.set_next_fire(plan, now)
    fired: list[OpenOutcome] = []
    # the tick's due-plan read locks the plan's row (SKIP LOCKED) until the tick commits
    race(h, plan, lambda conn: fired.extend(h.scheduler.tick(conn, now)))
    assert [o.outcome for o in fired] == ["started"]
    assert sorted(r.status for r in h.runs_of(plan)) == EXPECTED[policy]


@pytest.mark.parametrize("policy", sorted(EXPECTED))
def test_two_manual_starts_at_once_obey_the_overlap_policy(h: Harness, policy: str) -> None:
    plan = h.plan(jobs=[cmd("a")], policies={"overlap": policy})
    held = threading.Event()

    def first(conn: Connection) -> None:
        # a manual start's own steps, in the transaction ``race`` holds open
        locked = h.plans.resolve(conn, h.caller, plan.id, for_update=True)
        opened = h.state.open_plan_run(
            conn, locked, trigger="manual", created_by="tester", now=datetime.now(UTC)
        )
        assert opened.outcome == "started"
        held.set()

    race(h, plan, first)
    assert held.is_set()
    assert sorted(r.status for r in h.runs_of(plan)) == EXPECTED[policy]


def test_a_manual_start_by_bare_name_locks_the_plan_too(h: Harness) -> None:
    # a bare name ("p" for ops/p) is found by a search, not by the keyed read that locks
    plan = h.plan(jobs=[cmd("a")], folder="ops", policies={"overlap": "skip"})
    seen: list[Any] = []

    def first(conn: Connection) -> None:
        locked = h.plans.resolve(conn, h.caller, "p", for_update=True)
        seen.append(locked.id)
        h.state.open_plan_run(
            conn, locked, trigger="manual", created_by="tester", now=datetime.now(UTC)
        )

    race(h, plan, first)
    assert seen == [plan.id]
    assert [r.status for r in h.runs_of(plan)] == ["RUNNING"]
