"""The audit log (issue #13, item 4): one record per state-changing request through every
adapter and per sign-in attempt, refusals included, with what changed and never a secret;
written in the change's own transaction; read through ``/api/v1/audit`` by supervisors and
admins of the tenant."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from jobplan.engine.engine import Engine
from jobplan.errors import JobplanError
from jobplan.model import PlanDocument
from jobplan.service.container import Services
from jobplan.store import audit as audit_store
from jobplan.store.records import AuditRecord
from jobplan.store.tables import audit_records
from support.api import (
    ROOT_PASSWORD,
    ROOT_USER,
    Actor,
    make_tenant,
    make_user,
    run_detail,
    sample_plan,
    wait_for,
)

AUDIT = "/api/v1/audit"


def records(client: TestClient, reader: Actor, **params: Any) -> list[dict[str, Any]]:
    response = client.get(AUDIT, headers=reader.headers, params={"limit": 500, **params})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def latest(client: TestClient, reader: Actor, action: str, **params: Any) -> dict[str, Any]:
    found = records(client, reader, action=action, **params)
    assert found, f"no {action} record"
    return found[0]


def change(record: dict[str, Any], path: str) -> dict[str, Any]:
    changes = {c["path"]: c for c in record["changes"] or []}
    assert path in changes, record["changes"]
    return changes[path]


def raw_rows(services: Services) -> list[str]:
    """Every stored audit row, whole, as text: for scanning for secrets."""
    with services.database.read() as conn:
        return [
            json.dumps(dict(row._mapping), default=str)
            for row in conn.execute(select(audit_records))
        ]


def test_native_changes_record_who_what_and_what_changed(
    client: TestClient, root: Actor, services: Services
) -> None:
    applied = client.post("/api/v1/plans/apply", headers=root.headers, json=sample_plan())
    assert applied.status_code == 200, applied.text
    plan_id = applied.json()["plan"]["id"]
    created = latest(client, root, "plan.apply")
    assert created["outcome"] == "done" and created["status"] is None
    assert created["actor"]["name"] == ROOT_USER and created["auth_method"] == "bearer"
    assert created["source"] == "testclient" and created["user_agent"] == "testclient"
    assert created["target"] == {"type": "plan", "id": plan_id, "path": "finance/eod/nightly"}
    assert change(created, "version") == {
        "kind": "added",
        "path": "version",
        "before": None,
        "after": "1.0.0",
    }

    # a re-apply with a changed cron: the document diff, old -> new
    edited = sample_plan()
    edited["jobs"][0]["cron"] = "0 30 2 * * ?"  # type: ignore[index]
    assert client.post("/api/v1/plans/apply", headers=root.headers, json=edited).status_code == 200
    reapplied = latest(client, root, "plan.apply")
    assert change(reapplied, "jobs.gate.cron") == {
        "kind": "changed",
        "path": "jobs.gate.cron",
        "before": "0 0 1 * * ?",
        "after": "0 30 2 * * ?",
    }
    assert change(reapplied, "version")["before"] == "1.0.0"
    assert change(reapplied, "version")["after"] == "1.0.1"

    assert client.post(f"/api/v1/plans/{plan_id}/disable", headers=root.headers).status_code == 200
    disabled = latest(client, root, "plan.disable")
    assert change(disabled, "enabled") == {
        "kind": "changed",
        "path": "enabled",
        "before": True,
        "after": False,
    }

    # a run, an operator action on one of its jobs, and the stop
    started = client.post(f"/api/v1/plans/{plan_id}/runs", headers=root.headers, json={})
    assert started.status_code in (200, 201), started.text
    run_id = started.json()["run"]["id"]
    record = latest(client, root, "run.start")
    assert record["target"] == {"type": "plan_run", "id": run_id, "path": "finance/eod/nightly"}
    extract = next(
        j for j in run_detail(client, root, run_id)["jobs"] if j["job_name"] == "extract"
    )
    held = client.post(f"/api/v1/job-runs/{extract['id']}/hold", headers=root.headers)
    assert held.status_code == 200, held.text
    hold = latest(client, root, "job_run.hold")
    assert hold["target"]["path"] == "finance/eod/nightly/extract"
    assert change(hold, "status")["after"] == "ON_HOLD"
    assert client.post(f"/api/v1/runs/{run_id}/stop", headers=root.headers).status_code == 200
    assert latest(client, root, "run.stop")["target"]["id"] == run_id

    # settings, users and roles: the changed fields
    patched = client.patch(
        "/api/v1/tenants/default", headers=root.headers, json={"settings": {"export_job_limit": 3}}
    )
    assert patched.status_code == 200, patched.text
    settings = latest(client, root, "settings.update")
    assert settings["changes"] == [
        {"kind": "added", "path": "settings.export_job_limit", "before": None, "after": 3}
    ]
    user = client.post(
        "/api/v1/users",
        headers=root.headers,
        json={"username": "dora", "password": "dora-password-1", "role": "viewer"},
    ).json()
    assert change(latest(client, root, "user.create"), "role")["after"] == "viewer"
    promoted = client.patch(
        f"/api/v1/users/{user['id']}", headers=root.headers, json={"role": "operator"}
    )
    assert promoted.status_code == 200, promoted.text
    assert latest(client, root, "user.role")["changes"] == [
        {"kind": "changed", "path": "role", "before": "viewer", "after": "operator"}
    ]
    reset = client.patch(
        f"/api/v1/users/{user['id']}",
        headers=root.headers,
        json={"password": "a-new-secret-password-9", "disabled": True},
    )
    assert reset.status_code == 200, reset.text
    updated = latest(client, root, "user.update")
    assert change(updated, "disabled")["after"] is True
    assert change(updated, "password") == {
        "kind": "changed",
        "path": "password",
        "before": None,
        "after": None,
    }

    # a key: its fields, never its secret (the whole stored row is scanned)
    key = client.post(
        "/api/v1/api-keys", headers=root.headers, json={"name": "ci", "scopes": ["plans:read"]}
    ).json()
    made = latest(client, root, "key.create")
    assert made["target"] == {"type": "api_key", "id": key["id"], "path": "ci"}
    assert change(made, "scopes")["after"] == ["plans:read"]
    rows = "\n".join(raw_rows(services))
    secret = key["key"].rpartition("_")[2]
    for never in (secret, key["key"], "a-new-secret-password-9", "dora-password-1", ROOT_PASSWORD):
        assert never not in rows
    assert "$argon2" not in rows
    assert client.delete(f"/api/v1/api-keys/{key['id']}", headers=root.headers).status_code in (
        200,
        204,
    )
    assert latest(client, root, "key.revoke")["target"]["id"] == key["id"]


@pytest.mark.parametrize(
    ("attempt", "action", "status", "fragment"),
    [
        # 403: an operator may not delete plans
        ("delete_as_operator", "plan.delete", 403, "does not allow 'plans:write'"),
        # 409: a taken user name
        ("duplicate_user", "user.create", 409, "already exists"),
        # 422 from a service: an event name no plan can wait for
        ("bad_event", "event.raise", 422, "name"),
        # 422 before any service: a body the framework refuses
        ("bad_body", "request", 422, "jobs"),
    ],
)
def test_refusals_are_recorded_with_status_and_message_and_change_nothing(
    client: TestClient, root: Actor, attempt: str, action: str, status: int, fragment: str
) -> None:
    plan_id = client.post("/api/v1/plans", headers=root.headers, json=sample_plan()).json()["id"]
    operator = make_user(client, root, "olga", "operator")
    before = len(records(client, root))
    if attempt == "delete_as_operator":
        response = client.delete(f"/api/v1/plans/{plan_id}", headers=operator.headers)
    elif attempt == "duplicate_user":
        response = client.post(
            "/api/v1/users",
            headers=root.headers,
            json={"username": "olga", "password": "another-password-1", "role": "viewer"},
        )
    elif attempt == "bad_event":
        response = client.post("/api/v1/events", headers=root.headers, json={"name": "a b"})
    else:
        response = client.post(
            "/api/v1/plans/apply", headers=root.headers, json={"name": "x", "jobs": 7}
        )
    assert response.status_code == status, response.text
    found = records(client, root)
    assert len(found) == before + 1, [r["action"] for r in found[: len(found) - before]]
    refused = found[0]
    assert (refused["action"], refused["outcome"], refused["status"]) == (action, "refused", status)
    assert fragment in refused["message"]
    # nothing changed
    assert client.get(f"/api/v1/plans/{plan_id}", headers=root.headers).status_code == 200
    users = client.get("/api/v1/users", headers=root.headers).json()
    assert [u["username"] for u in users].count("olga") == 1
    if attempt == "delete_as_operator":
        assert refused["actor"]["name"] == "olga"
        assert refused["target"] == {"type": "plan", "id": None, "path": plan_id}


def test_sign_ins_are_recorded_and_failures_keep_no_password(
    client: TestClient, root: Actor, services: Services
) -> None:
    wrong = "wrong-password-that-must-not-be-stored"
    failed = client.post(
        "/oauth/token", data={"grant_type": "password", "username": ROOT_USER, "password": wrong}
    )
    assert failed.status_code == 400  # OAuth: invalid_grant
    basic = client.get("/api/v1/plans", auth=(ROOT_USER, wrong + "-basic"))
    assert basic.status_code == 401
    ok_basic = client.get("/api/v1/plans", auth=(ROOT_USER, ROOT_PASSWORD))
    assert ok_basic.status_code == 200
    bad_key = client.get("/api/v1/plans", headers={"X-API-Key": "jp_0123456789abcdef_nosuchsecret"})
    assert bad_key.status_code == 401
    logins = records(client, root, action="login")
    methods = [(r["auth_method"], r["outcome"], r["status"]) for r in logins]
    # newest first: the key, the Basic failure, the token endpoint's failure, root's login
    # (the successful Basic request is no sign-in record: it would be one per request)
    assert methods == [
        ("api_key", "refused", 401),  # an unknown key names no tenant: system admins see it
        ("basic", "refused", 401),
        ("password", "refused", 400),  # the status the client saw
        ("password", "done", None),
    ], methods
    assert logins[-1]["actor"]["name"] == ROOT_USER
    assert logins[-2]["target"]["path"] == ROOT_USER and logins[-2]["actor"]["id"] is None
    assert logins[-2]["message"].startswith("user name or password is wrong")
    rows = "\n".join(raw_rows(services))
    assert wrong not in rows and "nosuchsecret" not in rows


def test_each_dialect_records_through_the_same_mechanism(client: TestClient, root: Actor) -> None:
    key = client.post("/api/v1/api-keys", headers=root.headers, json={"name": "dialects"}).json()[
        "key"
    ]
    client.post(
        "/api/v1/plans",
        headers=root.headers,
        json={
            "name": "etl1",
            "folder": "etl",
            "jobs": [{"name": "s", "kind": "command", "command": "true"}],
        },
    )
    # DIEM: start by API key, and a refusal (no such job) in DIEM's own shape
    started = client.post(
        "/etl-mgr/api/apijob", headers={"x-api-key": key}, json={"id": "etl1", "action": "start"}
    )
    assert started.status_code == 200, started.text
    diem = latest(client, root, "run.start")
    assert (diem["auth_method"], diem["target"]["path"]) == ("api_key", "etl/etl1")
    assert diem["actor"]["api_key_id"] == key.split("_")[1]
    missing = client.post(
        "/etl-mgr/api/apijob", headers={"x-api-key": key}, json={"id": "nope", "action": "start"}
    )
    assert missing.status_code == 404
    refused = latest(client, root, "run.start", outcome="refused")
    assert (refused["status"], refused["target"]["path"]) == (404, "nope")

    # Volt MX: its login is a sign-in; its job creation is a plan.create
    login = client.post(
        "/authService/accounts/login",
        data={"userid": ROOT_USER, "password": ROOT_PASSWORD},
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert login.status_code == 200, login.text
    assert latest(client, root, "login")["auth_method"] == "password"
    volt = {"X-VoltMX-Authorization": login.json()["claims_token"]["value"]}
    body = {
        "jobName": "weather",
        "jobFrequency": "19 0 * * * ? *",
        "description": "d",
        "jobServiceInfo": {
            "version": "1.0",
            "serviceType": "intSer",
            "serviceName": "svc",
            "objectName": "",
            "operationName": "op",
            "requestheaderMap": {},
            "serviceExecutionType": "SERVER_URL",
            "postData": "{}",
            "operationSecurityLevel": "public",
        },
        "jobStatus": "Active",
        "historyStrategy": "FULL",
        "retentionPeriod": "30",
    }
    made = client.post("/admin/api/jobs/job", headers=volt, json=body)
    assert made.status_code == 200, made.text
    created = latest(client, root, "plan.create")
    assert created["target"]["path"].endswith("weather") and created["auth_method"] == "bearer"
    again = client.post("/admin/api/jobs/job", headers=volt, json=body)
    assert again.status_code == 409
    dup = latest(client, root, "plan.create", outcome="refused")
    assert dup["status"] == 409 and "already exists" in dup["message"]

    # Spark: an export job by API key
    spark = {"x-synthetic-key": key, "x-tenant-name": "default"}
    exported = client.post(
        "/default/api/v4/export", headers=spark, json={"inputs": {"folders": ["etl"]}}
    )
    assert exported.status_code == 200, exported.text
    export = latest(client, root, "export.create")
    assert export["auth_method"] == "api_key" and export["target"]["type"] == "export"

    # Ikasan: a refusal in its 400 style (an empty bundle), then an import, by HTTP Basic
    empty = client.post(
        "/rest/import/context",
        auth=(ROOT_USER, ROOT_PASSWORD),
        content=b"",
        headers={"Content-Type": "application/zip"},
    )
    assert empty.status_code == 400, empty.text
    refused_import = latest(client, root, "import.create", outcome="refused")
    assert refused_import["status"] == 400, (empty.text, records(client, root)[:4])
    ikasan = client.post(
        "/rest/import/context",
        auth=(ROOT_USER, ROOT_PASSWORD),
        content=b"PK",
        headers={"Content-Type": "application/zip"},
    )
    assert ikasan.status_code == 202, ikasan.text
    imported = latest(client, root, "import.create", outcome="done")
    assert imported["auth_method"] == "basic" and imported["target"]["type"] == "import"


def test_a_change_whose_audit_record_cannot_be_written_is_rolled_back(
    services: Services, database_url: str
) -> None:
    """A real trigger refuses the ``done`` record of ``plan.apply``: the plan must not exist
    afterwards, and the failure is itself recorded (its own transaction)."""
    with services.database.transaction() as conn:
        if services.database.dialect == "sqlite":
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_records "
                    "WHEN NEW.action = 'plan.apply' AND NEW.outcome = 'done' "
                    "BEGIN SELECT RAISE(ABORT, 'audit refused'); END"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE FUNCTION refuse_audit() RETURNS trigger AS $$ BEGIN "
                    "IF NEW.action = 'plan.apply' AND NEW.outcome = 'done' THEN "
                    "RAISE EXCEPTION 'audit refused'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_records "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_audit()"
                )
            )
    caller = services.auth.authenticate_basic(ROOT_USER, ROOT_PASSWORD, None, "test")
    document = PlanDocument.model_validate(sample_plan())
    with pytest.raises(Exception, match="audit refused"):
        services.plans.apply(caller, document)
    with pytest.raises(JobplanError):
        services.plans.get(caller, "finance/eod/nightly")
    with services.database.read() as conn:
        failed = conn.execute(
            select(audit_records).where(audit_records.c.action == "plan.apply")
        ).all()
    assert [(r.outcome, r.target_path) for r in failed] == [("failed", "finance/eod/nightly")]


def test_filters_pagination_tenant_scoping_and_export(client: TestClient, root: Actor) -> None:
    acme = make_tenant(client, root, "acme")
    ids = {}
    for name in ("a", "b", "c"):
        response = client.post("/api/v1/plans", headers=acme.headers, json=sample_plan(name, "x"))
        assert response.status_code == 201
        ids[name] = response.json()["id"]
    assert client.delete(f"/api/v1/plans/{ids['a']}", headers=acme.headers).status_code == 204

    viewer = make_user(client, acme, "vic", "operator")  # operators may not read the log

    # tenant A cannot read B's records, and B's admin only B's
    mine = records(client, acme)
    assert mine and {r["tenant"] for r in mine} == {"acme"}
    assert not [r for r in records(client, root) if r["tenant"] == "acme"]
    assert client.get(AUDIT, headers=viewer.headers).status_code == 403

    # filters
    assert [r["target"]["path"] for r in records(client, acme, action="plan.create")] == [
        "x/c",
        "x/b",
        "x/a",
    ]
    assert {r["action"] for r in records(client, acme, action="plan.")} == {
        "plan.create",
        "plan.delete",
    }
    assert [r["action"] for r in records(client, acme, target="x/a")] == [
        "plan.delete",
        "plan.create",
    ]
    assert {r["actor"]["name"] for r in records(client, acme, actor="acme-admin")} == {"acme-admin"}
    assert records(client, acme, actor="nobody") == []
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert records(client, acme, since=future) == []
    assert len(records(client, acme, until=future)) == len(mine)
    bad = client.get(AUDIT, headers=acme.headers, params={"outcome": "maybe"})
    assert bad.status_code == 422 and "outcome" in bad.text

    # pagination as the other lists: X-Total-Count and Link
    page = client.get(AUDIT, headers=acme.headers, params={"limit": 2, "offset": 1})
    assert page.status_code == 200
    assert page.headers["X-Total-Count"] == str(len(mine)) and 'rel="next"' in page.headers["Link"]
    assert [r["id"] for r in page.json()] == [r["id"] for r in mine[1:3]]

    # JSON Lines, parsed back: the same records, oldest first
    export = client.get(f"{AUDIT}/export", headers=acme.headers)
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("application/jsonl")
    lines = [json.loads(line) for line in export.text.splitlines()]
    assert [r["id"] for r in lines] == [r["id"] for r in reversed(mine)]
    assert client.get(f"{AUDIT}/export", headers=viewer.headers).status_code == 403


def test_records_carry_the_request_id_that_joins_them_to_the_log(
    client: TestClient, root: Actor
) -> None:
    applied = client.post(
        "/api/v1/plans/apply",
        headers={**root.headers, "X-Request-ID": "deploy-4711"},
        json=sample_plan("joined"),
    )
    assert applied.status_code == 200, applied.text
    assert applied.headers["X-Request-ID"] == "deploy-4711"
    refused = client.post(  # refused before any operation began: the middleware's record
        "/api/v1/plans/apply",
        headers={**root.headers, "X-Request-ID": "deploy-4712"},
        content=b"{not json",
    )
    assert refused.status_code == 422
    generated = client.post("/api/v1/plans/apply", headers=root.headers, json=sample_plan("own"))
    assert generated.status_code == 200

    done = records(client, root, request_id="deploy-4711")
    assert [(r["action"], r["target"]["path"]) for r in done] == [
        ("plan.apply", "finance/eod/joined")
    ]
    assert [r["action"] for r in records(client, root, request_id="deploy-4712")] == ["request"]
    mine = latest(client, root, "plan.apply", target="finance/eod/own")
    assert mine["request_id"] == generated.headers["X-Request-ID"]
    export = client.get(
        f"{AUDIT}/export", headers=root.headers, params={"target": "finance/eod/joined"}
    )
    assert [json.loads(line)["request_id"] for line in export.text.splitlines()] == ["deploy-4711"]
    too_long = client.get(AUDIT, headers=root.headers, params={"request_id": "x" * 129})
    assert too_long.status_code == 422


def test_retention_is_pruned_by_the_heartbeat(services: Services, api_settings: Any) -> None:
    now = datetime.now(UTC)

    def aged(days: int) -> AuditRecord:
        return AuditRecord(
            id=f"00000000-0000-0000-0000-{days:012d}",
            time=now - timedelta(days=days),
            tenant_id=None,
            tenant_name=None,
            actor_id=None,
            actor_name="x",
            api_key_id=None,
            auth_method=None,
            source=None,
            user_agent=None,
            action="login",
            target_type=None,
            target_id=None,
            target_path=None,
            outcome="refused",
            status=None,
            message=None,
            changes=None,
        )

    with services.database.transaction() as conn:
        audit_store.insert(conn, aged(400))
        audit_store.insert(conn, aged(10))
    settings = api_settings.model_copy(update={"audit_retention_days": 30})
    engine = Engine(settings, services.database, {})
    with services.database.transaction() as conn:
        engine._heartbeat_tx(now, conn)
    with services.database.read() as conn:
        left = [row.time for row in conn.execute(select(audit_records.c.time))]
    assert len(left) == 1 and left[0] > now - timedelta(days=30)


def test_offline_admin_commands_are_recorded(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from jobplan.cli.main import app
    from jobplan.service.container import Services as Opened
    from jobplan.settings import Settings

    home = str(tmp_path / "home")
    runner = CliRunner()
    made = runner.invoke(
        app,
        [
            "users",
            "create",
            "ops",
            "--role",
            "admin",
            "--tenant",
            "t1",
            "--password-stdin",
            "--home",
            home,
        ],
        input="ops-password-123\n",
    )
    assert made.exit_code == 0, made.output
    again = runner.invoke(
        app,
        ["users", "create", "ops", "--tenant", "t1", "--password-stdin", "--home", home],
        input="ops-password-123\n",
    )
    assert again.exit_code != 0
    reset = runner.invoke(
        app,
        ["users", "reset-password", "ops", "--password-stdin", "--home", home],
        input="ops-password-456\n",
    )
    assert reset.exit_code == 0, reset.output
    services = Opened.open(Settings(home=home))  # type: ignore[arg-type]
    try:
        with services.database.read() as conn:
            rows = conn.execute(select(audit_records).order_by(audit_records.c.time)).all()
    finally:
        services.close()
    summary = [(r.action, r.outcome, r.auth_method, r.tenant_name, r.target_path) for r in rows]
    assert summary == [
        ("user.create", "done", "local", "t1", "ops"),
        ("user.create", "refused", "local", "t1", "ops"),
        ("user.password", "done", "local", "t1", "ops"),
    ]
    assert "already exists" in rows[1].message
    text_of_rows = " ".join(str(tuple(r)) for r in rows)
    assert "ops-password" not in text_of_rows


def test_an_import_job_records_each_plan_it_changes_with_the_diff(
    client: TestClient, root: Actor
) -> None:
    """The job's change happens later, in the background, on behalf of its creator: each
    plan it adds or versions gets a ``plan.import`` record in the import's transaction."""
    h = root.headers
    assert client.post("/api/v1/plans", headers=h, json=sample_plan()).status_code == 201

    def finished(url: str) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            job: dict[str, Any] = client.get(url, headers=h).json()
            return job if job["status"] in ("completed", "failed", "cancelled") else None

        return wait_for(probe, what=f"{url} to finish")

    export = client.post("/api/v1/exports", headers=h, json={"plans": ["finance/eod/nightly"]})
    job = finished(f"/api/v1/exports/{export.json()['id']}")
    bundle = client.get(job["file"]["url"], headers=h).content
    edited = sample_plan()
    edited["jobs"][0]["cron"] = "0 30 2 * * ?"  # type: ignore[index]
    assert client.post("/api/v1/plans/apply", headers=h, json=edited).status_code == 200

    files = {"file": ("plans.zip", bundle, "application/zip")}
    form = {"on_conflict": "replace"}
    imported = client.post("/api/v1/imports", headers=h, files=files, data=form)
    assert imported.status_code == 202, imported.text
    assert finished(f"/api/v1/imports/{imported.json()['id']}")["status"] == "completed"
    record = latest(client, root, "plan.import")
    assert record["actor"]["name"] == ROOT_USER and record["auth_method"] is None
    assert record["target"]["path"] == "finance/eod/nightly"
    assert change(record, "jobs.gate.cron") == {
        "kind": "changed",
        "path": "jobs.gate.cron",
        "before": "0 30 2 * * ?",
        "after": "0 0 1 * * ?",
    }
    assert change(record, "version") == {
        "kind": "changed",
        "path": "version",
        "before": "1.0.1",
        "after": "1.0.2",
    }
