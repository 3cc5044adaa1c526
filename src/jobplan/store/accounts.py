"""Tenants, users and memberships."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from jobplan.store._util import as_values, mapped, new_id, unique_violation_as, utcnow
from jobplan.store.records import MembershipRecord, TenantRecord, UserRecord
from jobplan.store.tables import memberships, tenants, users

__all__ = [
    "add_membership",
    "count_tenants",
    "delete_tenant",
    "delete_user",
    "get_global_user",
    "get_member_by_username",
    "get_membership",
    "get_tenant",
    "get_tenant_by_name",
    "get_user",
    "insert_tenant",
    "insert_user",
    "list_members",
    "list_memberships_of_user",
    "list_tenants",
    "list_users_named",
    "remove_membership",
    "set_role",
    "update_tenant_settings",
    "update_user",
]


def insert_tenant(
    conn: Connection, name: str, display_name: str, settings: dict[str, Any]
) -> TenantRecord:
    record = TenantRecord(new_id(), name, display_name, settings, utcnow())
    with unique_violation_as("tenant", name):
        conn.execute(tenants.insert().values(**as_values(record)))
    return record


def get_tenant(conn: Connection, tenant_id: str) -> TenantRecord | None:
    return mapped(
        TenantRecord, conn.execute(select(tenants).where(tenants.c.id == tenant_id)).first()
    )


def update_tenant_settings(conn: Connection, tenant_id: str, settings: dict[str, Any]) -> None:
    conn.execute(update(tenants).where(tenants.c.id == tenant_id).values(settings=settings))


def get_tenant_by_name(conn: Connection, name: str) -> TenantRecord | None:
    row = conn.execute(select(tenants).where(tenants.c.name == name)).first()
    return mapped(TenantRecord, row)


def list_tenants(conn: Connection, limit: int, offset: int) -> tuple[list[TenantRecord], int]:
    rows = conn.execute(select(tenants).order_by(tenants.c.name).limit(limit).offset(offset))
    total = conn.execute(select(func.count()).select_from(tenants)).scalar_one()
    return [TenantRecord(**r._mapping) for r in rows], total


def count_tenants(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(tenants)).scalar_one())


def delete_tenant(conn: Connection, tenant_id: str) -> bool:
    return conn.execute(delete(tenants).where(tenants.c.id == tenant_id)).rowcount > 0


def insert_user(
    conn: Connection,
    username: str,
    password_hash: str,
    display_name: str,
    *,
    is_system_admin: bool = False,
    global_name: bool = False,
) -> UserRecord:
    """A new account (a member of no tenant yet: names are unique per tenant, so it is
    :func:`add_membership` that refuses a name taken in the tenant). ``global_name`` only
    for a name no other account has (it may then sign in without naming its tenant)."""
    record = UserRecord(
        new_id(),
        username,
        password_hash,
        display_name,
        is_system_admin,
        False,
        utcnow(),
        global_name,
    )
    conn.execute(users.insert().values(**as_values(record)))
    return record


def get_user(conn: Connection, user_id: str) -> UserRecord | None:
    return mapped(UserRecord, conn.execute(select(users).where(users.c.id == user_id)).first())


def get_member_by_username(conn: Connection, tenant_id: str, username: str) -> UserRecord | None:
    """The member of ``tenant_id`` named ``username`` (names are unique in a tenant)."""
    row = conn.execute(
        select(users)
        .join(memberships, memberships.c.user_id == users.c.id)
        .where(memberships.c.tenant_id == tenant_id, memberships.c.username == username)
    ).first()
    return mapped(UserRecord, row)


def get_global_user(conn: Connection, username: str) -> UserRecord | None:
    """The account named ``username`` from before names were per tenant (at most one: those
    names were unique server-wide, and no new account gets one)."""
    row = conn.execute(
        select(users)
        .where(users.c.username == username, users.c.global_name.is_(True))
        .order_by(users.c.created_at, users.c.id)
    ).first()
    return mapped(UserRecord, row)


def list_users_named(conn: Connection, username: str) -> list[tuple[UserRecord, list[str]]]:
    """Every account named ``username`` (one per tenant at most) with its tenants' names:
    for offline administration, which sees every tenant."""
    rows = conn.execute(
        select(users).where(users.c.username == username).order_by(users.c.created_at, users.c.id)
    )
    return [
        (user, [name for _, name in list_memberships_of_user(conn, user.id)])
        for user in (UserRecord(**row._mapping) for row in rows)
    ]


def update_user(conn: Connection, user_id: str, **values: Any) -> None:
    conn.execute(update(users).where(users.c.id == user_id).values(**values))


def delete_user(conn: Connection, user_id: str) -> None:
    conn.execute(delete(users).where(users.c.id == user_id))


def add_membership(
    conn: Connection, user: UserRecord, tenant_id: str, role: str
) -> MembershipRecord:
    """Make ``user`` a member of ``tenant_id``; :class:`AlreadyExists` if the tenant already
    has a member of that name (or the user is one already)."""
    record = MembershipRecord(user.id, tenant_id, role, utcnow(), user.username)
    with unique_violation_as("user", user.username):
        conn.execute(memberships.insert().values(**as_values(record)))
    return record


def get_membership(conn: Connection, user_id: str, tenant_id: str) -> MembershipRecord | None:
    row = conn.execute(
        select(memberships).where(
            memberships.c.user_id == user_id, memberships.c.tenant_id == tenant_id
        )
    ).first()
    return mapped(MembershipRecord, row)


def set_role(conn: Connection, user_id: str, tenant_id: str, role: str) -> None:
    conn.execute(
        update(memberships)
        .where(memberships.c.user_id == user_id, memberships.c.tenant_id == tenant_id)
        .values(role=role)
    )


def remove_membership(conn: Connection, user_id: str, tenant_id: str) -> bool:
    result = conn.execute(
        delete(memberships).where(
            memberships.c.user_id == user_id, memberships.c.tenant_id == tenant_id
        )
    )
    return result.rowcount > 0


def list_memberships_of_user(conn: Connection, user_id: str) -> list[tuple[MembershipRecord, str]]:
    """The user's memberships with each tenant's name, by tenant name."""
    rows = conn.execute(
        select(memberships, tenants.c.name.label("tenant_name"))
        .join(tenants, tenants.c.id == memberships.c.tenant_id)
        .where(memberships.c.user_id == user_id)
        .order_by(tenants.c.name)
    )
    out = []
    for row in rows:
        values = dict(row._mapping)
        tenant_name = values.pop("tenant_name")
        out.append((MembershipRecord(**values), tenant_name))
    return out


def list_members(
    conn: Connection, tenant_id: str, limit: int, offset: int
) -> tuple[list[tuple[UserRecord, str]], int]:
    """Users of a tenant with their role there, by username."""
    rows = conn.execute(
        select(users, memberships.c.role)
        .join(memberships, memberships.c.user_id == users.c.id)
        .where(memberships.c.tenant_id == tenant_id)
        .order_by(users.c.username)
        .limit(limit)
        .offset(offset)
    )
    total = conn.execute(
        select(func.count()).select_from(memberships).where(memberships.c.tenant_id == tenant_id)
    ).scalar_one()
    out = []
    for row in rows:
        values = dict(row._mapping)
        role = values.pop("role")
        out.append((UserRecord(**values), role))
    return out, total
