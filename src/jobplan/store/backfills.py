"""Backfills: a plan's past fire times opened as runs a few at a time, and their runs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, func, select, update

from jobplan.store._util import as_values, mapped
from jobplan.store.records import BackfillRecord
from jobplan.store.tables import backfill_runs, backfills, plan_runs

__all__ = [
    "BackfillCounts",
    "backfill_of_run",
    "counts_of",
    "get_backfill",
    "insert_backfill",
    "insert_backfill_runs",
    "list_backfills",
    "running_backfills",
    "update_backfill",
]

#: (opened runs still open, ended runs, ended runs that did not complete)
BackfillCounts = tuple[int, int, int]


def _locking(conn: Connection, query: Any, *, skip_locked: bool = False) -> Any:
    # SQLite has one writer at a time: nothing to lock
    if conn.dialect.name == "postgresql":
        return query.with_for_update(skip_locked=skip_locked)
    return query


def insert_backfill(conn: Connection, record: BackfillRecord) -> None:
    conn.execute(backfills.insert().values(**as_values(record)))


def get_backfill(
    conn: Connection, backfill_id: str, tenant_id: str | None = None, *, lock: bool = False
) -> BackfillRecord | None:
    """A backfill (of ``tenant_id`` when given); with ``lock`` its row is locked for the
    transaction (PostgreSQL), so two nodes advance it one after the other."""
    query = select(backfills).where(backfills.c.id == backfill_id)
    if tenant_id is not None:
        query = query.where(backfills.c.tenant_id == tenant_id)
    if lock:
        query = _locking(conn, query)
    return mapped(BackfillRecord, conn.execute(query).first())


def running_backfills(conn: Connection, limit: int) -> list[str]:
    """Ids of running backfills not locked by another transaction (the engine's sweep)."""
    query = (
        select(backfills.c.id)
        .where(backfills.c.state == "running")
        .order_by(backfills.c.created_at)
        .limit(limit)
    )
    return [row[0] for row in conn.execute(_locking(conn, query, skip_locked=True))]


def list_backfills(
    conn: Connection,
    tenant_id: str,
    limit: int,
    offset: int,
    *,
    plan_id: str | None = None,
    state: str | None = None,
) -> tuple[list[BackfillRecord], int]:
    """A tenant's backfills, newest first."""
    condition = backfills.c.tenant_id == tenant_id
    if plan_id is not None:
        condition = condition & (backfills.c.plan_id == plan_id)
    if state is not None:
        condition = condition & (backfills.c.state == state)
    rows = conn.execute(
        select(backfills)
        .where(condition)
        .order_by(backfills.c.created_at.desc(), backfills.c.id)
        .limit(limit)
        .offset(offset)
    )
    total = conn.execute(select(func.count()).select_from(backfills).where(condition)).scalar_one()
    return [BackfillRecord(**r._mapping) for r in rows], total


def update_backfill(conn: Connection, backfill_id: str, **values: Any) -> None:
    conn.execute(update(backfills).where(backfills.c.id == backfill_id).values(**values))


def insert_backfill_runs(
    conn: Connection, backfill_id: str, runs: Sequence[tuple[str, datetime]]
) -> None:
    """Record the runs (id, fire time) a backfill opened."""
    if runs:
        conn.execute(
            backfill_runs.insert(),
            [
                {"plan_run_id": run_id, "backfill_id": backfill_id, "scheduled_for": fire}
                for run_id, fire in runs
            ],
        )


def backfill_of_run(conn: Connection, plan_run_id: str) -> str | None:
    """The backfill that opened a run, if one did."""
    row = conn.execute(
        select(backfill_runs.c.backfill_id).where(backfill_runs.c.plan_run_id == plan_run_id)
    ).first()
    return None if row is None else str(row[0])


def counts_of(conn: Connection, backfill_ids: Sequence[str]) -> dict[str, BackfillCounts]:
    """Per backfill: its runs still open, those ended, and those that ended without
    completing. A run no longer in the history (purged, or not kept by the plan's history
    strategy) counts as ended and completed."""
    is_open = plan_runs.c.id.is_not(None) & plan_runs.c.ended_at.is_(None)
    failed = plan_runs.c.ended_at.is_not(None) & (plan_runs.c.status != "COMPLETE")
    rows = conn.execute(
        select(
            backfill_runs.c.backfill_id,
            func.sum(case((is_open, 1), else_=0)),
            func.sum(case((is_open, 0), else_=1)),
            func.sum(case((failed, 1), else_=0)),
        )
        .select_from(
            backfill_runs.outerjoin(plan_runs, plan_runs.c.id == backfill_runs.c.plan_run_id)
        )
        .where(backfill_runs.c.backfill_id.in_(list(backfill_ids)))
        .group_by(backfill_runs.c.backfill_id)
    )
    counts = {row[0]: (int(row[1] or 0), int(row[2] or 0), int(row[3] or 0)) for row in rows}
    return {bid: counts.get(bid, (0, 0, 0)) for bid in backfill_ids}
