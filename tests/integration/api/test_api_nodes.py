"""``GET /api/v1/nodes``: the running engine's node is listed live with what it runs; nodes
whose heartbeat is older than a lease are stale, cleanly stopped ones stopped (rows written by
the engine's own store functions); supervisors and admins only; filters and pages checked."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from jobplan import __version__
from jobplan.api import create_app
from jobplan.service.container import Services
from jobplan.settings import Settings
from jobplan.store import runs as store
from support.api import ROOT_PASSWORD, ROOT_USER, Actor, login, make_user, wait_for


def _nodes(client: TestClient, actor: Actor, **params: str) -> list[dict[str, object]]:
    response = client.get("/api/v1/nodes", headers=actor.headers, params=params)
    assert response.status_code == 200, response.text
    nodes: list[dict[str, object]] = response.json()
    return nodes


def test_the_running_node_is_listed_live_with_what_it_runs(client: TestClient, root: Actor) -> None:
    nodes = wait_for(lambda: _nodes(client, root), what="the engine's node")
    assert len(nodes) == 1
    node = nodes[0]
    assert node["state"] == "live"
    assert node["pid"] == os.getpid()
    assert node["version"] == __version__
    assert node["host"]
    assert node["loops"] == [
        "scheduler",
        "dispatcher",
        "control",
        "heartbeat",
        "notifier",
        "transfers",
    ]
    assert node["stopped_at"] is None


def test_stale_and_stopped_nodes_are_told_apart_and_filtered(
    client: TestClient, root: Actor, services: Services
) -> None:
    live = wait_for(lambda: _nodes(client, root), what="the engine's node")[0]["id"]
    now = datetime.now(UTC)
    lease = services.settings.lease_seconds
    with services.database.transaction() as conn:
        # a node that died an hour ago (no clean stop), and one that stopped cleanly
        store.register_node(conn, "n-dead", "dead", now - timedelta(hours=1), loops=["scheduler"])
        store.register_node(conn, "n-gone", "gone", now - timedelta(seconds=lease / 2))
        store.stop_node(conn, "n-gone", now)
    states = {n["id"]: n["state"] for n in _nodes(client, root)}
    assert states == {live: "live", "n-dead": "stale", "n-gone": "stopped"}
    assert [n["id"] for n in _nodes(client, root, state="stale")] == ["n-dead"]
    assert [n["id"] for n in _nodes(client, root, state="stopped")] == ["n-gone"]
    assert [n["id"] for n in _nodes(client, root, state="live")] == [live]
    response = client.get("/api/v1/nodes", headers=root.headers, params={"limit": 1})
    assert response.headers["X-Total-Count"] == "3"
    assert 'rel="next"' in response.headers["Link"]
    bad = client.get("/api/v1/nodes", headers=root.headers, params={"state": "dead"})
    assert bad.status_code == 422
    assert "state" in bad.text


def test_nodes_are_for_supervisors_and_admins(client: TestClient, root: Actor) -> None:
    assert client.get("/api/v1/nodes").status_code == 401
    for role in ("viewer", "operator"):
        actor = make_user(client, root, f"u-{role}", role)
        refused = client.get("/api/v1/nodes", headers=actor.headers)
        assert refused.status_code == 403
        assert "nodes:read" in refused.json()["detail"]
    supervisor = make_user(client, root, "sue", "supervisor")
    assert client.get("/api/v1/nodes", headers=supervisor.headers).status_code == 200


def test_a_server_without_engine_is_a_node_too_and_stopped_when_it_ends(
    api_settings: Settings, services: Services
) -> None:
    quiet = api_settings.model_copy(update={"engine_enabled": False, "transfer_workers": 0})
    with TestClient(create_app(quiet, services)) as client:
        root = login(client, ROOT_USER, ROOT_PASSWORD)
        [node] = _nodes(client, root)
        assert node["state"] == "live"
        assert node["loops"] == []
        assert node["pid"] == os.getpid()
    with TestClient(create_app(quiet, services)) as client:
        root = login(client, ROOT_USER, ROOT_PASSWORD)
        states = {n["id"]: n["state"] for n in _nodes(client, root)}
        assert states[node["id"]] == "stopped"
        assert list(states.values()).count("live") == 1  # this second server
