"""Administration by whoever holds the data folder (the ``jobplan users`` offline commands).

Having the database file is already full control, so these operations take no caller; they
exist for the first user and for locked-out administrators.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection

from jobplan.errors import AlreadyExists, InvalidInput, JobplanError, NotFound
from jobplan.model import Role
from jobplan.service import audit
from jobplan.service.secrets import reencrypt, rotate_key_file
from jobplan.service.security import PasswordHasher
from jobplan.service.validation import check_password, check_slug, check_username
from jobplan.settings import Settings
from jobplan.store import Database, accounts
from jobplan.store.records import UserRecord
from jobplan.store.secret_box import load_key_ring

__all__ = [
    "create_user_locally",
    "reset_password_locally",
    "rotate_secrets_key_locally",
    "upgrade_database",
]


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
) -> None:
    """Create the account ``username`` with ``role`` in ``tenant`` (made if missing). Names
    are per tenant: :class:`AlreadyExists` only if ``tenant`` has a member of that name. If
    no other account has the name, it may sign in without naming the tenant. Audited as
    ``user.create`` (method ``local``), refusals too."""
    with _open(settings) as database:
        try:
            check_slug(tenant, "tenant")
            check_username(username)
            check_password(password)
            password_hash = PasswordHasher(settings).hash(password)
            with database.transaction() as conn:
                _create_user(conn, tenant, username, password_hash, role, system_admin)
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
    tenant: str,
    username: str,
    password_hash: str,
    role: Role,
    system_admin: bool,
) -> None:
    tenant_record = accounts.get_tenant_by_name(conn, tenant) or accounts.insert_tenant(
        conn, tenant, tenant, {}
    )
    if accounts.get_member_by_username(conn, tenant_record.id, username) is not None:
        raise AlreadyExists("user", f"{username} in tenant {tenant}")
    # whoever holds the data folder sees every tenant: a name no account has yet may sign in
    # without naming its tenant, like the accounts from before per-tenant names
    user = accounts.insert_user(
        conn,
        username,
        password_hash,
        username,
        is_system_admin=system_admin,
        global_name=not accounts.list_users_named(conn, username),
    )
    accounts.add_membership(conn, user, tenant_record.id, role)
    described: dict[str, object] = {"role": str(role), "system_admin": system_admin}
    audit.record_local(
        conn,
        action="user.create",
        tenant=(tenant_record.id, tenant_record.name),
        target_type="user",
        target_id=user.id,
        target_path=username,
        changes=audit.field_changes({}, described),
    )


def reset_password_locally(
    settings: Settings, username: str, password: str, tenant: str | None = None
) -> list[str]:
    """Set a new password for ``username`` (and re-enable the account); returns the names of
    the account's tenants. Names are per tenant: ``tenant`` picks the account when several
    tenants have one of that name (refused with :class:`InvalidInput` naming them if not
    given). Audited as ``user.password`` (method ``local``) under each of the user's
    tenants."""
    with _open(settings) as database:
        try:
            check_password(password)
            password_hash = PasswordHasher(settings).hash(password)
            with database.transaction() as conn:
                user, tenants = _account(conn, username, tenant)
                accounts.update_user(conn, user.id, password_hash=password_hash, disabled=False)
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
                tenant_name=tenant,
                target_type="user",
                target_path=username,
                error=exc,
            )
            raise
    return tenants


def _account(conn: Connection, username: str, tenant: str | None) -> tuple[UserRecord, list[str]]:
    """The account ``username`` (of ``tenant`` if given) and its tenants' names."""
    if tenant:
        tenant_record = accounts.get_tenant_by_name(conn, tenant)
        user = (
            accounts.get_member_by_username(conn, tenant_record.id, username)
            if tenant_record is not None
            else None
        )
        if user is None:
            raise NotFound("user", f"{username} in tenant {tenant}")
        return user, [name for _, name in accounts.list_memberships_of_user(conn, user.id)]
    named = accounts.list_users_named(conn, username)
    if not named:
        raise NotFound("user", username)
    if len(named) > 1:
        where = "; ".join(", ".join(names) or "no tenant" for _, names in named)
        raise InvalidInput(
            f"{len(named)} accounts are named '{username}' (tenants: {where}); "
            "name the account's tenant with --tenant",
            field="tenant",
        )
    return named[0]


def rotate_secrets_key_locally(settings: Settings) -> tuple[str, int, bool]:
    """Rotate the key that seals secret values; returns the current key's id, how many
    secrets were sealed anew, and whether the key came from ``JOBPLAN_SECRETS_KEY``.

    With ``JOBPLAN_SECRETS_KEY`` set (the new key first, the old ones after it): every secret
    is sealed anew under its first key. Without it: ``<home>/secrets.key`` gets a new key and
    every secret is sealed anew under it (see :func:`~jobplan.service.secrets.rotate_key_file`).
    """
    with _open(settings) as database:
        if settings.secrets_key and settings.secrets_key.strip():
            box = load_key_ring(settings.home, settings.secrets_key)
            changed, _ = reencrypt(database, box)
            return box.current_key_id, changed, True
        key_id, changed = rotate_key_file(database, settings.home)
        return key_id, changed, False
