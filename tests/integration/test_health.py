"""Liveness and readiness: ``/livez`` answers without the database; ``/readyz`` checks each
component for real and says which one fails — the database stopped (real PostgreSQL), the
writer and the loops waiting on a locked database (real SQLite lock)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from jobplan.api import create_app
from jobplan.logging import configure_logging
from jobplan.settings import Settings
from support.api import wait_for
from support.postgres import PostgresCluster

ENGINE_PARTS = ("scheduler", "dispatcher", "control", "heartbeat", "notifier", "writer")


def _readiness(client: TestClient) -> tuple[int, dict[str, Any]]:
    response = client.get("/readyz")
    assert response.headers["cache-control"] == "no-store"
    return response.status_code, response.json()


def _when(client: TestClient, code: int, failing: set[str] = frozenset()) -> dict[str, Any]:  # type: ignore[assignment]
    """Wait until /readyz answers ``code`` with (at least) ``failing`` components failing."""

    def probe() -> dict[str, Any] | None:
        status, body = _readiness(client)
        bad = {name for name, c in body["components"].items() if c["status"] == "failing"}
        return body if status == code and failing <= bad and bool(bad) == (code == 503) else None

    return wait_for(probe, timeout=60, what=f"/readyz {code} failing {sorted(failing)}")


@pytest.fixture
def fast(tmp_path: Path) -> Settings:
    return Settings(
        home=tmp_path / "home",  # type: ignore[arg-type]
        engine_poll_seconds=0.1,
        loop_stale_seconds=0.5,
        argon2_memory_kib=1024,
        argon2_time_cost=1,
    )


def test_a_started_node_is_live_and_ready_with_every_component_named(fast: Settings) -> None:
    with TestClient(create_app(fast)) as client:
        assert client.get("/livez").json()["status"] == "ok"
        assert client.get("/healthz").json()["status"] == "ok"
        body = _when(client, 200)
        assert body["status"] == "ready"
        assert set(body["components"]) == {"database", "migrations", "transfers", *ENGINE_PARTS}
        assert all(c["status"] == "ok" for c in body["components"].values())
        assert body["components"]["migrations"]["detail"].startswith("at 0")


def test_a_node_without_engine_or_transfer_threads_says_so_and_is_ready(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", engine_enabled=False, transfer_workers=0)  # type: ignore[arg-type]
    with TestClient(create_app(settings)) as client:
        status, body = _readiness(client)
        assert status == 200, body
        for name in (*ENGINE_PARTS, "transfers"):
            assert body["components"][name]["status"] == "off"
        assert "JOBPLAN_ENGINE_ENABLED=false" in body["components"]["scheduler"]["detail"]
        assert body["components"]["database"]["status"] == "ok"


def test_a_writer_stuck_on_a_locked_database_makes_the_node_unready_until_it_moves(
    fast: Settings,
) -> None:
    with TestClient(create_app(fast)) as client:
        _when(client, 200)
        # another process's write transaction: the writer's next batch waits for the lock,
        # and the loops wait for the writer
        blocker = sqlite3.connect(fast.home / "jobplan.db", isolation_level=None)
        try:
            blocker.execute("BEGIN IMMEDIATE")
            body = _when(client, 503, {"writer", "scheduler"})
            assert body["status"] == "unready"
            assert "writing a batch" in body["components"]["writer"]["detail"]
            assert "stale after 0.5 s" in body["components"]["scheduler"]["detail"]
            assert body["components"]["database"]["status"] == "ok"  # reads still answer
            assert client.get("/livez").status_code == 200
        finally:
            blocker.execute("COMMIT")
            blocker.close()
        _when(client, 200)


@pytest.fixture
def own_cluster() -> Iterator[PostgresCluster]:
    """A cluster of its own: this test stops and restarts it."""
    cluster = PostgresCluster()
    cluster.start()
    try:
        cluster.execute("CREATE DATABASE jobplan")
        yield cluster
    finally:
        cluster.stop()


def test_postgres_stopped_makes_readyz_503_naming_the_database_and_200_once_back(
    own_cluster: PostgresCluster, tmp_path: Path
) -> None:
    # plain tracebacks (as `jobplan serve` logs them): the test default renders every
    # failing loop's traceback with its locals, which keeps the event loop busy for seconds
    configure_logging("WARNING", "console")
    settings = Settings(
        home=tmp_path / "home",  # type: ignore[arg-type]
        database_url=own_cluster.url("jobplan"),
        secret_key="s" * 32,
        argon2_memory_kib=1024,
        argon2_time_cost=1,
    )
    with TestClient(create_app(settings)) as client:
        _when(client, 200)
        own_cluster.pause()
        body = _when(client, 503, {"database", "migrations"})
        assert body["components"]["database"]["detail"].startswith("the query failed")
        assert "127.0.0.1" not in str(body)  # no connection details for anonymous callers
        assert client.get("/livez").status_code == 200
        own_cluster.resume()
        body = _when(client, 200)
        assert body["components"]["database"]["detail"] == "answered (postgresql)"
