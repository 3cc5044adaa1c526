"""Several nodes starting at once on one empty PostgreSQL database (service/container.py,
service/bootstrap.py, store/migrations/env.py): they take turns migrating and creating the
first administrator, and every one of them starts."""

from __future__ import annotations

import multiprocessing
import uuid
from multiprocessing.queues import Queue
from pathlib import Path

from jobplan.store import Database, accounts
from support.first_start import first_start
from support.postgres import PostgresCluster

NODES = 2


def _start_together(url: str, tmp_path: Path) -> list[str]:
    """``NODES`` first starts on ``url``, each in a process of its own, released at the same
    instant as servers started together would be; what each one reports."""
    spawn = multiprocessing.get_context("spawn")
    ready = spawn.Barrier(NODES)
    results: Queue[str] = spawn.Queue()
    nodes = [
        spawn.Process(target=first_start, args=(url, tmp_path / f"node{i}", ready, results))
        for i in range(NODES)
    ]
    for node in nodes:
        node.start()
    reports = [results.get(timeout=120) for _ in nodes]
    for node in nodes:
        node.join(timeout=30)
    return sorted(reports)


def test_nodes_starting_at_once_all_start_and_one_creates_the_admin(
    postgres_cluster: PostgresCluster, tmp_path: Path
) -> None:
    # both migrate at once (without the lock: 'relation alembic_version already exists'), then
    # both bootstrap (without it: "tenant 'default' already exists"); each failed on the old
    # code, the second alone once migrations were serialised. One test for both: each start
    # is a process of its own, and they are slow to come up.
    name = f"t_{uuid.uuid4().hex[:16]}"
    postgres_cluster.execute(f"CREATE DATABASE {name}")
    try:
        _check_one_admin(postgres_cluster.url(name), tmp_path)
    finally:
        postgres_cluster.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _check_one_admin(url: str, tmp_path: Path) -> None:
    reports = _start_together(url, tmp_path)
    # every node started; exactly one created the administrator (and showed its password)
    assert reports == ["admin"] + ["none"] * (NODES - 1)
    database = Database(url)
    try:
        assert database.current_revision() is not None
        with database.read() as conn:
            assert accounts.count_tenants(conn) == 1
            tenant = accounts.get_tenant_by_name(conn, "default")
            assert tenant is not None
            assert accounts.get_member_by_username(conn, tenant.id, "admin") is not None
            assert len(accounts.list_users_named(conn, "admin")) == 1
    finally:
        database.dispose()
