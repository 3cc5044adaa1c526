"""The Nodes page: the running node and its state, for supervisors and admins (both stores)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from jobplan.service.container import Services
from jobplan.store import runs as store
from support.api import Actor, make_user

from .conftest import sign_in


def test_the_nodes_page_lists_each_node_with_its_state(
    client: TestClient, csrf: str, services: Services
) -> None:
    with services.database.transaction() as conn:
        store.register_node(conn, "n-dead", "dead-node", datetime.now(UTC) - timedelta(hours=1))
    page = client.get("/admin/nodes")
    assert page.status_code == 200
    assert 'href="/admin/nodes"' in client.get("/admin/keys").text  # the tab
    assert 'data-node="n-dead" data-state="stale"' in page.text
    assert 'data-state="live"' in page.text  # this process's engine
    assert "scheduler, dispatcher, control, heartbeat, notifier" in page.text


def test_an_operator_has_no_nodes_tab_and_is_refused(client: TestClient, root: Actor) -> None:
    make_user(client, root, "otto", "operator")
    sign_in(client, "otto", "otto-password")
    assert 'href="/admin/nodes"' not in client.get("/admin/keys").text
    refused = client.get("/admin/nodes")
    assert refused.status_code == 403
    assert "nodes:read" in refused.text
