"""``/api/v1/agents``: the agent registry (issue #14 item 3) and agent keys (item 4).

A registered agent's key is answered once and only its hash is stored (the row and the audit
log are scanned for it); agents are tenant-scoped; an agent key opens no API but the (future)
agent protocol: every native, dialect and console entry point answers 403, and 401 once the
agent is revoked. On SQLite and PostgreSQL (the ``database`` fixture)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from jobplan.service.container import Services
from jobplan.store.tables import agents, audit_records
from support.api import Actor, make_tenant, make_user

AGENT_ONLY = "an agent key opens only the agent protocol"


def _create(client: TestClient, actor: Actor, name: str, **body: object) -> dict[str, object]:
    response = client.post("/api/v1/agents", headers=actor.headers, json={"name": name, **body})
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


def _names(client: TestClient, actor: Actor, **params: str) -> list[str]:
    response = client.get("/api/v1/agents", headers=actor.headers, params=params)
    assert response.status_code == 200, response.text
    return [a["name"] for a in response.json()]


def test_the_key_is_answered_once_and_only_its_hash_is_stored(
    client: TestClient, root: Actor, services: Services
) -> None:
    created = _create(client, root, "edge-1", labels=["linux", "eu", "linux"])
    key = str(created["key"])
    assert key.startswith("jpa_")
    secret = key.split("_", 2)[2]
    assert created["labels"] == ["eu", "linux"]
    assert created["state"] == "offline"
    assert created["running_job_runs"] == 0
    shown = client.get(f"/api/v1/agents/{created['id']}", headers=root.headers).json()
    assert "key" not in shown and shown["name"] == "edge-1"
    listed = client.get("/api/v1/agents", headers=root.headers)
    assert "key" not in listed.json()[0] and listed.headers["X-Total-Count"] == "1"
    with services.database.read() as conn:
        row = conn.execute(select(agents)).one()
        records = conn.execute(
            select(audit_records).where(audit_records.c.action == "agent.create")
        ).all()
    assert row.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    for value in row:
        assert secret not in str(value) and key not in str(value)
    assert len(records) == 1 and records[0].target_path == "edge-1"
    assert records[0].outcome == "done"
    for value in records[0]:
        assert secret not in str(value) and row.key_hash not in str(value)


def test_an_agent_key_is_refused_by_every_api_and_by_none_once_revoked(
    client: TestClient, root: Actor, services: Services
) -> None:
    key = str(_create(client, root, "edge-1")["key"])
    bearer = {"Authorization": f"Bearer {key}"}
    native = [
        client.get("/api/v1/plans", headers=bearer),
        client.get("/api/v1/agents", headers={"X-API-Key": key}),
        client.post("/api/v1/agents", headers=bearer, json={"name": "edge-2"}),
    ]
    for response in native:
        assert response.status_code == 403, response.text
        assert AGENT_ONLY in response.json()["detail"]
    dialects = [
        client.post("/etl-mgr/api/apijob", headers={"x-api-key": key}, json={}),
        client.get(f"/{root.tenant}/api/v4/export/status", headers=bearer),
        client.get("/admin/api/jobs/job", headers={"X-VoltMX-Authorization": key}),
        client.get("/rest/context/status/json/allInstance", auth=("root", key)),
    ]
    for response in dialects:
        assert response.status_code == 403, response.text
        assert AGENT_ONLY in response.text
    console = client.post(
        "/signin", data={"username": "root", "password": key}, follow_redirects=False
    )
    assert console.status_code == 403 and AGENT_ONLY in console.text
    token = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "x", "client_secret": key},
    )
    assert token.status_code == 400 and token.json()["error"] == "unauthorized_client"

    revoked = client.delete("/api/v1/agents/edge-1", headers=root.headers)
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    for response in (
        client.get("/api/v1/plans", headers=bearer),
        client.get("/api/v1/agents", headers={"X-API-Key": key}),
        client.post("/etl-mgr/api/apijob", headers={"x-api-key": key}, json={}),
    ):
        assert response.status_code == 401, response.text
        assert "agent 'edge-1' has been revoked" in response.text
    with services.database.read() as conn:
        actions = conn.execute(
            select(audit_records.c.action).where(audit_records.c.action.like("agent.%"))
        ).scalars()
        assert sorted(actions) == ["agent.create", "agent.revoke"]
    # a wrong secret for a real agent is a 401 too
    wrong = key[: key.rindex("_") + 1] + "x" * 43
    assert client.get("/api/v1/plans", headers={"X-API-Key": wrong}).status_code == 401
    # each refused agent key is a failed login in the audit log: the agent, never the secret
    with services.database.read() as conn:
        failed = conn.execute(
            select(audit_records).where(audit_records.c.auth_method == "agent_key")
        ).all()
    assert len(failed) == 4, failed
    for row in failed:
        assert (row.action, row.outcome, row.target_type) == ("login", "refused", "agent")
        assert row.target_path == "edge-1" and row.tenant_name == root.tenant
        assert key.split("_", 2)[2] not in str(tuple(row))
    assert sorted(row.message for row in failed)[-1] == "agent key is invalid"


def test_revoking_frees_the_name_and_state_is_derived_from_heartbeats(
    client: TestClient, root: Actor, services: Services
) -> None:
    first = _create(client, root, "edge-1")
    duplicate = client.post("/api/v1/agents", headers=root.headers, json={"name": "edge-1"})
    assert duplicate.status_code == 409, duplicate.text
    assert client.delete("/api/v1/agents/edge-1", headers=root.headers).status_code == 200
    second = _create(client, root, "edge-1", labels=["linux"])
    assert second["id"] != first["id"]
    shown = client.get("/api/v1/agents/edge-1", headers=root.headers).json()
    assert shown["id"] == second["id"] and shown["state"] == "offline"
    _create(client, root, "edge-2")
    lease = services.settings.lease_seconds
    now = datetime.now(UTC)
    with services.database.transaction() as conn:  # as the agent protocol will write them
        conn.execute(
            update(agents).where(agents.c.id == second["id"]).values(last_heartbeat=now, slots=4)
        )
        stale = now - timedelta(seconds=lease * 3)
        conn.execute(update(agents).where(agents.c.name == "edge-2").values(last_heartbeat=stale))
    assert _names(client, root, state="online") == ["edge-1"]
    assert _names(client, root, state="offline") == ["edge-2"]
    assert _names(client, root, state="revoked") == ["edge-1"]
    assert _names(client, root) == ["edge-1", "edge-1", "edge-2"]
    assert _names(client, root, limit="1", offset="2") == ["edge-2"]
    online = client.get("/api/v1/agents/edge-1", headers=root.headers).json()
    assert online["state"] == "online" and online["slots"] == 4


def test_agents_belong_to_their_tenant(client: TestClient, root: Actor) -> None:
    created = _create(client, root, "edge-1")
    acme = make_tenant(client, root, "acme")
    assert _names(client, acme) == []
    for ref in ("edge-1", created["id"]):
        assert client.get(f"/api/v1/agents/{ref}", headers=acme.headers).status_code == 404
        assert client.delete(f"/api/v1/agents/{ref}", headers=acme.headers).status_code == 404
    # the same name in another tenant is another agent
    assert _create(client, acme, "edge-1")["id"] != created["id"]
    assert client.get("/api/v1/agents/edge-1", headers=root.headers).json()["state"] == "offline"


def test_roles_and_validation(client: TestClient, root: Actor) -> None:
    supervisor = make_user(client, root, "sue", "supervisor")
    operator = make_user(client, root, "otto", "operator")
    _create(client, root, "edge-1")
    assert _names(client, supervisor) == ["edge-1"]
    refused = client.post("/api/v1/agents", headers=supervisor.headers, json={"name": "x"})
    assert refused.status_code == 403 and "agents:write" in refused.json()["detail"]
    assert client.delete("/api/v1/agents/edge-1", headers=supervisor.headers).status_code == 403
    assert client.get("/api/v1/agents", headers=operator.headers).status_code == 403
    cases = [
        ({"name": "edge 1"}, "name", "contains ' '"),
        ({"name": ""}, "name", "must not be empty"),
        ({"name": "label:linux"}, "name", "contains ':'"),
        ({"name": "e", "labels": ["ok", "no/slash"]}, "labels[1]", "contains '/'"),
        ({"name": "e", "labels": [f"l{i}" for i in range(21)]}, "labels", "at most 20"),
        ({"name": "e", "extra": 1}, "extra", ""),
    ]
    for body, field, message in cases:
        response = client.post("/api/v1/agents", headers=root.headers, json=body)
        assert response.status_code == 422, response.text
        errors = response.json()["errors"]
        assert any(e["field"] == field and message in e["message"] for e in errors), errors
    bad_state = client.get("/api/v1/agents", headers=root.headers, params={"state": "gone"})
    assert bad_state.status_code == 422


def test_applying_a_plan_naming_an_unknown_agent_warns_and_stores_it(
    client: TestClient, root: Actor
) -> None:
    _create(client, root, "edge-1", labels=["linux"])
    document = {
        "name": "routed",
        "jobs": [
            {"name": "known", "kind": "command", "command": "true", "agent": "edge-1"},
            {"name": "by-label", "kind": "command", "command": "true", "agent": "label:linux"},
            {"name": "lost", "kind": "command", "command": "true", "agent": "edge-9"},
            {"name": "lost-too", "kind": "command", "command": "true", "agent": "edge-9"},
            {
                "name": "watch",
                "kind": "file",
                "path": "/tmp",
                "patterns": ["*.csv"],
                "agent": "label:gpu",
            },
            # http jobs stay on the server: their agent (an Ikasan name) is not checked
            {"name": "call", "kind": "http", "url": "http://127.0.0.1:9/x", "agent": "nobody"},
        ],
    }
    applied = client.post("/api/v1/plans/apply", headers=root.headers, json=document)
    assert applied.status_code == 200, applied.text
    assert applied.json()["created"] is True
    assert applied.json()["warnings"] == [
        "jobs lost, lost-too: no agent 'edge-9' is registered in tenant 'default'; they "
        "run on the server until one is (JOBPLAN_UNKNOWN_AGENTS=server)",
        "jobs watch: no registered agent has the label 'gpu'; they wait until an agent "
        "with that label is registered and connects",
    ]
    plan_id = applied.json()["plan"]["id"]
    # a revoked agent counts as unknown; PUT answers the same warnings
    assert client.delete("/api/v1/agents/edge-1", headers=root.headers).status_code == 200
    document["description"] = "v2"
    updated = client.put(f"/api/v1/plans/{plan_id}", headers=root.headers, json=document)
    assert updated.status_code == 200, updated.text
    assert [w.split(":")[0] for w in updated.json()["warnings"]] == [
        "jobs known",  # sorted by what the jobs name: edge-1, edge-9, label:gpu, label:linux
        "jobs lost, lost-too",
        "jobs watch",
        "jobs by-label",
    ]
