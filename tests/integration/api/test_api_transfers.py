"""``/api/v1/exports`` and ``/api/v1/imports``: asynchronous bundle jobs end to end, on both
databases, with the server's own worker threads running them."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from jobplan.api import create_app
from jobplan.service.container import Services
from jobplan.settings import Settings
from jobplan.store import accounts
from jobplan.store import transfers as store_transfers
from support.api import Actor, login, make_tenant, make_user, sample_plan, wait_for
from support.data import IKASAN_FIXTURES
from support.metrics import metric
from support.zips import make_zip, zip_entries

FINISHED = {"completed", "failed", "cancelled", "closed_by_timeout"}


def create_plan(client: TestClient, actor: Actor, **extra: Any) -> dict[str, Any]:
    response = client.post("/api/v1/plans", headers=actor.headers, json=sample_plan(**extra))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def plan_url(client: TestClient, actor: Actor, name: str = "nightly") -> str:
    response = client.get(f"/api/v1/plans?name={name}", headers=actor.headers)
    (plan,) = response.json()
    return f"/api/v1/plans/{plan['id']}"


def finished(client: TestClient, actor: Actor, url: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        body: dict[str, Any] = client.get(url, headers=actor.headers).json()
        return body if body["status"] in FINISHED else None

    return wait_for(probe, what=f"{url} to finish")


def export(client: TestClient, actor: Actor, **body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/exports", headers=actor.headers, json=body)
    assert response.status_code == 202, response.text
    assert response.headers["Location"] == response.json()["status_url"]
    return finished(client, actor, response.json()["status_url"])


def download(client: TestClient, actor: Actor, job: dict[str, Any]) -> bytes:
    response = client.get(job["file"]["url"], headers=actor.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    return response.content


def start_import(client: TestClient, actor: Actor, data: bytes, **fields: Any) -> dict[str, Any]:
    form = {k: (json.dumps(v) if k == "tokens" else str(v).lower()) for k, v in fields.items()}
    response = client.post(
        "/api/v1/imports",
        headers=actor.headers,
        files={"file": ("plans.zip", data, "application/zip")},
        data=form,
    )
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    assert {"id", "status"} <= set(body)
    return body


def run_import(client: TestClient, actor: Actor, data: bytes, **fields: Any) -> dict[str, Any]:
    created = start_import(client, actor, data, **fields)
    return finished(client, actor, f"/api/v1/imports/{created['id']}")


def plan_names(client: TestClient, actor: Actor) -> list[str]:
    response = client.get("/api/v1/plans?limit=200", headers=actor.headers)
    assert response.status_code == 200
    return sorted(f"{p['folder']}/{p['name']}" for p in response.json())


# --- exports ---------------------------------------------------------------------------------


def test_export_packages_a_plan_with_its_hash(client: TestClient, root: Actor) -> None:
    plan = create_plan(client, root)
    job = export(client, root, plans=["finance/eod/nightly"], correlation_id="456")
    assert job["status"] == "completed", job
    assert job["progress"] == 100
    assert job["correlation_id"] == "456"
    data = download(client, root, job)
    assert hashlib.sha256(data).hexdigest() == job["file"]["sha256"]
    assert len(data) == job["file"]["size"]
    manifest = json.loads(zip_entries(data)["manifest.json"])
    assert [(p["folder"], p["name"]) for p in manifest["plans"]] == [("finance/eod", "nightly")]
    assert job["plans"][0]["plan_id"] == plan["id"]
    assert [v["version"] for v in job["versions"]] == ["1.0.0"]
    ended = {"kind": "export", "status": "completed"}
    assert wait_for(lambda: metric(client, root.headers, "jobplan_transfer_jobs_total", **ended))
    assert metric(client, root.headers, "jobplan_transfer_jobs_total", **ended) == 1


def test_version_selection(client: TestClient, root: Actor) -> None:
    create_plan(client, root)
    for description in ("second", "third"):
        body = sample_plan(description=description)
        response = client.put(plan_url(client, root), headers=root.headers, json=body)
        assert response.status_code == 200, response.text
    every = export(client, root, folders=["finance"])
    assert [v["version"] for v in every["versions"]] == ["1.0.0", "1.0.1", "1.0.2"]
    latest = export(client, root, folders=["finance"], version_filter="latest")
    assert [v["version"] for v in latest["versions"]] == ["1.0.2"]
    pinned = export(client, root, plans=["finance/eod/nightly[1.0.1]"])
    assert [v["version"] for v in pinned["versions"]] == ["1.0.1"]
    prefix = export(client, root, plans=["finance/eod/nightly[1]"])
    assert [v["version"] for v in prefix["versions"]] == ["1.0.2"]
    by_id = export(client, root, version_ids=[every["versions"][0]["version_id"]])
    assert [v["version"] for v in by_id["versions"]] == ["1.0.0"]
    union = export(
        client,
        root,
        plans=["finance/eod/nightly[1.0.0]"],
        version_ids=[every["versions"][2]["version_id"]],
    )
    assert [v["version"] for v in union["versions"]] == ["1.0.0", "1.0.2"]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({}, 422, "select at least one"),
        ({"plans": ["finance/eod/nightly[1]"], "version_filter": "latest"}, 422, "latest"),
        ({"plans": ["no/such/plan"]}, 404, "no/such/plan"),
        ({"plans": ["finance/eod/nightly[9]"]}, 404, "nightly[9]"),
        ({"plans": ["finance/eod/nightly[x.y]"]}, 422, "version prefix"),
        ({"folders": ["nowhere"]}, 404, "nowhere"),
        ({"folders": ["empty"]}, 422, "holds no plans"),
        ({"version_ids": ["not-an-id"]}, 422, "version_ids[0]"),
        ({"plans": ["finance/eod/nightly"], "file_name": "../x"}, 422, "file_name"),
        ({"plans": ["finance/eod/nightly"], "version_filter": "some"}, 422, "version_filter"),
        ({"plans": ["finance/eod/nightly"], "surprise": 1}, 422, "surprise"),
    ],
)
def test_bad_export_requests_are_refused(
    client: TestClient, root: Actor, body: dict[str, Any], status: int, words: str
) -> None:
    create_plan(client, root)
    client.post("/api/v1/folders", headers=root.headers, json={"path": "empty"})
    response = client.post("/api/v1/exports", headers=root.headers, json=body)
    assert response.status_code == status, response.text
    assert words in response.text
    assert client.get("/api/v1/exports", headers=root.headers).json() == []


def test_runtime_filter_and_history(client: TestClient, root: Actor) -> None:
    plan = create_plan(client, root, jobs=[{"name": "hello", "kind": "command", "command": "true"}])
    run = client.post(f"/api/v1/plans/{plan['id']}/runs", headers=root.headers, json={})
    assert run.status_code in (200, 201, 202), run.text
    run_id = run.json()["run"]["id"]
    wait_for(
        lambda: (
            client.get(f"/api/v1/runs/{run_id}", headers=root.headers).json()["status"]
            == "COMPLETE"
        ),
        what="the run to complete",
    )
    full = zip_entries(
        download(client, root, export(client, root, plans=[plan["id"]], include_history=True))
    )
    (history,) = [name for name in full if name.startswith("history/")]
    lines = [json.loads(line) for line in full[history].splitlines()]
    assert [line["plan_run"]["id"] for line in lines] == [run_id]
    assert [j["job_name"] for j in lines[0]["job_runs"]] == ["hello"]
    runtime = zip_entries(
        download(client, root, export(client, root, plans=[plan["id"]], file_filter="runtime"))
    )
    assert not [name for name in runtime if name.endswith("/")]
    assert not [name for name in runtime if name.startswith("history/")]
    assert "manifest.json" in runtime


def test_one_export_at_a_time_per_tenant_and_cancel(
    client: TestClient, root: Actor, services: Services, gate: threading.Event
) -> None:
    create_plan(client, root)
    first = client.post("/api/v1/exports", headers=root.headers, json={"folders": ["finance"]})
    assert first.status_code == 202
    second = client.post("/api/v1/exports", headers=root.headers, json={"folders": ["finance"]})
    assert second.status_code == 429, second.text
    assert "limit" in second.json()["detail"]
    assert gate.reached.wait(20)  # type: ignore[attr-defined]
    url = first.json()["status_url"]
    assert client.get(url, headers=root.headers).json()["status"] == "in_progress"
    cancelled = client.patch(url, headers=root.headers, json={"status": "cancelled"})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    gate.set()
    job = finished(client, root, url)
    assert job["status"] == "cancelled"
    assert job["file"] is None
    cancelled_jobs = {"kind": "export", "status": "cancelled"}
    assert metric(client, root.headers, "jobplan_transfer_jobs_total", **cancelled_jobs) == 1
    file = client.get(f"{url}/file", headers=root.headers)
    assert file.status_code == 409
    # nothing was left behind, and the slot is free again
    directory = services.transfers.directory
    assert not [p for p in directory.rglob("*") if p.is_file()]
    again = client.post("/api/v1/exports", headers=root.headers, json={"folders": ["finance"]})
    assert again.status_code == 202
    refused = client.patch(url, headers=root.headers, json={"status": "cancelled"})
    assert refused.status_code == 409
    assert "already finished" in refused.json()["detail"]
    assert client.patch(url, headers=root.headers, json={"status": "done"}).status_code == 422


def test_tenant_limits_timeout_and_package_size(
    client: TestClient, root: Actor, gate: threading.Event
) -> None:
    response = client.post(
        "/api/v1/tenants",
        headers=root.headers,
        json={
            "name": "small",
            "settings": {"transfer_timeout_seconds": 1, "max_package_bytes": 1500},
            "admin": {"username": "small-admin", "password": "small-admin-password"},
        },
    )
    assert response.status_code == 201, response.text
    admin = login(client, "small-admin", "small-admin-password", tenant="small")
    create_plan(client, admin)
    gate.set()  # no holding: the package limit is hit by the real export
    big = export(client, admin, plans=["finance/eod/nightly"])
    assert big["status"] == "failed"
    assert "limit of 1500 bytes" in big["reason"]
    assert big["file"] is None
    gate.clear()
    gate.reached.clear()  # type: ignore[attr-defined]
    slow = client.post("/api/v1/exports", headers=admin.headers, json={"folders": ["finance"]})
    assert gate.reached.wait(20)  # type: ignore[attr-defined]
    time.sleep(1.1)  # past the tenant's 1 s deadline while the export is held
    gate.set()
    timed_out = finished(client, admin, slow.json()["status_url"])
    assert timed_out["status"] == "closed_by_timeout"
    assert "within 1 seconds" in timed_out["reason"]
    bad = client.post(
        "/api/v1/tenants",
        headers=root.headers,
        json={"name": "wrong", "settings": {"export_job_limit": 0}},
    )
    assert bad.status_code == 422
    assert "settings.export_job_limit" in bad.text


def test_jobs_are_private_to_their_creator_and_tenant(client: TestClient, root: Actor) -> None:
    create_plan(client, root)
    viewer = make_user(client, root, "vera", "viewer")
    supervisor = make_user(client, root, "sam", "supervisor")
    own = export(client, viewer, folders=["finance"])
    other = export(client, root, folders=["finance"])
    assert [j["id"] for j in client.get("/api/v1/exports", headers=viewer.headers).json()] == [
        own["id"]
    ]
    assert client.get(other["status_url"], headers=viewer.headers).status_code == 404
    seen = {j["id"] for j in client.get("/api/v1/exports", headers=supervisor.headers).json()}
    assert seen == {own["id"], other["id"]}
    stranger = make_tenant(client, root, "elsewhere")
    assert client.get(own["status_url"], headers=stranger.headers).status_code == 404
    assert client.get(f"{own['status_url']}/file", headers=stranger.headers).status_code == 404
    assert client.get("/api/v1/exports", headers=stranger.headers).json() == []
    # viewers may export but not import
    refused = client.post(
        "/api/v1/imports",
        headers=viewer.headers,
        files={"file": ("x.zip", b"PK", "application/zip")},
    )
    assert refused.status_code == 403


def test_finished_jobs_expire(client: TestClient, root: Actor, services: Services) -> None:
    create_plan(client, root)
    kept = export(client, root, folders=["finance"])
    services.settings.transfer_retention_seconds = 0.5
    job = export(client, root, folders=["finance"])
    path = services.transfers.directory / next(services.transfers.directory.iterdir()).name
    assert sorted(p.name for p in path.iterdir()) == sorted(
        [f"{kept['id']}.zip", f"{job['id']}.zip"]
    )
    time.sleep(0.6)
    services.transfers.sweep()
    assert client.get(job["status_url"], headers=root.headers).status_code == 404
    assert client.get(kept["status_url"], headers=root.headers).status_code == 200
    assert [p.name for p in path.iterdir()] == [f"{kept['id']}.zip"]


def test_deleting_a_tenant_deletes_its_bundle_files(
    client: TestClient, root: Actor, services: Services
) -> None:
    other = make_tenant(client, root, "globex")
    create_plan(client, other)
    create_plan(client, root)
    theirs = export(client, other, folders=["finance"])
    ours = export(client, root, folders=["finance"])
    assert theirs["status"] == ours["status"] == "completed"
    tenant_id = accounts_tenant_id(services, "globex")
    folder = services.transfers.directory / tenant_id
    assert [p.name for p in folder.iterdir()] == [f"{theirs['id']}.zip"]
    deleted = client.delete(f"/api/v1/tenants/{tenant_id}", headers=root.headers)
    assert deleted.status_code == 204, deleted.text
    assert not folder.exists()
    assert client.get(ours["status_url"], headers=root.headers).json()["status"] == "completed"
    assert download(client, root, ours)[:2] == b"PK"


def accounts_tenant_id(services: Services, name: str) -> str:
    with services.database.read() as conn:
        tenant = accounts.get_tenant_by_name(conn, name)
    assert tenant is not None
    return tenant.id


# --- imports ---------------------------------------------------------------------------------


def test_export_with_tokens_and_import_into_another_tenant(client: TestClient, root: Actor) -> None:
    create_plan(
        client,
        root,
        jobs=[{"name": "load", "kind": "command", "command": "true", "agent": "etl-prod"}],
    )
    job = export(client, root, plans=["finance/eod/nightly"], with_tokens=True)
    data = download(client, root, job)
    target = make_tenant(client, root, "test-env")
    missing = run_import(client, target, data)
    assert missing["status"] == "failed"
    assert "agent.name" in missing["reason"]
    dry = run_import(client, target, data, tokens={"agent.name": "etl-test"}, dry_run=True)
    assert dry["status"] == "completed", dry
    assert dry["dry_run"] is True
    assert dry["added"] == ["finance/eod/nightly"]
    assert plan_names(client, target) == []
    real = run_import(client, target, data, tokens={"agent.name": "etl-test"})
    assert real["status"] == "completed", real
    assert (real["added"], real["changed"], real["unchanged"]) == (["finance/eod/nightly"], [], [])
    assert plan_names(client, target) == ["finance/eod/nightly"]
    stored = client.get(plan_url(client, target), headers=target.headers).json()
    assert stored["document"]["jobs"][0]["agent"] == "etl-test"
    again = run_import(client, target, data, tokens={"agent.name": "etl-test"})
    assert (again["added"], again["changed"], again["unchanged"]) == (
        [],
        [],
        ["finance/eod/nightly"],
    )
    assert again["options"]["tokens"] == ["agent.name"]  # names only, never values


def test_conflicts_abort_replace_and_add_version(client: TestClient, root: Actor) -> None:
    create_plan(client, root)
    create_plan(client, root, name="other")
    original = download(client, root, export(client, root, folders=["finance"]))
    target = make_tenant(client, root, "prod")
    assert run_import(client, target, original)["status"] == "completed"
    changed = sample_plan(description="changed in dev")
    client.put(plan_url(client, root), headers=root.headers, json=changed)
    newer = download(client, root, export(client, root, folders=["finance"]))
    versions_url = f"{plan_url(client, target)}/versions"
    versions_before = client.get(versions_url, headers=target.headers).json()

    dry = run_import(client, target, newer, dry_run=True)
    assert dry["status"] == "completed"
    assert dry["conflicts"] == ["finance/eod/nightly"]
    assert dry["unchanged"] == ["finance/eod/other"]
    refused = run_import(client, target, newer)
    assert refused["status"] == "failed"
    assert "finance/eod/nightly" in refused["reason"] and "on_conflict" in refused["reason"]
    assert client.get(versions_url, headers=target.headers).json() == versions_before

    replaced = run_import(client, target, newer, on_conflict="replace")
    assert replaced["status"] == "completed", replaced
    assert replaced["changed"] == ["finance/eod/nightly"]
    detail = next(p for p in replaced["plans"] if p["plan"] == "finance/eod/nightly")
    assert detail["versions"] == ["1.0.1"] and detail["previous_version"] == "1.0.0"
    assert any("description" in change for change in detail["changes"])
    current = client.get(plan_url(client, target), headers=target.headers).json()
    assert current["document"]["description"] == "changed in dev"

    client.put(
        plan_url(client, root),
        headers=root.headers,
        json=sample_plan(description="third"),
    )
    third = download(client, root, export(client, root, folders=["finance"]))
    added = run_import(client, target, third, on_conflict="add_version")
    assert added["status"] == "completed", added
    versions = client.get(versions_url, headers=target.headers).json()
    assert [v["version"] for v in versions] == ["1.0.2", "1.0.1", "1.0.0"]


def test_an_import_is_one_transaction(client: TestClient, root: Actor) -> None:
    create_plan(client, root, name="a")
    create_plan(client, root, name="b")
    bundle = download(client, root, export(client, root, folders=["finance"]))
    target = make_tenant(client, root, "atomic")
    create_plan(client, target, name="b", description="differs")
    result = run_import(client, target, bundle)
    assert result["status"] == "failed"
    assert plan_names(client, target) == ["finance/eod/b"]  # 'a' was not added either
    h, imports = root.headers, {"kind": "import"}
    assert wait_for(
        lambda: metric(client, h, "jobplan_transfer_jobs_total", status="failed", **imports)
    )
    assert metric(client, h, "jobplan_transfer_jobs_total", status="completed", **imports) == 0


def test_the_real_ikasan_exports_import(client: TestClient, root: Actor, ikasan_zip: bytes) -> None:
    result = run_import(client, root, ikasan_zip, folder="ikasan")
    assert result["status"] == "completed", result
    assert result["added"] == ["ikasan/MyFirstJobPlan"]
    assert plan_names(client, root) == ["ikasan/MyFirstJobPlan"]


@pytest.fixture
def ikasan_zip() -> bytes:
    return (IKASAN_FIXTURES / "MyFirstJobPlan.zip").read_bytes()


CONTEXT = {"name": "p", "scheduledJobs": [{"agentName": "h", "jobName": "a", "identifier": "h-a"}]}
JOB = {"agentName": "h", "jobName": "a", "identifier": "h-a", "commandLine": "true"}


def _symlink(info: zipfile.ZipInfo) -> None:
    info.external_attr = 0o120777 << 16


def _bomb() -> bytes:
    return make_zip({"context/p.json": CONTEXT, "jobs/internal/a.json": b" " * (30 * 1024 * 1024)})


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (make_zip({"context/p.json": CONTEXT, "../evil.json": JOB}), "path traversal"),
        (make_zip({"context/p.json": CONTEXT, "/etc/evil.json": JOB}), "absolute"),
        (
            make_zip(
                {"context/p.json": CONTEXT, "jobs/internal/a.json": "x"},
                infos={"jobs/internal/a.json": _symlink},
            ),
            "symbolic link",
        ),
        (_bomb(), "expands more than 100-fold"),
        (make_zip({"context/p.json": CONTEXT, "jobs/internal/a.json": b"\xff\xfe{}"}), "UTF-8"),
        (make_zip({"context/p.json": CONTEXT, "jobs/internal/a.json": "{not json"}), "JSON"),
        (make_zip({"context/p.json": CONTEXT, "jobs/teleport/a.json": JOB}), "teleport"),
        (
            make_zip({"context/p.json": {**CONTEXT, "timezone": 7}, "jobs/internal/a.json": JOB}),
            "context/p.json",
        ),
        (
            make_zip(
                {
                    "context/p.json": CONTEXT,
                    "jobs/internal/a.json": {**JOB, "agentName": "[[agent.name]]"},
                }
            ),
            "agent.name",
        ),
        (b"not a zip at all", "zip"),
    ],
    ids=[
        "traversal",
        "absolute",
        "symlink",
        "bomb",
        "non-utf8",
        "non-json",
        "unknown-kind",
        "schema",
        "unresolved-token",
        "not-a-zip",
    ],
)
def test_hostile_bundles_fail_with_a_reason_and_write_nothing(
    client: TestClient, root: Actor, data: bytes, words: str
) -> None:
    result = run_import(client, root, data)
    assert result["status"] == "failed"
    assert words.lower() in result["reason"].lower(), result["reason"]
    assert plan_names(client, root) == []


def test_duplicate_entries_are_refused(client: TestClient, root: Actor) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("context/p.json", json.dumps(CONTEXT))
        archive.writestr("jobs/internal/a.json", json.dumps(JOB))
        with pytest.warns(UserWarning):
            archive.writestr("jobs/internal/a.json", json.dumps(JOB))
    result = run_import(client, root, out.getvalue())
    assert result["status"] == "failed"
    assert "two entries with this name" in result["reason"]


@pytest.mark.parametrize(
    ("fields", "status", "words"),
    [
        ({"tokens": "{oops"}, 422, "tokens"),
        ({"tokens": '["a"]'}, 422, "tokens"),
        ({"on_conflict": "merge"}, 422, "on_conflict"),
        ({"folder": "../up"}, 422, "folder"),
    ],
)
def test_bad_import_requests_are_refused(
    client: TestClient, root: Actor, fields: dict[str, str], status: int, words: str
) -> None:
    response = client.post(
        "/api/v1/imports",
        headers=root.headers,
        files={"file": ("x.zip", make_zip({"context/p.json": CONTEXT}), "application/zip")},
        data=fields,
    )
    assert response.status_code == status, response.text
    assert words in response.text
    assert client.get("/api/v1/imports", headers=root.headers).json() == []


def test_import_needs_a_file_that_fits(client: TestClient, root: Actor) -> None:
    missing = client.post("/api/v1/imports", headers=root.headers, data={"dry_run": "true"})
    assert missing.status_code == 422
    assert "file" in missing.text
    empty = client.post(
        "/api/v1/imports", headers=root.headers, files={"file": ("x.zip", b"", "application/zip")}
    )
    assert empty.status_code == 422
    assert "empty" in empty.json()["detail"]
    client.post(
        "/api/v1/tenants",
        headers=root.headers,
        json={
            "name": "tiny",
            "settings": {"max_package_bytes": 2000},
            "admin": {"username": "tiny-admin", "password": "tiny-admin-password"},
        },
    )
    tiny = login(client, "tiny-admin", "tiny-admin-password", tenant="tiny")
    big = client.post(
        "/api/v1/imports",
        headers=tiny.headers,
        files={"file": ("x.zip", b"PK" + b"\0" * 5000, "application/zip")},
    )
    assert big.status_code == 413
    assert "limit of 2000 bytes" in big.json()["detail"]


def test_uploads_are_authenticated_before_their_body_is_read(
    client: TestClient, root: Actor
) -> None:
    anonymous = client.post(
        "/api/v1/imports", files={"file": ("x.zip", b"PK" * 1000, "application/zip")}
    )
    assert anonymous.status_code == 401
    unknown_field = client.post(
        "/api/v1/imports",
        headers=root.headers,
        files={"file": ("x.zip", b"PK", "application/zip")},
        data={"surprise": "1"},
    )
    assert unknown_field.status_code == 422
    assert "surprise" in unknown_field.text
    bad_flag = client.post(
        "/api/v1/imports",
        headers=root.headers,
        files={"file": ("x.zip", b"PK", "application/zip")},
        data={"dry_run": "perhaps"},
    )
    assert bad_flag.status_code == 422
    assert "dry_run" in bad_flag.text


def test_a_chunked_upload_over_the_limit_is_refused_while_streaming(
    api_settings: Settings, services: Services
) -> None:
    small = api_settings.model_copy(update={"max_package_bytes": 1024, "max_body_bytes": 1024})
    with TestClient(create_app(small, services)) as small_client:
        actor = login(small_client, "root", "root-password-123")

        def chunks() -> Iterator[bytes]:
            yield (
                b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.zip"\r\n'
                b"Content-Type: application/zip\r\n\r\n"
            )
            for _ in range(40):
                yield b"x" * 65536  # 2.5 MiB in all, no Content-Length

        response = small_client.post(
            "/api/v1/imports",
            headers={**actor.headers, "Content-Type": "multipart/form-data; boundary=b"},
            content=chunks(),
        )
    assert response.status_code == 413, response.text
    assert "limit" in response.json()["detail"]


def test_token_values_are_forgotten_once_a_job_ends(
    client: TestClient, root: Actor, services: Services
) -> None:
    create_plan(
        client,
        root,
        jobs=[{"name": "load", "kind": "command", "command": "true", "agent": "etl-prod"}],
    )
    data = download(client, root, export(client, root, folders=["finance"], with_tokens=True))
    target = make_tenant(client, root, "secrets")
    done = run_import(
        client, target, data, tokens={"agent.name": "s3cr3t-agent"}, folder="x", dry_run=True
    )
    assert done["status"] == "completed", done
    with services.database.read() as conn:
        stored = store_transfers.get(conn, _tenant_id(services, "secrets"), "import", done["id"])
    assert stored is not None
    assert "s3cr3t-agent" not in json.dumps(stored.request)
    assert stored.request["options"]["tokens"] == ["agent.name"]


def _tenant_id(services: Services, name: str) -> str:
    with services.database.read() as conn:
        tenant = accounts.get_tenant_by_name(conn, name)
    assert tenant is not None
    return tenant.id


def test_upload_names_are_made_safe(client: TestClient, root: Actor) -> None:
    response = client.post(
        "/api/v1/imports",
        headers=root.headers,
        files={"file": ("../Exporté (1)..zip", make_zip({"context/p.json": CONTEXT}), "x")},
    )
    assert response.status_code == 202, response.text
    assert response.json()["options"]["file_name"] == "Export_ _1_..zip"
