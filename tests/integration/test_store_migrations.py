"""Migrations build the schema from empty on both databases and match the table definitions."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from jobplan.store import Database
from jobplan.store.tables import metadata
from support.postgres import PostgresCluster


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    if request.param == "sqlite":
        return Database(f"sqlite:///{tmp_path / 'empty.db'}")
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    name = f"e_{uuid.uuid4().hex[:16]}"
    cluster.execute(f"CREATE DATABASE {name}")
    request.addfinalizer(lambda: cluster.execute(f"DROP DATABASE {name} WITH (FORCE)"))
    return Database(cluster.url(name))


def test_upgrade_from_empty_creates_every_table(empty_database: Database) -> None:
    assert empty_database.current_revision() is None
    empty_database.upgrade()
    assert empty_database.current_revision() is not None
    tables = set(inspect(empty_database.engine).get_table_names())
    assert set(metadata.tables) <= tables
    with empty_database.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    empty_database.dispose()
    assert differences == [], f"migrations and tables.py disagree: {differences}"


def test_upgrade_is_idempotent(empty_database: Database) -> None:
    empty_database.upgrade()
    first = empty_database.current_revision()
    empty_database.upgrade()
    assert empty_database.current_revision() == first
    empty_database.dispose()


def test_upgrade_keeps_existing_users_signing_in(empty_database: Database, tmp_path: Path) -> None:
    """0007 (user names per tenant) on a database with users: every member gets its name,
    old accounts keep signing in as before (without a tenant too), and a second tenant may
    now have a user of an existing name."""
    from datetime import UTC, datetime

    from jobplan.errors import AlreadyExists
    from jobplan.service.auth import AuthService
    from jobplan.service.security import PasswordHasher
    from jobplan.settings import Settings
    from jobplan.store import accounts
    from jobplan.store.tables import memberships, tenants, users

    settings = Settings(home=tmp_path / "home", argon2_memory_kib=1024, argon2_time_cost=1)  # type: ignore[arg-type]
    passwords = PasswordHasher(settings)
    empty_database.upgrade("0009")  # the revision before per-tenant names
    now = datetime.now(UTC)
    with empty_database.engine.begin() as conn:
        for tenant_id, name in (("t-default", "default"), ("t-acme", "acme")):
            conn.execute(
                tenants.insert().values(
                    id=tenant_id, name=name, display_name=name, settings={}, created_at=now
                )
            )
        for user_id, username, admin in (("u-root", "root", True), ("u-alice", "alice", False)):
            conn.execute(
                users.insert().values(
                    id=user_id,
                    username=username,
                    password_hash=passwords.hash(f"{username}-password"),
                    display_name=username,
                    is_system_admin=admin,
                    disabled=False,
                    created_at=now,
                )
            )
        for user_id, tenant_id in (
            ("u-root", "t-default"),
            ("u-root", "t-acme"),
            ("u-alice", "t-acme"),
        ):
            conn.execute(
                memberships.insert().values(
                    user_id=user_id, tenant_id=tenant_id, role="admin", created_at=now
                )
            )

    empty_database.upgrade()

    with empty_database.engine.connect() as conn:
        rows = conn.execute(memberships.select().order_by(memberships.c.tenant_id)).all()
        assert sorted((r.user_id, r.tenant_id, r.username) for r in rows) == [
            ("u-alice", "t-acme", "alice"),
            ("u-root", "t-acme", "root"),
            ("u-root", "t-default", "root"),
        ]
        assert all(r.global_name for r in conn.execute(users.select()))
    auth = AuthService(empty_database, settings, b"k" * 32, passwords)
    assert auth.password_grant("alice", "alice-password", None, "test").tenant == "acme"
    assert auth.password_grant("root", "root-password", None, "test").tenant == "default"
    assert auth.password_grant("root", "root-password", "acme", "test").tenant == "acme"
    # names are now unique per tenant: a new alice fits in default, not in acme
    with empty_database.transaction() as conn:
        newcomer = accounts.insert_user(conn, "alice", passwords.hash("other-alice-pw"), "alice")
        accounts.add_membership(conn, newcomer, "t-default", "viewer")
    with pytest.raises(AlreadyExists), empty_database.transaction() as conn:
        again = accounts.insert_user(conn, "alice", passwords.hash("third-alice-pw"), "alice")
        accounts.add_membership(conn, again, "t-acme", "viewer")
    assert auth.password_grant("alice", "other-alice-pw", None, "test").tenant == "default"
    assert auth.password_grant("alice", "alice-password", None, "test").tenant == "acme"
    empty_database.dispose()
