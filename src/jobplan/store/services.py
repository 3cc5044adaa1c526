"""The per-tenant service registry (service name -> base URL) and the Volt MX job numbers.

Both serve the Volt MX dialect: a Volt MX job names a service, resolved through the registry
when it runs, and is known to Volt MX clients by a small integer that stays the same across
updates (``voltmx_jobs`` maps it to a plan).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, select, update

from jobplan.store._util import as_values, mapped, new_id, unique_violation_as, utcnow
from jobplan.store.tables import service_registry, tenants, voltmx_jobs

__all__ = [
    "ServiceRecord",
    "VoltMxJobRecord",
    "assign_job_number",
    "delete_service",
    "get_service",
    "insert_service",
    "list_services",
    "plan_of_job",
    "service_base_url",
    "update_service",
    "voltmx_jobs_of",
]


@dataclass(frozen=True, slots=True)
class ServiceRecord:
    id: str
    tenant_id: str
    name: str
    base_url: str
    description: str
    created_by: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class VoltMxJobRecord:
    """A Volt MX job number and its plan (``None`` once the plan was deleted)."""

    tenant_id: str
    job_id: int
    plan_id: str | None
    created_at: datetime


# --- service registry ------------------------------------------------------------------------


def insert_service(
    conn: Connection, tenant_id: str, name: str, base_url: str, description: str, created_by: str
) -> ServiceRecord:
    now = utcnow()
    record = ServiceRecord(new_id(), tenant_id, name, base_url, description, created_by, now, now)
    with unique_violation_as("service", name):
        conn.execute(service_registry.insert().values(**as_values(record)))
    return record


def update_service(
    conn: Connection, tenant_id: str, name: str, base_url: str, description: str
) -> ServiceRecord | None:
    conn.execute(
        update(service_registry)
        .where(service_registry.c.tenant_id == tenant_id, service_registry.c.name == name)
        .values(base_url=base_url, description=description, updated_at=utcnow())
    )
    return get_service(conn, tenant_id, name)


def get_service(conn: Connection, tenant_id: str, name: str) -> ServiceRecord | None:
    row = conn.execute(
        select(service_registry).where(
            service_registry.c.tenant_id == tenant_id, service_registry.c.name == name
        )
    ).first()
    return mapped(ServiceRecord, row)


def service_base_url(conn: Connection, tenant_id: str, name: str) -> str | None:
    url: str | None = conn.execute(
        select(service_registry.c.base_url).where(
            service_registry.c.tenant_id == tenant_id, service_registry.c.name == name
        )
    ).scalar()
    return url


def list_services(
    conn: Connection, tenant_id: str, limit: int, offset: int
) -> tuple[list[ServiceRecord], int]:
    condition = service_registry.c.tenant_id == tenant_id
    rows = conn.execute(
        select(service_registry)
        .where(condition)
        .order_by(service_registry.c.name)
        .limit(limit)
        .offset(offset)
    )
    total = conn.execute(
        select(func.count()).select_from(service_registry).where(condition)
    ).scalar_one()
    return [ServiceRecord(**r._mapping) for r in rows], total


def delete_service(conn: Connection, tenant_id: str, name: str) -> bool:
    result = conn.execute(
        delete(service_registry).where(
            service_registry.c.tenant_id == tenant_id, service_registry.c.name == name
        )
    )
    return bool(result.rowcount)


# --- Volt MX job numbers ---------------------------------------------------------------------


def assign_job_number(conn: Connection, tenant_id: str, plan_id: str) -> int:
    """Give ``plan_id`` the tenant's next Volt MX job number (numbers are never reused)."""
    # serialise numbering per tenant (PostgreSQL; SQLite writers are serialised already)
    conn.execute(select(tenants.c.id).where(tenants.c.id == tenant_id).with_for_update())
    highest = conn.execute(
        select(func.max(voltmx_jobs.c.job_id)).where(voltmx_jobs.c.tenant_id == tenant_id)
    ).scalar()
    number = (highest or 0) + 1
    conn.execute(
        voltmx_jobs.insert().values(
            tenant_id=tenant_id, job_id=number, plan_id=plan_id, created_at=utcnow()
        )
    )
    return number


def plan_of_job(conn: Connection, tenant_id: str, job_id: int) -> str | None:
    """The plan behind Volt MX job ``job_id``, or None (unknown or deleted)."""
    plan_id: str | None = conn.execute(
        select(voltmx_jobs.c.plan_id).where(
            voltmx_jobs.c.tenant_id == tenant_id, voltmx_jobs.c.job_id == job_id
        )
    ).scalar()
    return plan_id


def voltmx_jobs_of(conn: Connection, tenant_id: str) -> list[VoltMxJobRecord]:
    """The tenant's live Volt MX jobs (their plans exist), by number."""
    rows = conn.execute(
        select(voltmx_jobs)
        .where(voltmx_jobs.c.tenant_id == tenant_id, voltmx_jobs.c.plan_id.is_not(None))
        .order_by(voltmx_jobs.c.job_id)
    )
    return [VoltMxJobRecord(**r._mapping) for r in rows]
