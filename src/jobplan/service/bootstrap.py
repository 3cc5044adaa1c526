"""First start: make sure an administrator exists."""

from __future__ import annotations

from dataclasses import dataclass

from jobplan.model import Role
from jobplan.service.security import PasswordHasher, new_secret
from jobplan.service.validation import check_password, check_slug, check_username
from jobplan.settings import Settings
from jobplan.store import Database, accounts
from jobplan.store.database import FIRST_START_LOCK, serialise

__all__ = ["BootstrapResult", "bootstrap_admin"]


@dataclass(frozen=True, slots=True)
class BootstrapResult:
    """The admin made on first start; ``password`` is set only when we generated it."""

    username: str
    tenant: str
    password: str | None


def bootstrap_admin(
    database: Database, settings: Settings, passwords: PasswordHasher
) -> BootstrapResult | None:
    """Create the first admin if the database has no tenant yet.

    With ``JOBPLAN_ADMIN_USER`` and ``JOBPLAN_ADMIN_PASSWORD`` that user is created (if
    ``JOBPLAN_ADMIN_TENANT`` has no member of that name; names are per tenant) as system admin
    and admin of ``JOBPLAN_ADMIN_TENANT``. Without both, only on an empty database: the user
    is ``JOBPLAN_ADMIN_USER`` (default ``admin``) and the password ``JOBPLAN_ADMIN_PASSWORD``,
    else a generated one, returned once for the console and stored only as a hash. Returns
    ``None`` when nothing was created.
    """
    tenant_name = check_slug(settings.admin_tenant, "JOBPLAN_ADMIN_TENANT")
    configured = settings.admin_user is not None and settings.admin_password is not None
    if configured:
        assert settings.admin_user is not None and settings.admin_password is not None
        username = check_username(settings.admin_user, "JOBPLAN_ADMIN_USER")
        password = check_password(settings.admin_password, "JOBPLAN_ADMIN_PASSWORD")
    else:  # one of the two alone is honoured, not silently ignored
        username = check_username(settings.admin_user or "admin", "JOBPLAN_ADMIN_USER")
        password = (
            check_password(settings.admin_password, "JOBPLAN_ADMIN_PASSWORD")
            if settings.admin_password is not None
            else new_secret(18)
        )
    with database.transaction() as conn:
        # two nodes starting at once on one empty PostgreSQL database take turns (else both
        # see no tenant, both insert ``default``, and the second exits on the duplicate)
        serialise(conn, FIRST_START_LOCK)
        if not configured and accounts.count_tenants(conn) > 0:
            return None
        tenant = accounts.get_tenant_by_name(conn, tenant_name)
        if tenant is None:
            tenant = accounts.insert_tenant(conn, tenant_name, tenant_name, {})
        # names are per tenant: the admin is the admin tenant's member of that name
        created = accounts.get_member_by_username(conn, tenant.id, username) is None
        if created:
            user = accounts.insert_user(
                conn,
                username,
                passwords.hash(password),
                username,
                is_system_admin=True,
                # set up by whoever runs the server: with a name no account has, it may sign
                # in without naming its tenant wherever its memberships go
                global_name=not accounts.list_users_named(conn, username),
            )
            accounts.add_membership(conn, user, tenant.id, Role.ADMIN)
    if not created:
        return None
    generated = not configured and settings.admin_password is None
    return BootstrapResult(username, tenant_name, password if generated else None)
