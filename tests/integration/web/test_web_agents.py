"""The Agents tab: listed with their state, registered with the key shown once, revoked
with the CSRF token like every admin form; supervisors read, operators have no tab (both
stores)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import update

from jobplan.service.container import Services
from jobplan.store.tables import agents
from support.api import Actor, make_user

from .conftest import sign_in

_KEY = re.compile(r"<code>(jpa_([0-9a-f]+)_[A-Za-z0-9_-]+)</code>")


def test_an_agent_is_registered_listed_and_revoked(
    client: TestClient, csrf: str, services: Services
) -> None:
    assert 'href="/admin/agents"' in client.get("/admin/keys").text  # the tab
    created = client.post(
        "/admin/agents", data={"csrf_token": csrf, "name": "edge-1", "labels": "linux, eu"}
    )
    assert created.status_code == 201, created.text[-2000:]
    key = _KEY.search(created.text)
    assert key, created.text[-2000:]
    assert client.get("/api/v1/plans", headers={"X-API-Key": key.group(1)}).status_code == 403
    page = client.get("/admin/agents")
    assert f'data-agent="{key.group(2)}" data-state="offline"' in page.text
    assert "eu, linux" in page.text and key.group(1) not in page.text
    assert "jobplan agent --server URL" in page.text  # how to start one, not "not built yet"
    assert "not built yet" not in page.text
    with services.database.transaction() as conn:  # a heartbeat, as the protocol will write
        conn.execute(update(agents).values(last_heartbeat=datetime.now(UTC), host="edge-host"))
    page = client.get("/admin/agents")
    assert f'data-agent="{key.group(2)}" data-state="online"' in page.text
    assert "edge-host" in page.text

    forged = client.post(f"/admin/agents/{key.group(2)}/revoke", data={"csrf_token": "x" * 64})
    assert forged.status_code == 403
    revoked = client.post(
        f"/admin/agents/{key.group(2)}/revoke", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert revoked.status_code == 303
    assert 'data-state="revoked"' in client.get("/admin/agents").text
    assert client.get("/api/v1/plans", headers={"X-API-Key": key.group(1)}).status_code == 401


def test_form_errors_name_the_field(client: TestClient, csrf: str) -> None:
    bad_name = client.post("/admin/agents", data={"csrf_token": csrf, "name": "edge 1"})
    assert bad_name.status_code == 400 and "name" in bad_name.text
    bad_label = client.post(
        "/admin/agents", data={"csrf_token": csrf, "name": "e", "labels": "ok no/slash"}
    )
    assert bad_label.status_code == 400 and "labels[1]" in bad_label.text


def test_supervisors_read_operators_have_no_tab(client: TestClient, root: Actor) -> None:
    make_user(client, root, "sue", "supervisor")
    make_user(client, root, "otto", "operator")
    sign_in(client, "sue", "sue-password")
    page = client.get("/admin/agents")
    assert page.status_code == 200 and "Register an agent" not in page.text
    sign_in(client, "otto", "otto-password")
    assert 'href="/admin/agents"' not in client.get("/admin/keys").text
    refused = client.get("/admin/agents")
    assert refused.status_code == 403 and "agents:read" in refused.text


def test_a_job_run_page_says_where_its_job_runs(client: TestClient, csrf: str, root: Actor) -> None:
    plan = {
        "name": "routed",
        "jobs": [
            {"name": "on-gpu", "kind": "command", "command": "true", "agent": "label:gpu"},
            {"name": "here", "kind": "command", "command": "true"},
        ],
    }
    applied = client.post("/api/v1/plans/apply", headers=root.headers, json=plan)
    assert applied.status_code in (200, 201), applied.text
    started = client.post(
        f"/api/v1/plans/{applied.json()['plan']['id']}/runs",
        headers=root.headers,
        json={"force": True},
    )
    assert started.status_code in (200, 201, 202), started.text
    run = client.get(f"/api/v1/runs/{started.json()['run']['id']}", headers=root.headers).json()
    jobs = {job["job_name"]: job for job in run["jobs"]}
    assert jobs["on-gpu"]["agent"] == "label:gpu" and jobs["here"]["agent"] is None
    page = client.get(f"/job-runs/{jobs['on-gpu']['id']}").text
    assert "<dt>Agent</dt><dd>label:gpu</dd>" in page
    assert "<dt>Agent</dt>" not in client.get(f"/job-runs/{jobs['here']['id']}").text
