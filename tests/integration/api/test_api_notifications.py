"""Notifications end to end: the real engine runs a plan, its notifier posts to a real local
webhook, and ``/api/v1/notifications`` shows what was sent, retried or given up on."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from jobplan.settings import Settings
from support.api import Actor, make_tenant, wait_for
from support.metrics import metric


class Hooks:
    """A webhook receiver on 127.0.0.1: ``/ok`` answers 204, ``/down`` 503."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path.startswith("/down"):
                    self.send_response(503)
                    self.end_headers()
                    self.wfile.write(b"maintenance")
                    return
                hooks.received.append((self.path, dict(self.headers), json.loads(body)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def hooks() -> Iterator[Hooks]:
    receiver = Hooks()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture
def api_settings(api_settings: Settings) -> Settings:
    # retry at once and give up after two attempts, so both paths are seen in a test
    return api_settings.model_copy(
        update={"notification_retry_seconds": 0.0, "notification_max_attempts": 2}
    )


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def failing_plan(hooks: Hooks, **notifications: Any) -> dict[str, Any]:
    return {
        "name": "nightly",
        "folder": "ops",
        "jobs": [{"name": "extract", "kind": "command", "command": "exit 3"}],
        "notifications": notifications,
    }


def run_plan(client: TestClient, actor: Actor, body: dict[str, Any]) -> tuple[str, str]:
    created = client.post("/api/v1/plans", headers=actor.headers, json=body)
    assert created.status_code == 201, created.text
    plan_id = created.json()["id"]
    started = client.post(f"/api/v1/plans/{plan_id}/runs", headers=actor.headers, json={})
    assert started.status_code == 201, started.text
    return plan_id, started.json()["run"]["id"]


def listed(client: TestClient, actor: Actor, **params: str) -> list[dict[str, Any]]:
    response = client.get("/api/v1/notifications", headers=actor.headers, params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()
    return items


def test_a_failed_run_posts_to_its_webhook_and_is_listed_as_sent(
    client: TestClient, root: Actor, hooks: Hooks
) -> None:
    plan_id, run_id = run_plan(
        client, root, failing_plan(hooks, on_failure=[f"{hooks.url}/ok?key=s3cret"])
    )
    path, headers, payload = wait_for(lambda: hooks.received and hooks.received[0], what="hook")
    assert path == "/ok?key=s3cret"
    assert payload["event"] == "run_failed" and payload["status"] == "ERROR"
    assert payload["plan"] == "ops/nightly" and payload["plan_run_id"] == run_id
    assert payload["failed_jobs"] == ["extract"]
    [item] = wait_for(
        lambda: (items := listed(client, root)) and items[0]["status"] == "sent" and items,
        what="delivery recorded",
    )
    assert headers["X-Jobplan-Delivery"] == item["id"]
    assert (item["event"], item["channel"], item["attempts"]) == ("run_failed", "webhook", 1)
    assert (item["plan"], item["plan_id"], item["run_id"]) == ("ops/nightly", plan_id, run_id)
    assert item["sent_at"] is not None and item["last_error"] is None
    one = client.get(f"/api/v1/notifications/{item['id']}", headers=root.headers)
    assert one.status_code == 200 and one.json() == item
    assert listed(client, root, run=run_id) == [item]
    assert listed(client, root, plan="ops/nightly", status="sent") == [item]
    assert listed(client, root, status="failed") == []
    h = root.headers
    sent = {"channel": "webhook", "result": "sent"}
    wait_for(lambda: metric(client, h, "jobplan_notifications_total", **sent), what="counted")
    assert metric(client, h, "jobplan_notifications_total", **sent) == 1
    assert metric(client, h, "jobplan_notifications_total", channel="webhook", result="retry") == 0
    assert metric(client, h, "jobplan_notifications_pending") == 0


def test_undeliverable_messages_are_retried_then_failed_with_the_reason(
    client: TestClient, root: Actor, hooks: Hooks
) -> None:
    port = closed_port()
    run_plan(
        client,
        root,
        failing_plan(
            hooks,
            on_failure=[f"{hooks.url}/down", f"http://u:pw@127.0.0.1:{port}/gone?t=x"],
        ),
    )
    failed = wait_for(
        lambda: (items := listed(client, root, status="failed")) and len(items) == 2 and items,
        what="both messages given up on",
    )
    errors = {item["recipient"].split("/")[-1]: item for item in failed}
    down = errors["down"]
    assert down["attempts"] == 2 and down["next_attempt_at"] is None
    assert down["last_error"] == f"{hooks.url}/down answered 503: maintenance"
    gone = errors["gone?t=x"]
    assert gone["last_error"].startswith(f"http://127.0.0.1:{port}/gone could not be reached")
    assert "pw" not in gone["last_error"] and "t=x" not in gone["last_error"]
    assert hooks.received == []
    h, webhook = root.headers, {"channel": "webhook"}
    counted = {"result": "failed", **webhook}
    wait_for(lambda: metric(client, h, "jobplan_notifications_total", **counted) == 2, what="count")
    assert metric(client, h, "jobplan_notifications_total", result="retry", **webhook) == 2
    assert metric(client, h, "jobplan_notifications_total", result="sent", **webhook) == 0


def test_notifications_are_tenant_scoped_and_filters_are_checked(
    client: TestClient, root: Actor, hooks: Hooks
) -> None:
    run_plan(client, root, failing_plan(hooks, on_failure=[f"{hooks.url}/ok"]))
    wait_for(lambda: listed(client, root, status="sent"), what="delivery")
    other = make_tenant(client, root, "globex")
    assert listed(client, other) == []
    item = listed(client, root)[0]
    hidden = client.get(f"/api/v1/notifications/{item['id']}", headers=other.headers)
    assert hidden.status_code == 404
    bad = client.get("/api/v1/notifications", headers=root.headers, params={"status": "lost"})
    assert bad.status_code in (400, 422)
    assert "status" in bad.text and "pending, sent, failed" in bad.text
    unknown = client.get("/api/v1/notifications", headers=root.headers, params={"plan": "x/y"})
    assert unknown.status_code == 404
    assert client.get("/api/v1/notifications").status_code == 401


def test_on_start_reaches_a_real_webhook_while_the_run_is_still_going(
    client: TestClient, root: Actor, hooks: Hooks, tmp_path: Any
) -> None:
    """The job waits for a file the test writes only after the start message arrived: the
    message cannot have been sent after the run ended. The Slack-shaped hook gets its
    template's body, the plain one the standard payload."""
    release = tmp_path / "release"
    slack = f"{hooks.url}/slack"
    template = '{"text": {{ (plan ~ " started (" ~ trigger ~ ")") | tojson }}}'
    body = {
        "name": "watched",
        "folder": "ops",
        "jobs": [
            {
                "name": "wait",
                "kind": "command",
                "command": f"while [ ! -e '{release}' ]; do sleep 0.05; done",
            }
        ],
        "notifications": {
            "on_start": [f"{hooks.url}/plain", slack],
            "webhook_templates": {slack: template},
        },
    }
    _, run_id = run_plan(client, root, body)
    received = wait_for(lambda: len(hooks.received) == 2 and hooks.received, what="both hooks")
    run = client.get(f"/api/v1/runs/{run_id}", headers=root.headers).json()
    assert run["status"] == "RUNNING"
    by_path = {path: (headers, payload) for path, headers, payload in received}
    headers, payload = by_path["/plain"]
    assert headers["X-Jobplan-Event"] == "run_started"
    assert payload["event"] == "run_started" and payload["plan_run_id"] == run_id
    assert payload["status"] == "RUNNING" and payload["ended_at"] is None
    assert by_path["/slack"][1] == {"text": "ops/watched started (manual)"}
    release.touch()
    wait_for(
        lambda: (
            client.get(f"/api/v1/runs/{run_id}", headers=root.headers).json()["status"]
            == "COMPLETE"
        ),
        what="run completes",
    )


def test_a_template_reaching_for_python_is_refused_at_apply_naming_the_field(
    client: TestClient, root: Actor, hooks: Hooks
) -> None:
    hook = f"{hooks.url}/ok"
    body = failing_plan(
        hooks, on_failure=[hook], webhook_templates={hook: "{{ cycler.__init__.__globals__ }}"}
    )
    response = client.post("/api/v1/plans", headers=root.headers, json=body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert any("webhook_templates" in str(e["field"]) for e in problem["errors"]), problem
    assert "'__globals__' names Python internals" in problem["detail"]
    broken = failing_plan(hooks, on_failure=[hook], webhook_templates={hook: '{"a": {{ }'})
    response = client.post("/api/v1/plans", headers=root.headers, json=broken)
    assert response.status_code == 422 and "syntax error on line 1" in response.json()["detail"]
