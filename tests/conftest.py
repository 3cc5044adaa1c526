"""Shared fixtures. The environment is stripped of ``JOBPLAN_*`` so tests never see a
developer's settings."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobplan.settings import Settings

for _name in [n for n in os.environ if n.startswith("JOBPLAN_")]:
    del os.environ[_name]

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    """Settings whose data folder is a fresh temporary directory."""
    yield Settings(home=tmp_path / "home")


# --- databases -------------------------------------------------------------------------------
# Store and API tests run on both SQLite and PostgreSQL. PostgreSQL databases are cloned from a
# migrated template, so each test gets an isolated, ready database in a few milliseconds.

import shutil  # noqa: E402
import uuid  # noqa: E402

from jobplan.store import Database  # noqa: E402
from support.postgres import PostgresCluster  # noqa: E402

TEMPLATE_DB = "jobplan_template"


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    cluster.start()
    try:
        cluster.execute(f"CREATE DATABASE {TEMPLATE_DB}")
        template = Database(cluster.url(TEMPLATE_DB))
        template.upgrade()
        template.dispose()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty SQLite database file, made once per session (per xdist worker):
    running the migrations costs about half a second, copying the file a few milliseconds."""
    path = tmp_path_factory.mktemp("sqlite-template") / "jobplan.db"
    template = Database(f"sqlite:///{path}")
    template.upgrade()
    template.dispose()
    # closing the last connection checkpoints the write-ahead log into the file
    assert not path.with_name(path.name + "-wal").exists(), "template WAL not checkpointed"
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "jobplan.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    name = f"t_{uuid.uuid4().hex[:16]}"
    cluster.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}")
    try:
        yield cluster.url(name)
    finally:
        cluster.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """A :class:`Database` on ``database_url``; checks no connection is left checked out."""
    db = Database(database_url)
    yield db
    checked_out = db.engine.pool.checkedout()  # type: ignore[attr-defined]
    db.dispose()
    assert checked_out == 0, f"{checked_out} connection(s) left checked out"
