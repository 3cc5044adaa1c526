"""The first administrator on first start (service/bootstrap.py), on both stores."""

from __future__ import annotations

from jobplan.service.bootstrap import BootstrapResult, bootstrap_admin
from jobplan.service.security import PasswordHasher
from jobplan.settings import Settings
from jobplan.store import Database, accounts


def _first_start(
    database: Database, settings: Settings, **admin: str
) -> tuple[BootstrapResult, str]:
    """Bootstrap with ``admin`` settings; the result and the stored admin's password hash."""
    configured = settings.model_copy(update=admin)
    result = bootstrap_admin(database, configured, PasswordHasher(configured))
    assert result is not None
    with database.read() as conn:
        tenant = accounts.get_tenant_by_name(conn, result.tenant)
        assert tenant is not None
        member = accounts.get_member_by_username(conn, tenant.id, result.username)
    assert member is not None
    return result, member.password_hash


def test_admin_user_alone_names_the_admin_and_gets_a_generated_password(
    database: Database, settings: Settings
) -> None:
    result, stored = _first_start(database, settings, admin_user="ops")
    assert result.username == "ops"
    assert result.password is not None  # generated, shown once
    assert PasswordHasher(settings).verify(result.password, stored)


def test_admin_password_alone_is_admin_s_password_and_never_echoed(
    database: Database, settings: Settings
) -> None:
    result, stored = _first_start(database, settings, admin_password="a-long-enough-secret-1")
    assert result.username == "admin"
    assert result.password is None  # the operator's own: not ours to print
    assert PasswordHasher(settings).verify("a-long-enough-secret-1", stored)
