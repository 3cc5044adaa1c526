"""Counts that are facts of the database, read when metrics are scraped: every node of a
cluster reads the same values. Each is one indexed query."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, select

from jobplan.store.tables import notifications, plan_runs, plans

__all__ = ["due_plans", "open_runs_by_status", "pending_notifications"]


def open_runs_by_status(conn: Connection) -> dict[str, int]:
    """Plan runs not ended (QUEUED, RUNNING, or ERROR waiting for an operator), by status."""
    rows = conn.execute(
        select(plan_runs.c.status, func.count())
        .where(plan_runs.c.ended_at.is_(None))
        .group_by(plan_runs.c.status)
    )
    return {row[0]: int(row[1]) for row in rows}


def due_plans(conn: Connection, now: datetime) -> int:
    """Enabled plans whose window's next fire time has come and not yet been fired."""
    query = select(func.count()).where(plans.c.next_fire_time <= now, plans.c.enabled.is_(True))
    return int(conn.execute(query).scalar_one())


def pending_notifications(conn: Connection) -> int:
    """Notifications not yet sent and not given up (due now or waiting for a retry)."""
    query = select(func.count()).where(notifications.c.status == "pending")
    return int(conn.execute(query).scalar_one())
