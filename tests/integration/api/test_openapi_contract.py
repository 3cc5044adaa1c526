"""Real responses of the native API, success and error paths, checked against the OpenAPI
document the server publishes: each status documented for its operation, each content type
listed for that status, each body valid against its schema (openapi-core)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from support.api import Actor, make_user, run_detail, sample_plan, wait_for
from support.contract import Contract, watch
from support.zips import make_zip


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def _walk_accounts(client: TestClient, root: Actor) -> None:
    h = root.headers
    _ok(client.get("/healthz"))
    _ok(client.get("/livez"))
    assert client.get("/readyz").status_code in (200, 503)  # both documented: checked
    _ok(client.get("/metrics"), 401)
    for accept in ("text/plain", "application/openmetrics-text"):
        assert client.get("/metrics", headers={**h, "Accept": accept}).status_code == 200
    _ok(client.get("/api/v1/cron/preview", params={"expression": "0 0 12 * * ?", "count": 2}))
    _ok(client.get("/api/v1/cron/preview", params={"expression": "0 0 12 * * MON"}), 422)
    _ok(client.get("/api/v1/cron/preview", params={"expression": "x%00"}), 422)  # NUL filter
    _ok(client.post("/oauth/token", data={}), 400)
    _ok(client.post("/oauth/token", data={"grant_type": "password", "username": "root"}), 400)
    bad = {"grant_type": "password", "username": "root", "password": "wrong-password"}
    _ok(client.post("/oauth/token", data=bad), 400)
    wrong_client = {"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"}
    _ok(client.post("/oauth/token", data=wrong_client), 401)
    _ok(client.get("/api/v1/plans"), 401)
    _ok(client.get("/api/v1/plans", headers={"Authorization": "Bearer nonsense"}), 401)

    tenant = _ok(
        client.post(
            "/api/v1/tenants",
            headers=h,
            json={"name": "acme", "admin": {"username": "acme-admin", "password": "acme-pw-123"}},
        ),
        201,
    )
    _ok(client.post("/api/v1/tenants", headers=h, json={"name": "acme"}), 409)
    _ok(client.get("/api/v1/tenants", headers=h))
    _ok(client.get(f"/api/v1/tenants/{tenant['id']}", headers=h))
    _ok(client.get("/api/v1/tenants/nope", headers=h), 404)
    limits = {"settings": {"export_job_limit": 2}}
    _ok(client.patch(f"/api/v1/tenants/{tenant['id']}", headers=h, json=limits))
    _ok(client.patch("/api/v1/tenants/nope", headers=h, json=limits), 404)
    _ok(client.patch(f"/api/v1/tenants/{tenant['id']}", headers=h, json={"settings": 1}), 422)
    _ok(client.post("/api/v1/tenants", headers=h, json={"name": ""}), 422)
    _ok(client.delete(f"/api/v1/tenants/{tenant['id']}", headers=h), 204)

    viewer = make_user(client, root, "vera", "viewer")
    _ok(client.get("/api/v1/nodes", headers=h, params={"state": "live", "limit": 5}))
    _ok(client.get("/api/v1/nodes", headers=h, params={"state": "gone"}), 422)
    _ok(client.get("/api/v1/nodes", headers=viewer.headers), 403)
    _ok(client.post("/api/v1/folders", headers=viewer.headers, json={"path": "x"}), 403)
    users = _ok(client.get("/api/v1/users", headers=h))
    user = next(u for u in users if u["username"] == "vera")
    _ok(client.get(f"/api/v1/users/{user['id']}", headers=h))
    _ok(client.get("/api/v1/users/nobody", headers=h), 404)
    _ok(client.patch(f"/api/v1/users/{user['id']}", headers=h, json={"role": "operator"}))
    _ok(client.patch("/api/v1/users/me", headers=h, json={"role": "viewer"}), 409)
    dup = {"username": "vera", "password": "vera-password-2", "role": "viewer"}
    _ok(client.post("/api/v1/users", headers=h, json=dup), 409)
    _ok(client.delete(f"/api/v1/users/{user['id']}", headers=h), 204)

    key = _ok(client.post("/api/v1/api-keys", headers=h, json={"name": "ci"}), 201)
    _ok(client.get("/api/v1/api-keys", headers={"X-API-Key": key["key"]}))
    _ok(client.get(f"/api/v1/api-keys/{key['id']}", headers=h))
    _ok(client.get("/api/v1/api-keys/nope", headers=h), 404)
    _ok(client.delete(f"/api/v1/api-keys/{key['id']}", headers=h))
    token = {"grant_type": "client_credentials", "client_id": key["id"], "client_secret": "no"}
    _ok(client.post("/oauth/token", data=token), 401)

    agent = _ok(client.post("/api/v1/agents", headers=h, json={"name": "edge-1"}), 201)
    _ok(client.post("/api/v1/agents", headers=h, json={"name": "edge-1"}), 409)
    _ok(client.post("/api/v1/agents", headers=h, json={"name": "edge 1"}), 422)
    _ok(client.get("/api/v1/agents", headers=h, params={"state": "offline", "limit": 5}))
    _ok(client.get("/api/v1/agents", headers=h, params={"state": "gone"}), 422)
    _ok(client.get("/api/v1/agents/edge-1", headers=h))
    _ok(client.get("/api/v1/agents/nope", headers=h), 404)
    _ok(client.get("/api/v1/plans", headers={"X-API-Key": agent["key"]}), 403)
    agent_token = {**token, "client_secret": agent["key"]}
    _ok(client.post("/oauth/token", data=agent_token), 400)
    _walk_agent_protocol(client, root, {"X-API-Key": agent["key"]})
    _ok(client.delete(f"/api/v1/agents/{agent['id']}", headers=h))
    _ok(client.delete("/api/v1/agents/nope", headers=h), 404)
    _ok(client.get("/api/v1/plans", headers={"X-API-Key": agent["key"]}), 401)

    secret = {"value": "s3cr3t"}
    _ok(client.put("/api/v1/secrets/DB_PASSWORD", headers=h, json=secret), 201)
    _ok(client.put("/api/v1/secrets/DB_PASSWORD", headers=h, json=secret))
    _ok(client.put("/api/v1/secrets/bad name", headers=h, json=secret), 422)
    _ok(client.get("/api/v1/secrets", headers=h, params={"limit": 5}))
    _ok(client.get("/api/v1/secrets/DB_PASSWORD", headers=h))
    _ok(client.get("/api/v1/secrets/nope", headers=h), 404)
    _ok(client.delete("/api/v1/secrets/DB_PASSWORD", headers=h), 204)
    _ok(client.delete("/api/v1/secrets/DB_PASSWORD", headers=h), 404)

    days = {"name": "hol", "days": ["12-25"]}
    _ok(client.post("/api/v1/calendars", headers=h, json=days), 201)
    _ok(client.post("/api/v1/calendars", headers=h, json=days), 409)
    _ok(client.post("/api/v1/calendars", headers=h, json={"name": "x", "days": ["13-01"]}), 422)
    _ok(client.get("/api/v1/calendars", headers=h))
    _ok(client.get("/api/v1/calendars/hol", headers=h))
    _ok(client.get("/api/v1/calendars/nope", headers=h), 404)
    _ok(client.put("/api/v1/calendars/hol", headers=h, json={"days": ["2030-01-01"]}))
    _ok(client.put("/api/v1/calendars/new", headers=h, json={"days": []}), 201)
    event = ["BEGIN:VEVENT", "DTSTART;VALUE=DATE:20300101", "END:VEVENT"]
    ics = "\r\n".join(["BEGIN:VCALENDAR", *event, "END:VCALENDAR", ""])
    _ok(client.post("/api/v1/calendars/import", headers=h, json={"name": "i", "ics": ics}), 201)
    _ok(client.post("/api/v1/calendars/import", headers=h, json={"name": "i", "ics": ics}))
    _ok(client.post("/api/v1/calendars/import", headers=h, json={"name": "i", "ics": "x"}), 422)
    calendar_plan = {
        "name": "calendared",
        "window": {"cron": "0 0 6 * * ?", "calendar": "hol"},
        "jobs": [{"name": "a", "kind": "command", "command": "true"}],
    }
    _ok(client.post("/api/v1/plans", headers=h, json=calendar_plan), 201)
    _ok(client.delete("/api/v1/calendars/hol", headers=h), 409)
    _ok(client.delete("/api/v1/plans/calendared", headers=h), 204)
    _ok(client.delete("/api/v1/calendars/hol", headers=h), 204)
    _ok(client.delete("/api/v1/calendars/hol", headers=h), 404)

    # failed HTTP Basic logins are throttled: 429 with Retry-After
    for _ in range(6):
        last = client.get("/api/v1/plans", auth=("vera", "wrong-password"))
    assert last.status_code == 429, last.text


def _walk_agent_protocol(client: TestClient, root: Actor, agent: dict[str, str]) -> None:
    hello = {"protocol": 1, "host": "h", "version": "v", "slots": 1}
    held = [{"job_run_id": "gone", "attempt": 1}]
    _ok(client.post("/api/v1/agent/hello", headers=agent, json={**hello, "holding": held}))
    _ok(client.post("/api/v1/agent/hello", headers=agent, json={**hello, "protocol": 99}), 409)
    _ok(client.post("/api/v1/agent/hello", headers=agent, json={**hello, "slots": 0}), 422)
    _ok(client.post("/api/v1/agent/hello", headers=root.headers, json=hello), 403)
    _ok(client.post("/api/v1/agent/hello", json=hello), 401)
    _ok(client.post("/api/v1/agent/claim", headers=agent, json={"free": 1, "wait_seconds": 0}))
    _ok(client.post("/api/v1/agent/heartbeat", headers=agent, json={"holding": held}))
    chunk = {"job_run_id": "gone", "attempt": 1, "seq": 0, "text": "x"}
    _ok(client.post("/api/v1/agent/output", headers=agent, json={"chunks": [chunk]}))
    result = {"job_run_id": "gone", "attempt": 1, "succeeded": True}
    _ok(client.post("/api/v1/agent/results", headers=agent, json={"results": [result]}))


def _walk_plans_and_runs(client: TestClient, root: Actor) -> None:
    h = root.headers
    folder = _ok(client.post("/api/v1/folders", headers=h, json={"path": "ops"}), 201)
    _ok(client.post("/api/v1/folders", headers=h, json={"path": "ops"}), 409)
    _ok(client.get("/api/v1/folders", headers=h))
    _ok(client.get(f"/api/v1/folders/{folder['id']}", headers=h))
    _ok(client.get("/api/v1/folders/nope", headers=h), 404)

    document = {
        "name": "contract",
        "folder": "ops",
        "jobs": [{"name": "work", "kind": "command", "command": "echo contract"}],
    }
    plan = _ok(client.post("/api/v1/plans", headers=h, json=document), 201)
    _ok(client.post("/api/v1/plans", headers=h, json=document), 409)
    invalid = {**document, "jobs": [{"name": "work", "kind": "command"}]}
    problem = _ok(client.post("/api/v1/plans", headers=h, json=invalid), 422)
    assert problem["errors"], problem
    _ok(client.post("/api/v1/plans", headers=h, content=b"{not json"), 422)
    huge = {**document, "description": "x" * (11 * 1024 * 1024)}
    _ok(client.post("/api/v1/plans", headers=h, json=huge), 413)
    _ok(client.delete(f"/api/v1/folders/{folder['id']}", headers=h), 409)

    url = f"/api/v1/plans/{plan['id']}"
    _ok(client.post("/api/v1/plans/apply", headers=h, json={**document, "description": "v2"}))
    _ok(client.get("/api/v1/plans", headers=h))
    _ok(client.get(url, headers=h))
    _ok(client.get("/api/v1/plans/nope", headers=h), 404)
    _ok(client.put(url, headers=h, json={**document, "description": "v3"}))
    _ok(client.get(f"{url}/versions", headers=h))
    _ok(client.get(f"{url}/versions/1.0.0", headers=h))
    _ok(client.get(f"{url}/versions/9.9.9", headers=h), 404)
    _ok(client.post(f"{url}/disable", headers=h))
    _ok(client.post(f"{url}/enable", headers=h))
    _ok(client.post(f"{url}/jobs/work/disable", headers=h))
    _ok(client.post(f"{url}/jobs/work/enable", headers=h))
    _ok(client.post(f"{url}/jobs/ghost/disable", headers=h), 404)

    started = _ok(client.post(f"{url}/runs", headers=h, json={}), 201)
    run_id = started["run"]["id"]
    _ok(client.post(f"{url}/runs", headers=h, json={"parameters": {"nope": "1"}}), 422)
    _ok(client.post("/api/v1/plans/nope/runs", headers=h, json={}), 404)
    run = wait_for(
        lambda: (lambda r: r if r["ended_at"] else None)(run_detail(client, root, run_id)),
        what="the run to end",
    )
    job_run = run["jobs"][0]
    _ok(client.get("/api/v1/runs", headers=h, params={"plan": plan["id"]}))
    _ok(client.get("/api/v1/runs", headers=h, params={"since": "yesterday"}), 422)
    _ok(client.get("/api/v1/runs/nope", headers=h), 404)
    _ok(client.post(f"/api/v1/runs/{run_id}/stop", headers=h), 409)
    _ok(client.get("/api/v1/job-runs", headers=h, params={"run": run_id}))
    _ok(client.get(f"/api/v1/job-runs/{job_run['id']}", headers=h))
    _ok(client.get(f"/api/v1/job-runs/{job_run['id']}/output", headers=h))
    _ok(client.get("/api/v1/job-runs/nope/output", headers=h), 404)
    _ok(client.post(f"/api/v1/job-runs/{job_run['id']}/hold", headers=h), 409)
    _ok(client.post(f"/api/v1/job-runs/{job_run['id']}/explode", headers=h), 422)
    _ok(client.get(f"{url}/stats", headers=h))
    _ok(client.post(f"/api/v1/runs/{run_id}/rerun", headers=h, json={"jobs": ["ghost"]}), 422)
    _ok(client.post(f"/api/v1/runs/{run_id}/rerun", headers=h, json={"jobs": "failed"}), 409)
    _ok(client.post(f"/api/v1/runs/{run_id}/rerun", headers=h, json={"jobs": "all"}))
    _ok(client.post("/api/v1/runs/nope/rerun", headers=h, json={}), 404)
    _ok(client.get(f"/api/v1/runs/{run_id}/reruns", headers=h))
    wait_for(lambda: run_detail(client, root, run_id)["ended_at"], what="the re-run to end")
    _ok(client.post("/api/v1/events", headers=h, json={"name": "go"}))

    _ok(client.put("/api/v1/services/orders", headers=h, json={"base_url": "http://x"}), 201)
    _ok(client.put("/api/v1/services/orders", headers=h, json={"base_url": "http://y"}))
    _ok(client.put("/api/v1/services/orders", headers=h, json={"base": "http://y"}), 422)
    _ok(client.get("/api/v1/services", headers=h))
    _ok(client.get("/api/v1/services/orders", headers=h))
    _ok(client.delete("/api/v1/services/orders", headers=h), 204)
    _ok(client.get("/api/v1/services/orders", headers=h), 404)

    _ok(client.get("/api/v1/notifications", headers=h))
    _ok(client.get("/api/v1/notifications/nope", headers=h), 404)

    _ok(client.get("/api/v1/audit", headers=h, params={"action": "plan."}))
    _ok(client.get("/api/v1/audit", headers=h, params={"outcome": "maybe"}), 422)
    exported = client.get("/api/v1/audit/export", headers=h, params={"action": "plan."})
    assert exported.status_code == 200, exported.text

    windowed = {**document, "name": "contract-bf", "window": {"cron": "0 0 12 * * ?"}}
    windowed_plan = _ok(client.post("/api/v1/plans", headers=h, json=windowed), 201)
    backfill_url = f"/api/v1/plans/{windowed_plan['id']}/backfill"
    week = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-08T00:00:00Z"}
    _ok(client.post(backfill_url, headers=h, json={**week, "dry_run": True}))
    _ok(client.post(f"{url}/backfill", headers=h, json=week), 409)  # no window
    _ok(client.post(backfill_url, headers=h, json={**week, "max_active": 0}), 422)
    _ok(client.post("/api/v1/plans/nope/backfill", headers=h, json=week), 404)
    backfill = _ok(client.post(backfill_url, headers=h, json=week), 201)["backfill"]
    _ok(client.get("/api/v1/backfills", headers=h, params={"state": "running"}))
    _ok(client.get("/api/v1/backfills", headers=h, params={"state": "asleep"}), 422)
    _ok(client.get(f"/api/v1/backfills/{backfill['id']}", headers=h))
    _ok(client.get("/api/v1/backfills/nope", headers=h), 404)
    _ok(client.post(f"/api/v1/backfills/{backfill['id']}/cancel", headers=h))
    _ok(client.post("/api/v1/backfills/nope/cancel", headers=h), 404)
    _ok(client.delete(f"/api/v1/backfills/{backfill['id']}", headers=h))
    _ok(client.delete("/api/v1/backfills/nope", headers=h), 404)

    _ok(client.delete(url, headers=h), 204)


def _finished(client: TestClient, actor: Actor, url: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        job: dict[str, Any] = _ok(client.get(url, headers=actor.headers))
        return job if job["status"] in ("completed", "failed", "cancelled") else None

    return wait_for(probe, what=f"{url} to finish")


def _walk_bundles(client: TestClient, root: Actor) -> None:
    h = root.headers
    _ok(client.post("/api/v1/plans", headers=h, json=sample_plan()), 201)
    created = _ok(
        client.post("/api/v1/exports", headers=h, json={"plans": ["finance/eod/nightly"]}), 202
    )
    _ok(client.post("/api/v1/exports", headers=h, json={"plans": ["no/such/plan"]}), 404)
    _ok(client.post("/api/v1/exports", headers=h, json={}), 422)
    url = f"/api/v1/exports/{created['id']}"
    job = _finished(client, root, url)
    _ok(client.get("/api/v1/exports", headers=h))
    _ok(client.get("/api/v1/exports/nope", headers=h), 404)
    bundle = client.get(job["file"]["url"], headers=h)
    assert bundle.status_code == 200
    _ok(client.patch(url, headers=h, json={"status": "cancelled"}), 409)
    _ok(client.patch(url, headers=h, json={"status": "paused"}), 422)

    files = {"file": ("plans.zip", bundle.content, "application/zip")}
    imported = _ok(
        client.post("/api/v1/imports", headers=h, files=files, data={"dry_run": "true"}), 202
    )
    _ok(client.post("/api/v1/imports", headers=h, files=files, data={"dry_run": "maybe"}), 422)
    _finished(client, root, f"/api/v1/imports/{imported['id']}")
    not_a_bundle = {"file": ("plans.zip", make_zip({"a.txt": b"a"}), "application/zip")}
    failed = _ok(client.post("/api/v1/imports", headers=h, files=not_a_bundle), 202)
    _finished(client, root, f"/api/v1/imports/{failed['id']}")
    _ok(client.get("/api/v1/imports", headers=h))
    _ok(client.get("/api/v1/imports/nope", headers=h), 404)
    _ok(client.patch("/api/v1/imports/nope", headers=h, json={"status": "cancelled"}), 404)


def test_native_responses_match_the_openapi_document(client: TestClient, root: Actor) -> None:
    contract = watch(client)
    _walk_accounts(client, root)
    _walk_plans_and_runs(client, root)
    _walk_bundles(client, root)
    contract.assert_clean()
    _assert_covered(contract)


def _assert_covered(contract: Contract) -> None:
    operations = {(method, path) for method, path, _ in contract.seen}
    statuses = {status for _, _, status in contract.seen}
    native = [
        (method.upper(), path)
        for path, item in contract.document["paths"].items()
        for method in item
        if not path.startswith(("/rest/", "/etl-mgr/", "/{tenant}/", "/admin/", "/authService/"))
    ]
    missing = sorted(set(native) - operations)
    assert not missing, f"operations never exercised: {missing}"
    assert {200, 201, 202, 204, 400, 401, 403, 404, 409, 413, 422, 429} <= statuses


def test_dialect_errors_match_the_openapi_document(client: TestClient, root: Actor) -> None:
    """Each dialect's errors are its product's shape (text for Ikasan, JSON for the others),
    as the document says; the 413 of the size limit stays problem details."""
    dialects = ("/rest/", "/etl-mgr/", "/default/", "/other/", "/admin/", "/authService/")
    contract = watch(client, dialects, 400)
    h = root.headers
    basic = (root.username, root.password)
    assert client.get("/rest/export/context/nightly").status_code == 401
    assert client.get("/rest/export/context/nope", auth=basic).status_code == 404
    assert client.get("/rest/context/status/nope/nope", auth=basic).status_code == 404
    assert client.post("/rest/import/context", auth=basic, data={"x": "1"}).status_code >= 400

    diem = "/etl-mgr/api/apijob"
    token = h["Authorization"].split()[1]
    assert client.post(diem, json={"id": "x", "action": "start"}).status_code == 401
    missing = client.post(
        diem, headers={"x-api-key": token}, json={"id": "nope", "action": "start"}
    )
    assert missing.status_code == 404
    assert (
        client.post(diem, headers={"x-api-key": token}, json={"action": "dance"}).status_code == 400
    )
    huge = {"id": "x" * (11 * 1024 * 1024), "action": "start"}
    assert client.post(diem, headers={"x-api-key": token}, json=huge).status_code == 413

    assert client.post("/default/api/v4/export", json={}).status_code == 401
    assert client.get("/default/api/v4/export/nope/status", headers=h).status_code == 404
    assert client.get("/other/api/v4/export/status", headers=h).status_code == 403
    assert client.post("/default/api/v4/export", headers=h, json={"inputs": 1}).status_code >= 400

    assert client.get("/admin/api/jobs/job").status_code == 401
    assert client.get("/admin/api/jobs/999", headers=h).status_code == 404
    assert client.post("/admin/api/jobs/job", headers=h, json={"jobName": 1}).status_code == 400
    login = "/authService/accounts/login"
    assert client.post(login, data={}).status_code == 400
    assert client.post(login, data={"userid": "root", "password": "wrong"}).status_code == 401

    contract.assert_clean()
    assert contract.checked == 17  # every request above
