"""The audit log's rows: appended by the service layer, listed, exported and pruned."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, or_, select, update

from jobplan.store._util import as_values
from jobplan.store.records import AuditRecord
from jobplan.store.tables import audit_records

__all__ = ["AuditFilter", "batch_after", "insert", "list_records", "purge", "set_status"]


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which records to read: all given conditions hold (``None`` means any)."""

    tenant_id: str | None
    include_tenantless: bool = False
    actor: str | None = None
    action: str | None = None
    target_type: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    outcome: str | None = None
    request_id: str | None = None


def insert(conn: Connection, record: AuditRecord) -> None:
    conn.execute(audit_records.insert().values(**as_values(record)))


def _where(query: Any, where: AuditFilter) -> Any:
    c = audit_records.c
    if where.include_tenantless:
        query = query.where(or_(c.tenant_id == where.tenant_id, c.tenant_id.is_(None)))
    else:
        query = query.where(c.tenant_id == where.tenant_id)
    if where.actor is not None:
        query = query.where(or_(c.actor_id == where.actor, c.actor_name == where.actor))
    if where.action is not None:
        if where.action.endswith("."):  # a family: "plan." matches plan.apply, plan.delete...
            query = query.where(c.action.startswith(where.action, autoescape=True))
        else:
            query = query.where(c.action == where.action)
    if where.target_type is not None:
        query = query.where(c.target_type == where.target_type)
    if where.target is not None:
        query = query.where(or_(c.target_id == where.target, c.target_path == where.target))
    if where.since is not None:
        query = query.where(c.time >= where.since)
    if where.until is not None:
        query = query.where(c.time < where.until)
    if where.outcome is not None:
        query = query.where(c.outcome == where.outcome)
    if where.request_id is not None:
        query = query.where(c.request_id == where.request_id)
    return query


def _record(row: Any) -> AuditRecord:
    return AuditRecord(**row._mapping)


def list_records(
    conn: Connection, where: AuditFilter, limit: int, offset: int
) -> tuple[list[AuditRecord], int]:
    """One page, newest first, and how many records match in all."""
    c = audit_records.c
    total = conn.execute(_where(select(func.count()).select_from(audit_records), where)).scalar()
    query = _where(select(audit_records), where).order_by(c.time.desc(), c.id.desc())
    rows = conn.execute(query.limit(limit).offset(offset))
    return [_record(row) for row in rows], int(total or 0)


def batch_after(
    conn: Connection, where: AuditFilter, after: tuple[datetime, str] | None, limit: int
) -> list[AuditRecord]:
    """Up to ``limit`` matching records after the (time, id) ``after``, oldest first: keyset
    paging, so an export of millions of records neither holds them all nor slows down."""
    c = audit_records.c
    query = _where(select(audit_records), where).order_by(c.time, c.id).limit(limit)
    if after is not None:
        query = query.where(or_(c.time > after[0], (c.time == after[0]) & (c.id > after[1])))
    return [_record(row) for row in conn.execute(query)]


def purge(conn: Connection, before: datetime, limit: int = 500) -> int:
    """Delete up to ``limit`` records older than ``before`` (oldest first)."""
    ids = [
        row.id
        for row in conn.execute(
            select(audit_records.c.id)
            .where(audit_records.c.time < before)
            .order_by(audit_records.c.time)
            .limit(limit)
        )
    ]
    if ids:
        conn.execute(delete(audit_records).where(audit_records.c.id.in_(ids)))
    return len(ids)


def set_status(conn: Connection, ids: list[str], status: int) -> None:
    """Correct the HTTP status of records written before the response was rendered."""
    conn.execute(update(audit_records).where(audit_records.c.id.in_(ids)).values(status=status))
