"""Two engines (two nodes) on one PostgreSQL database, running at once for a few seconds:
they share the due plans and the due job runs (SKIP LOCKED leases), and no fire is doubled
or lost, and no job run is executed twice."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, select, text

from jobplan.engine.engine import Engine
from jobplan.engine.executors import CommandExecutor
from jobplan.engine.executors.base import ExecutionResult
from jobplan.engine.state import OpenOutcome
from jobplan.model import PlanDocument
from jobplan.settings import Settings
from jobplan.store import Database
from jobplan.store import notifications as outbox
from jobplan.store import runs as run_store
from jobplan.store.tables import job_runs, plan_runs
from jobplan.store.tables import plans as plans_table
from support.api import wait_for
from support.engine import Harness, at, cmd
from support.postgres import PostgresCluster

pytestmark = pytest.mark.postgres

GATED = 400  # plans whose only job is a time gate: the scheduler's work
COMMANDS = 12  # plans with a real command job: the dispatcher's work too


@pytest.fixture
def pg(postgres_cluster: PostgresCluster) -> Iterator[str]:
    name = f"n_{uuid.uuid4().hex[:16]}"
    postgres_cluster.execute(f"CREATE DATABASE {name} TEMPLATE jobplan_template")
    try:
        yield postgres_cluster.url(name)
    finally:
        postgres_cluster.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def seed(url: str) -> Harness:
    database = Database(url)
    h = Harness(database)
    for index in range(GATED + COMMANDS):
        jobs = (
            [  # two jobs in parallel: nodes may finish them at the same moment
                {"name": "work", "kind": "command", "command": "true"},
                {"name": "more", "kind": "command", "command": "true"},
            ]
            if index < COMMANDS
            else [{"name": "gate", "kind": "time", "cron": "* * * * * ?"}]
        )
        document = PlanDocument.model_validate(
            {
                "name": f"p{index}",
                "window": {"cron": "* * * * * ?"},
                "policies": {"overlap": "allow", "misfire": "skip"},
                "jobs": jobs,
            }
        )
        h.plans.apply(h.caller, document)
    return h


FIRES = 3  # the nodes run until every plan fired this many times
BOUND = 90.0  # seconds: bounds the wait (the scheduler keeps up in about FIRES seconds)


def fired_enough(database: Database) -> bool:
    """Every seeded plan has fired ``FIRES`` times or more."""
    with database.read() as conn:
        counts = conn.execute(
            select(plan_runs.c.plan_id, func.count()).group_by(plan_runs.c.plan_id)
        ).all()
    return len(counts) == GATED + COMMANDS and min(n for _, n in counts) >= FIRES


async def run_nodes(url: str, home: Path, executed: list[str]) -> list[Counter[str]]:
    """Run two engines over ``url`` until every plan fired ``FIRES`` times (at most
    ``BOUND`` seconds: waiting for the fires rather than for a fixed time keeps the test
    meaningful on a loaded machine); returns, per node, how many runs its scheduler opened;
    the id of every job run either node executed is added to ``executed``."""
    counts: list[Counter[str]] = [Counter(), Counter()]
    engines = []
    for index in range(2):
        settings = Settings(home=home / f"node{index}", node_name=f"node{index}")
        engine = Engine(settings, Database(url), {"command": CommandExecutor()})
        tick = engine.scheduler.tick

        def counting_tick(
            conn: Connection, now: datetime, tick=tick, tally=counts[index]
        ) -> list[OpenOutcome]:
            outcomes = tick(conn, now)
            tally["opened"] += sum(1 for o in outcomes if o.run is not None)
            return outcomes

        engine.scheduler.tick = counting_tick  # type: ignore[method-assign]
        start = engine._start_execution

        def counting_start(ticket, start=start) -> None:  # type: ignore[no-untyped-def]
            executed.append(ticket.job_run.id)
            start(ticket)

        engine._start_execution = counting_start  # type: ignore[method-assign]
        engines.append(engine)
    watcher = Database(url)
    try:
        async with engines[0], engines[1]:
            await asyncio.to_thread(
                wait_for, lambda: fired_enough(watcher), BOUND, f"every plan to fire {FIRES} times"
            )
    finally:
        watcher.dispose()
    for engine in engines:
        engine.database.dispose()
    return counts


def test_two_nodes_share_the_work_without_doubling_or_losing_any(pg: str, tmp_path: Path) -> None:
    seeded_from = datetime.now(UTC)
    h = seed(pg)
    executed: list[str] = []
    counts = asyncio.run(run_nodes(pg, tmp_path, executed))
    stopped = datetime.now(UTC)

    with h.database.read() as conn:
        runs = conn.execute(select(plan_runs.c.id, plan_runs.c.plan_id, plan_runs.c.scheduled_for))
        fires: dict[str, list[datetime]] = {}
        for row in runs:
            fires.setdefault(row.plan_id, []).append(row.scheduled_for)
        job_rows = list(
            conn.execute(
                select(
                    job_runs.c.id,
                    job_runs.c.plan_run_id,
                    job_runs.c.kind,
                    job_runs.c.attempt,
                    job_runs.c.status,
                )
            )
        )
        run_status = dict(conn.execute(select(plan_runs.c.id, plan_runs.c.status)).all())
    h.database.dispose()

    assert len(fires) == GATED + COMMANDS, "every plan fired"
    for plan_id, moments in fires.items():
        assert len(moments) == len(set(moments)), f"plan {plan_id} fired a second twice"
        ordered = sorted(moments)
        # every second between the first and the last fire is there: nothing was lost
        expected = [ordered[0] + timedelta(seconds=i) for i in range(len(ordered))]
        assert ordered == expected, f"plan {plan_id} lost fires: {ordered}"
        assert seeded_from <= ordered[0] and ordered[-1] <= stopped
    assert all(len(m) >= FIRES for m in fires.values()), f"each plan fired {FIRES}+ times"

    opened = sum(c["opened"] for c in counts)
    assert opened == sum(len(m) for m in fires.values()), "each run opened by one node only"
    assert all(r.attempt <= 1 for r in job_rows), "no job run was started twice"
    assert len(executed) == len(set(executed)), "no job run executed by both nodes"
    commands = {r.id: r for r in job_rows if r.kind == "command"}
    completed = {job_id for job_id, r in commands.items() if r.status == "COMPLETE"}
    # a claim committed as the engines stopped may leave a started job unexecuted (it is
    # then recovered as interrupted), but every completed one was executed, once
    assert completed and completed <= set(executed) <= set(commands)
    done: dict[str, bool] = {}
    for row in job_rows:
        done[row.plan_run_id] = done.get(row.plan_run_id, True) and row.status == "COMPLETE"
    stuck = [
        run_id for run_id, all_done in done.items() if all_done and run_status[run_id] != "COMPLETE"
    ]
    assert stuck == [], "runs whose jobs all completed must be complete"


def test_a_tick_in_progress_hides_its_due_plans_from_other_nodes(pg: str) -> None:
    """While one node's tick holds due plans (its transaction is open), another node's tick
    skips them instead of firing them again or waiting; once it commits they are not due."""
    h = Harness(Database(pg))
    for index in range(3):
        h.plan(
            f"w{index}",
            jobs=[{"name": "g", "kind": "time", "cron": "* * * * * ?"}],
            window={"cron": "0 * * * * ?"},
            policies={"overlap": "allow"},
        )
    moment = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
    with h.database.transaction() as conn:
        conn.execute(plans_table.update().values(next_fire_time=moment))
    later = moment + timedelta(seconds=1)
    with h.database.transaction() as first:
        opened = h.scheduler.tick(first, later)
        assert len(opened) == 3
        with h.database.transaction() as second:
            assert h.scheduler.tick(second, later) == [], "skipped, not fired twice"
    with h.database.transaction() as third:
        assert h.scheduler.tick(third, later) == [], "advanced: no longer due"
    with h.database.read() as conn:
        assert len(list(conn.execute(select(plan_runs.c.id)))) == 3
    h.database.dispose()


def test_two_control_loops_end_a_run_past_its_ttl_once(pg: str) -> None:
    """TTL and overdue passes of two nodes do not both act on one run (SKIP LOCKED): one
    ending, one failure message, one statistics count."""
    h = Harness(Database(pg))
    plan = h.plan(
        jobs=[cmd("a")],
        window={"cron": "0 0 0 1 1 ? 2099", "ttl_seconds": 60},
        notifications={
            "on_failure": ["https://hooks.example.com/x"],
            "on_overdue": ["https://hooks.example.com/y"],
            "overdue_after_seconds": 30,
        },
    )
    run = h.start(plan)
    with h.database.transaction() as first:
        assert h.state.notify_overdue(first, at(31)) == 1
        assert h.state.expire_deadlines(first, at(61)) == 1
        with h.database.transaction() as second:
            assert h.state.notify_overdue(second, at(31)) == 0
            assert h.state.expire_deadlines(second, at(61)) == 0
    with h.database.transaction() as third:
        assert h.state.expire_deadlines(third, at(62)) == 0
        assert h.state.notify_overdue(third, at(62)) == 0
        told, _ = outbox.list_for_tenant(third, h.tenant_id)
        stats = run_store.get_stats(third, h.tenant_id, plan.id)
    assert sorted(m.event for m in told) == ["run_failed", "run_overdue"]
    assert stats is not None and stats.total == 1
    assert h.status(run) == "ENDED"
    h.database.dispose()


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


def test_two_nodes_finishing_a_runs_last_two_jobs_at_once_complete_it(pg: str) -> None:
    """Each finish locks the run: the second waits for the first to commit and then sees its
    job complete (unlocked, each saw the other job still running and the run never ended)."""
    h = Harness(Database(pg))
    run = h.start(h.plan(jobs=[cmd("a"), cmd("b")]))
    tickets = {t.job_run.job_name: t for t in h.claim(at(1), node="n1")}
    ok = ExecutionResult(succeeded=True, reason=None)
    errors: list[BaseException] = []
    calling = threading.Event()

    def finish_b() -> None:
        try:
            with h.database.transaction() as conn:
                calling.set()
                h.state.finish(conn, tickets["b"].job_run.id, "n1", ok, at(3))
        except BaseException as exc:  # reported below
            errors.append(exc)

    with h.database.transaction() as conn:
        assert h.state.finish(conn, tickets["a"].job_run.id, "n1", ok, at(2))
        other = threading.Thread(target=finish_b)
        other.start()
        calling.wait(10)
        # it reaches the run's lock and waits there (without the lock it would finish now)
        wait_for(lambda: lock_waiters(h.database), 30, "the second finish to wait for the lock")
    other.join(30)
    assert not errors, errors
    assert h.statuses(run) == {"a": "COMPLETE", "b": "COMPLETE"}
    assert h.status(run) == "COMPLETE"
    h.database.dispose()
