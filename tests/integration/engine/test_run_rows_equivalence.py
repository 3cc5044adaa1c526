"""The scheduler's fast store paths (raw SQL on SQLite, COPY and array updates on PostgreSQL)
write and read exactly what the plain SQLAlchemy paths do: each is run against the plain one
on the same input, on every database kind, and the rows read back compared."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Connection, delete, select, update

from jobplan.store import Database
from jobplan.store import runs as store
from jobplan.store.records import JobRunRecord, PlanRecord, PlanRunRecord
from jobplan.store.tables import job_runs, plan_runs, plan_stats, plans
from support.engine import T0, Harness, at, cmd

#: an aware instant in another zone than UTC: stored and read back as the same instant
ELSEWHERE = at(3).astimezone(timezone(timedelta(hours=-5, minutes=-30)))


@pytest.fixture
def h(database: Database) -> Harness:
    return Harness(database)


def _runs(plan: PlanRecord) -> tuple[list[PlanRunRecord], list[JobRunRecord]]:
    """Runs and job runs whose fields take every kind of value: None and set, empty and
    non-empty JSON, booleans both ways, text that needs quoting in COPY."""
    ids = iter(store.new_run_ids(8))
    assert plan.current_version_id is not None
    base = PlanRunRecord(
        id="",
        tenant_id=plan.tenant_id,
        plan_id=plan.id,
        plan_path=plan.path,
        plan_version_id=plan.current_version_id,
        version="1.0.0",
        status="COMPLETE",
        trigger="schedule",
        scheduled_for=T0,
        created_at=at(1),
        started_at=at(1),
        ended_at=at(2),
        deadline_at=None,
        purge_after=at(30 * 86400.0),
        parameters={},
        history="FULL",
        reason=None,
        created_by="scheduler",
    )
    runs = [
        replace(base, id=next(ids)),
        replace(
            base,
            id=next(ids),
            status="RUNNING",
            trigger="manual",
            scheduled_for=None,
            ended_at=None,
            purge_after=None,
            deadline_at=ELSEWHERE,
            overdue_at=at(60),
            parameters={"day": "2030-01-07", "quote": 'it\'s "x"\t\\ \n ünï'},
            reason="a\\b\tc\nd",
        ),
    ]
    job = JobRunRecord(
        id="",
        tenant_id=plan.tenant_id,
        plan_run_id=runs[0].id,
        job_name="a",
        kind="time",
        status="COMPLETE",
        attempt=1,
        retries=0,
        wake_at=None,
        owner_node=None,
        lease_until=None,
        stop_requested=False,
        created_at=at(1),
        queued_at=at(1),
        started_at=T0,
        ended_at=at(1),
        exit_code=None,
        http_status=None,
        pid=None,
        reason=None,
        flags=[],
        acknowledged=False,
    )
    jobs = [
        replace(job, id=next(ids)),
        replace(
            job,
            id=next(ids),
            plan_run_id=runs[1].id,
            job_name="b",
            kind="command",
            status="RUNNING",
            wake_at=ELSEWHERE,
            owner_node="node-1",
            lease_until=at(30),
            stop_requested=True,
            exit_code=3,
            http_status=503,
            pid=4242,
            reason="exit code 3",
            flags=["overdue", "ünï"],
            acknowledged=True,
        ),
    ]
    return runs, jobs


def _stored(conn: Connection) -> tuple[list[Any], list[Any]]:
    runs = conn.execute(select(plan_runs).order_by(plan_runs.c.id)).all()
    jobs = conn.execute(select(job_runs).order_by(job_runs.c.id)).all()
    return [tuple(r) for r in runs], [tuple(r) for r in jobs]


def test_bulk_inserts_store_what_sqlalchemy_stores(h: Harness) -> None:
    plan = h.plan("p", jobs=[cmd("a")])
    runs, jobs = _runs(plan)

    def write(fast: bool) -> tuple[list[Any], list[Any]]:
        def work(conn: Connection) -> tuple[list[Any], list[Any]]:
            store._bulk_insert(conn, plan_runs, runs, fast=fast)
            store._bulk_insert(conn, job_runs, jobs, fast=fast)
            return _stored(conn)

        stored = h.tx(work)
        h.tx(lambda c: (c.execute(delete(job_runs)), c.execute(delete(plan_runs))))
        return stored

    fast, plain = write(True), write(False)
    assert fast == plain
    assert len(fast[0]) == 2 and len(fast[1]) == 2
    # and the values are the records' own (the plain path is right to begin with)
    read_runs = {r[0]: r for r in fast[0]}
    assert read_runs[runs[1].id][plan_runs.c.keys().index("deadline_at")] == ELSEWHERE
    assert read_runs[runs[1].id][plan_runs.c.keys().index("parameters")] == runs[1].parameters


def test_due_plans_reads_what_sqlalchemy_reads(h: Harness) -> None:
    made = [h.plan(f"p{i}", jobs=[cmd("a")]) for i in range(4)]
    h.set_next_fire(made[0], T0)
    h.set_next_fire(made[1], ELSEWHERE)
    h.set_next_fire(made[2], at(3600))  # not due yet
    h.tx(
        lambda c: c.execute(
            update(plans)
            .where(plans.c.id == made[1].id)
            .values(disabled_jobs=["a"], last_fire_time=at(-60))
        )
    )
    h.set_next_fire(made[3], at(1))
    h.tx(lambda c: c.execute(update(plans).where(plans.c.id == made[3].id).values(enabled=False)))
    now = at(10)
    fast = h.tx(lambda c: store.due_plans(c, now, 100))
    plain = h.tx(lambda c: store.due_plans(c, now, 100, fast=False))
    assert fast == plain
    assert [p.id for p in fast] == [made[0].id, made[1].id]
    assert fast[1].disabled_jobs == ["a"] and fast[1].next_fire_time == ELSEWHERE
    assert all(p.next_fire_time and p.next_fire_time.utcoffset() == timedelta(0) for p in fast)
    assert h.tx(lambda c: store.due_plans(c, now, 1)) == plain[:1], "the limit holds"


def test_set_next_fires_writes_what_sqlalchemy_writes(h: Harness) -> None:
    made = [h.plan(f"p{i}", jobs=[cmd("a")]) for i in range(3)]
    schedule = [(made[0].id, at(60), T0), (made[1].id, None, ELSEWHERE), (made[2].id, at(5), None)]

    def write(fast: bool) -> list[Any]:
        for plan in made:
            h.tx(
                lambda c, plan=plan: c.execute(
                    update(plans)
                    .where(plans.c.id == plan.id)
                    .values(next_fire_time=T0, last_fire_time=at(-1))
                )
            )
        h.tx(lambda c: store.set_next_fires(c, schedule, fast=fast))
        return h.tx(
            lambda c: [
                tuple(r)
                for r in c.execute(
                    select(plans.c.id, plans.c.next_fire_time, plans.c.last_fire_time).order_by(
                        plans.c.id
                    )
                )
            ]
        )

    fast, plain = write(True), write(False)
    assert fast == plain
    assert {r[0]: r[1:] for r in fast}[made[2].id] == (at(5), at(-1)), "no last fire: kept"


def test_record_plan_ends_counts_what_sqlalchemy_counts(h: Harness) -> None:
    made = [h.plan(f"p{i}", jobs=[cmd("a")]) for i in range(3)]
    tenant = made[0].tenant_id
    ends = [
        (tenant, made[0].id, "COMPLETE", 1.5, at(1)),
        (tenant, made[0].id, "ERROR", 2.0, at(2)),
        (tenant, made[1].id, "ENDED", 0.0, ELSEWHERE),
        (tenant, made[2].id, "COMPLETE", 0.25, at(4)),
    ]

    def write(fast: bool) -> list[Any]:
        h.tx(lambda c: c.execute(delete(plan_stats)))
        # one plan already has statistics: counted on top of them
        h.tx(lambda c: store.record_plan_ends(c, [(tenant, made[2].id, "ERROR", 7.0, T0)]))
        h.tx(lambda c: store.record_plan_ends(c, ends, fast=fast))
        return h.tx(
            lambda c: [
                tuple(r) for r in c.execute(select(plan_stats).order_by(plan_stats.c.plan_id))
            ]
        )

    fast, plain = write(True), write(False)
    assert fast == plain and len(fast) == 3
    by_plan = {r[0]: r for r in fast}
    stats = h.tx(lambda c: store.get_stats(c, tenant, made[2].id))
    assert stats is not None and (stats.total, stats.failed, stats.succeeded) == (2, 1, 1)
    assert by_plan[made[1].id] is not None
