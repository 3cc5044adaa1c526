"""Calendars: a tenant's named sets of days, and which plans' windows name them."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import Connection, delete, select, update

from jobplan.model import CalendarDays
from jobplan.store._util import as_values, mapped, utcnow
from jobplan.store.records import CalendarRecord
from jobplan.store.tables import calendars, plan_versions, plans

__all__ = [
    "days_by_name",
    "delete_calendar",
    "get_calendar",
    "list_calendars",
    "plans_naming",
    "put_calendar",
]


def list_calendars(conn: Connection, tenant_id: str) -> list[CalendarRecord]:
    rows = conn.execute(
        select(calendars).where(calendars.c.tenant_id == tenant_id).order_by(calendars.c.name)
    )
    return [CalendarRecord(**row._mapping) for row in rows]


def get_calendar(conn: Connection, tenant_id: str, name: str) -> CalendarRecord | None:
    query = select(calendars).where(calendars.c.tenant_id == tenant_id, calendars.c.name == name)
    return mapped(CalendarRecord, conn.execute(query).first())


def put_calendar(
    conn: Connection, tenant_id: str, name: str, description: str, days: list[str]
) -> tuple[CalendarRecord, bool]:
    """Create or replace the tenant's calendar ``name``; ``(record, created)``."""
    now = utcnow()
    existing = get_calendar(conn, tenant_id, name)
    if existing is None:
        record = CalendarRecord(str(uuid.uuid4()), tenant_id, name, description, days, now, now)
        conn.execute(calendars.insert().values(**as_values(record)))
        return record, True
    conn.execute(
        update(calendars)
        .where(calendars.c.id == existing.id)
        .values(description=description, days=days, updated_at=now)
    )
    return CalendarRecord(
        existing.id, tenant_id, name, description, days, existing.created_at, now
    ), False


def delete_calendar(conn: Connection, tenant_id: str, name: str) -> bool:
    result = conn.execute(
        delete(calendars).where(calendars.c.tenant_id == tenant_id, calendars.c.name == name)
    )
    return result.rowcount > 0


def days_by_name(conn: Connection, tenant_id: str, names: Iterable[str]) -> dict[str, CalendarDays]:
    """The days of the tenant's calendars among ``names`` (missing names are left out)."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    rows = conn.execute(
        select(calendars.c.name, calendars.c.days).where(
            calendars.c.tenant_id == tenant_id, calendars.c.name.in_(wanted)
        )
    )
    return {row.name: CalendarDays.of(list(row.days)) for row in rows}


def plans_naming(conn: Connection, tenant_id: str, name: str) -> list[tuple[str, str, bool]]:
    """``(plan_id, folder/name path, enabled)`` of the tenant's plans whose current version's
    window names calendar ``name``, by path. Reads every current document of the tenant: a
    calendar changes rarely, and this keeps plan documents the only record of who uses one."""
    rows = conn.execute(
        select(plans.c.id, plans.c.folder, plans.c.name, plans.c.enabled, plan_versions.c.document)
        .join(plan_versions, plan_versions.c.id == plans.c.current_version_id)
        .where(plans.c.tenant_id == tenant_id)
    )
    found: list[tuple[str, str, bool]] = []
    for row in rows:
        window = (row.document or {}).get("window") or {}
        named = window.get("calendar")
        names = [named] if isinstance(named, str) else list(named or [])
        if name in names:
            path = f"{row.folder}/{row.name}" if row.folder else row.name
            found.append((row.id, path, bool(row.enabled)))
    return sorted(found, key=lambda item: item[1])
