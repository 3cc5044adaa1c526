"""Administration by whoever holds the data folder (the ``jobplan users`` offline commands).

Having the database file is already full control, so these operations take no caller; they
exist for the first user and for locked-out administrators.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection

from jobplan.errors import AlreadyExists, JobplanError, NotFound
from jobplan.model import Role
from jobplan.service import audit
from jobplan.service.security import PasswordHasher
from jobplan.service.validation import check_password, check_slug, check_username
from jobplan.settings import Settings
from jobplan.store import Database, accounts

__all__ = ["create_user_locally", "reset_password_locally", "upgrade_database"]


@contextmanager
def _open(settings: Settings) -> Iterator[Database]:
    settings.ensure_home()
    database = Database(settings.effective_database_url)
    try:
        database.upgrade()
        yield database
    finally:
        database.dispose()


def upgrade_database(settings: Settings) -> str | None:
    """Apply migrations; returns the revision the database is now at."""
    with _open(settings) as database:
        return database.current_revision()


def create_user_locally(
    settings: Settings,
    tenant: str,
    username: str,
    password: str,
    role: Role,
    *,
    system_admin: bool = False,
) -> bool:
    """Create ``username`` with ``role`` in ``tenant`` (made if missing). Returns ``False`` if
    the user existed and was only added to the tenant. Audited as ``user.create`` (method
    ``local``), refusals too."""
    with _open(settings) as database:
        try:
            check_slug(tenant, "tenant")
            check_username(username)
            check_password(password)
            with database.transaction() as conn:
                return _create_user(conn, settings, tenant, username, password, role, system_admin)
        except JobplanError as exc:
            audit.record_local_refusal(
                database,
                action="user.create",
                tenant_name=tenant,
                target_type="user",
                target_path=username,
                error=exc,
            )
            raise


def _create_user(
    conn: Connection,
    settings: Settings,
    tenant: str,
    username: str,
    password: str,
    role: Role,
    system_admin: bool,
) -> bool:
    tenant_record = accounts.get_tenant_by_name(conn, tenant) or accounts.insert_tenant(
        conn, tenant, tenant, {}
    )
    user = accounts.get_user_by_username(conn, username)
    created = user is None
    if user is None:
        user = accounts.insert_user(
            conn,
            username,
            PasswordHasher(settings).hash(password),
            username,
            is_system_admin=system_admin,
        )
    elif accounts.get_membership(conn, user.id, tenant_record.id) is not None:
        raise AlreadyExists("user", f"{username} in tenant {tenant}")
    accounts.add_membership(conn, user.id, tenant_record.id, role)
    described: dict[str, object] = {"role": str(role)}
    if created:
        described["system_admin"] = system_admin
    audit.record_local(
        conn,
        action="user.create",
        tenant=(tenant_record.id, tenant_record.name),
        target_type="user",
        target_id=user.id,
        target_path=username,
        changes=audit.field_changes({}, described),
    )
    return created


def reset_password_locally(settings: Settings, username: str, password: str) -> None:
    """Set a new password for ``username`` (and re-enable the account). Audited as
    ``user.password`` (method ``local``) under each of the user's tenants."""
    with _open(settings) as database:
        try:
            check_password(password)
            with database.transaction() as conn:
                user = accounts.get_user_by_username(conn, username)
                if user is None:
                    raise NotFound("user", username)
                accounts.update_user(
                    conn,
                    user.id,
                    password_hash=PasswordHasher(settings).hash(password),
                    disabled=False,
                )
                changes = [{"kind": "changed", "path": "password"}]
                changes += audit.field_changes({"disabled": user.disabled}, {"disabled": False})
                for membership, name in accounts.list_memberships_of_user(conn, user.id):
                    audit.record_local(
                        conn,
                        action="user.password",
                        tenant=(membership.tenant_id, name),
                        target_type="user",
                        target_id=user.id,
                        target_path=username,
                        changes=changes,
                    )
        except JobplanError as exc:
            audit.record_local_refusal(
                database,
                action="user.password",
                tenant_name=None,
                target_type="user",
                target_path=username,
                error=exc,
            )
            raise
