"""The notification outbox: messages about runs, written in the transaction that decided them
and delivered afterwards (at least once) by the engine's notifier."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, or_, select, update

from jobplan.store._util import as_values, mapped
from jobplan.store.records import NotificationRecord
from jobplan.store.tables import notifications

__all__ = [
    "PENDING",
    "claim_due",
    "get",
    "has_due",
    "insert",
    "list_for_tenant",
    "mark_failed",
    "mark_retry",
    "mark_sent",
    "purge",
]

PENDING, SENT, FAILED = "pending", "sent", "failed"


def insert(conn: Connection, records: Sequence[NotificationRecord]) -> None:
    if records:
        conn.execute(notifications.insert(), [as_values(r) for r in records])


def _due(now: datetime) -> Any:
    return (
        (notifications.c.status == PENDING)
        & (notifications.c.next_attempt_at <= now)
        & or_(notifications.c.lease_until.is_(None), notifications.c.lease_until < now)
    )


def has_due(conn: Connection, now: datetime) -> bool:
    """Whether anything is waiting to be sent (a read: idle nodes take no write lock)."""
    query = select(notifications.c.id).where(_due(now)).limit(1)
    return conn.execute(query).first() is not None


def claim_due(
    conn: Connection, node_id: str, now: datetime, lease_until: datetime, limit: int
) -> list[NotificationRecord]:
    """Lease up to ``limit`` due messages to ``node_id`` (other nodes skip them: SKIP LOCKED
    on PostgreSQL; a node that dies lets its lease run out and another sends them)."""
    query = (
        select(notifications)
        .where(_due(now))
        .order_by(notifications.c.next_attempt_at)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = [NotificationRecord(**r._mapping) for r in conn.execute(query)]
    if rows:
        conn.execute(
            update(notifications)
            .where(notifications.c.id.in_([r.id for r in rows]))
            .values(owner_node=node_id, lease_until=lease_until)
        )
    return rows


def _release(conn: Connection, notification_id: str, node_id: str, **values: Any) -> None:
    """Record a delivery attempt's outcome and give up the lease, if ``node_id`` still holds
    it (a node whose lease ran out meanwhile must not overwrite the new owner's result)."""
    conn.execute(
        update(notifications)
        .where(
            notifications.c.id == notification_id,
            notifications.c.owner_node == node_id,
            notifications.c.status == PENDING,
        )
        .values(owner_node=None, lease_until=None, **values)
    )


def mark_sent(
    conn: Connection, notification_id: str, node_id: str, attempts: int, now: datetime
) -> None:
    _release(
        conn,
        notification_id,
        node_id,
        status=SENT,
        attempts=attempts,
        sent_at=now,
        next_attempt_at=None,
        last_error=None,
    )


def mark_retry(
    conn: Connection,
    notification_id: str,
    node_id: str,
    attempts: int,
    error: str,
    next_attempt_at: datetime,
) -> None:
    _release(
        conn,
        notification_id,
        node_id,
        attempts=attempts,
        last_error=error,
        next_attempt_at=next_attempt_at,
    )


def mark_failed(
    conn: Connection, notification_id: str, node_id: str, attempts: int, error: str
) -> None:
    _release(
        conn,
        notification_id,
        node_id,
        status=FAILED,
        attempts=attempts,
        last_error=error,
        next_attempt_at=None,
    )


def get(conn: Connection, tenant_id: str, notification_id: str) -> NotificationRecord | None:
    query = select(notifications).where(
        notifications.c.tenant_id == tenant_id, notifications.c.id == notification_id
    )
    return mapped(NotificationRecord, conn.execute(query).first())


def list_for_tenant(
    conn: Connection,
    tenant_id: str,
    *,
    status: str | None = None,
    plan_id: str | None = None,
    plan_run_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[NotificationRecord], int]:
    """The tenant's messages, newest first, with the total matching count."""
    condition = notifications.c.tenant_id == tenant_id
    if status is not None:
        condition = condition & (notifications.c.status == status)
    if plan_id is not None:
        condition = condition & (notifications.c.plan_id == plan_id)
    if plan_run_id is not None:
        condition = condition & (notifications.c.plan_run_id == plan_run_id)
    rows = conn.execute(
        select(notifications)
        .where(condition)
        .order_by(notifications.c.created_at.desc(), notifications.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    total = conn.execute(select(func.count()).select_from(notifications).where(condition))
    return [NotificationRecord(**r._mapping) for r in rows], int(total.scalar_one())


def purge(conn: Connection, before: datetime, limit: int = 500) -> int:
    """Delete sent and failed messages created before ``before``."""
    ids = [
        row.id
        for row in conn.execute(
            select(notifications.c.id)
            .where(notifications.c.created_at < before, notifications.c.status != PENDING)
            .order_by(notifications.c.created_at)  # walks the created_at index, oldest first
            .limit(limit)
        )
    ]
    if ids:
        conn.execute(delete(notifications).where(notifications.c.id.in_(ids)))
    return len(ids)
