"""Secrets: one row per tenant and name, the value sealed (see :mod:`.secret_box`).

Nothing here decrypts: callers hand sealed values in and get sealed values out; the
engine (:meth:`~jobplan.engine.state.RunState` at a job's start) and the service (when
setting) hold the key ring.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, delete, func, select, update

from jobplan.store._util import mapped, new_id
from jobplan.store.records import SecretRecord
from jobplan.store.secret_box import Sealed
from jobplan.store.tables import secrets

__all__ = [
    "all_secrets",
    "delete_secret",
    "get_secret",
    "key_ids_in_use",
    "list_secrets",
    "put_secret",
    "reseal",
    "tenants_sealed_with",
    "values_of",
]


def get_secret(conn: Connection, tenant_id: str, name: str) -> SecretRecord | None:
    row = conn.execute(
        select(secrets).where(secrets.c.tenant_id == tenant_id, secrets.c.name == name)
    ).first()
    return mapped(SecretRecord, row)


def values_of(conn: Connection, tenant_id: str, names: Iterable[str]) -> dict[str, SecretRecord]:
    """The tenant's secrets of these names (those that exist), by name."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    rows = conn.execute(
        select(secrets).where(secrets.c.tenant_id == tenant_id, secrets.c.name.in_(wanted))
    )
    return {row.name: SecretRecord(**row._mapping) for row in rows}


def put_secret(
    conn: Connection, tenant_id: str, name: str, sealed: Sealed, by: str, now: datetime
) -> tuple[SecretRecord, bool]:
    """Create or replace a secret; ``True`` when it was created. The row is locked while it is
    replaced (PostgreSQL), so two writers of one name serialise."""
    current = conn.execute(
        select(secrets.c.id)
        .where(secrets.c.tenant_id == tenant_id, secrets.c.name == name)
        .with_for_update()
    ).scalar()
    if current is None:
        conn.execute(
            secrets.insert().values(
                id=new_id(),
                tenant_id=tenant_id,
                name=name,
                key_id=sealed.key_id,
                sealed=sealed.data,
                created_at=now,
                created_by=by,
                updated_at=now,
                updated_by=by,
            )
        )
    else:
        conn.execute(
            update(secrets)
            .where(secrets.c.id == current)
            .values(key_id=sealed.key_id, sealed=sealed.data, updated_at=now, updated_by=by)
        )
    record = get_secret(conn, tenant_id, name)
    assert record is not None
    return record, current is None


def list_secrets(
    conn: Connection, tenant_id: str, limit: int, offset: int
) -> tuple[list[SecretRecord], int]:
    """A tenant's secrets by name."""
    condition = secrets.c.tenant_id == tenant_id
    rows = conn.execute(
        select(secrets).where(condition).order_by(secrets.c.name).limit(limit).offset(offset)
    )
    total = conn.execute(select(func.count()).select_from(secrets).where(condition)).scalar_one()
    return [SecretRecord(**r._mapping) for r in rows], total


def delete_secret(conn: Connection, secret_id: str) -> None:
    conn.execute(delete(secrets).where(secrets.c.id == secret_id))


def all_secrets(conn: Connection) -> list[SecretRecord]:
    """Every tenant's secrets, locked (for re-encryption under a new key)."""
    rows = conn.execute(select(secrets).order_by(secrets.c.id).with_for_update())
    return [SecretRecord(**r._mapping) for r in rows]


def key_ids_in_use(conn: Connection) -> dict[str, int]:
    """How many secrets (of every tenant) each key id seals: the key check a node makes at
    start (a key id names a key without revealing anything of it)."""
    rows = conn.execute(select(secrets.c.key_id, func.count()).group_by(secrets.c.key_id))
    return {key_id: count for key_id, count in rows}


def tenants_sealed_with(conn: Connection, key_id: str) -> dict[str, int]:
    """How many secrets of each tenant ``key_id`` seals (for the rotation's audit records)."""
    rows = conn.execute(
        select(secrets.c.tenant_id, func.count())
        .where(secrets.c.key_id == key_id)
        .group_by(secrets.c.tenant_id)
    )
    return {tenant_id: count for tenant_id, count in rows}


def reseal(conn: Connection, secret_id: str, sealed: Sealed) -> None:
    """Store a value sealed anew (same value, another key): who and when stay as they were."""
    conn.execute(
        update(secrets)
        .where(secrets.c.id == secret_id)
        .values(key_id=sealed.key_id, sealed=sealed.data)
    )
