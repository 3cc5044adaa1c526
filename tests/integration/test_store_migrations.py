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
