"""Coherent Spark's ImpEx API (seed: spark-export-api.md) over the transfer jobs, with the
server's own workers running them, on both databases."""

from __future__ import annotations

import hashlib
import re
import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient

from support.api import Actor, make_tenant, make_user, sample_plan, wait_for
from support.zips import make_zip, zip_entries

TENANT = "default"
EXPORT = f"/{TENANT}/api/v4/export"
IMPORT = f"/{TENANT}/api/v4/import"
FINISHED = {"completed", "failed", "cancelled", "closed_by_timeout"}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def key(client: TestClient, root: Actor) -> str:
    created = client.post("/api/v1/api-keys", headers=root.headers, json={"name": "spark"})
    assert created.status_code == 201, created.text
    value: str = created.json()["key"]
    return value


def seed_service(client: TestClient, actor: Actor, versions: int = 2) -> dict[str, Any]:
    """``myproduct/myservice`` with ``versions`` versions (1.0.0, 1.0.1, ...)."""
    response = client.post(
        "/api/v1/plans", headers=actor.headers, json=sample_plan("myservice", "myproduct")
    )
    assert response.status_code == 201, response.text
    plan: dict[str, Any] = response.json()
    for index in range(1, versions):
        body = sample_plan("myservice", "myproduct", description=f"v{index}")
        changed = client.put(f"/api/v1/plans/{plan['id']}", headers=actor.headers, json=body)
        assert changed.status_code == 200, changed.text
    return plan


def finished(client: TestClient, headers: dict[str, str], url: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body if body["status"] in FINISHED else None

    return wait_for(probe, what=f"{url} to finish")


def export(client: TestClient, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(EXPORT, headers=headers, json=body)
    assert response.status_code == 200, response.text
    return finished(client, headers, response.json()["status_url"])


def upload(
    client: TestClient, headers: dict[str, str], data: bytes, entity: str | None = None
) -> dict[str, Any]:
    form = {} if entity is None else {"importRequestEntity": entity}
    response = client.post(
        IMPORT,
        headers=headers,
        files={"file": ("package.zip", data, "application/zip")},
        data=form,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["object"] == "import"
    return finished(client, headers, body["status_url"])


def error_of(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["status"] == status
    message: str = body["error"]["message"]
    return message


# --- the seed's requests --------------------------------------------------------------------


def test_sample_request_and_status_response(client: TestClient, root: Actor) -> None:
    plan = seed_service(client, root)
    # the seed's sample request, verbatim but for host and credentials
    response = client.post(
        EXPORT,
        headers={"Content-Type": "application/json", **root.headers},
        content=b"""{
    "inputs": {
        "services": ["myproduct/myservice"]
    },
    "source_system": "mycicd",
    "correlation_id": "456"
}""",
    )
    assert response.status_code == 200, response.text
    created = response.json()
    assert created["object"] == "export"
    assert created["status"] in {"created", "in_progress", "completed"}
    assert created["status_url"].endswith(f"/{TENANT}/api/v4/export/{created['id']}/status")
    body = finished(client, root.headers, created["status_url"])
    assert set(body) >= {
        "object",
        "id",
        "response_timestamp",
        "status",
        "status_url",
        "process_time",
        "outputs",
        "source_system",
        "correlation_id",
    }
    assert body["object"] == "export" and body["id"] == created["id"]
    assert body["status"] == "completed", body
    assert TIMESTAMP.match(body["response_timestamp"])
    assert isinstance(body["process_time"], int) and body["process_time"] >= 0
    assert (body["source_system"], body["correlation_id"]) == ("mycicd", "456")
    (file,) = body["outputs"]["files"]
    assert set(file) == {"file", "file_hash", "zip_process_time"}
    assert re.fullmatch(r"[0-9a-f]{64}", file["file_hash"])
    assert file["file"].endswith("/package.zip")
    assert body["outputs"]["services"] == [
        {
            "service_uri_source": "myproduct/myservice",
            "folder_source": "myproduct",
            "service_source": "myservice",
            "service_id_source": plan["id"],
        }
    ]
    versions = body["outputs"]["service_versions"]
    assert [v["service_uri_source"] for v in versions] == [
        "myproduct/myservice[1.0.0]",
        "myproduct/myservice[1.0.1]",
    ]
    assert {v["service_id_source"] for v in versions} == {plan["id"]}
    native = client.get(f"/api/v1/plans/{plan['id']}/versions", headers=root.headers).json()
    assert {v["version_id_source"] for v in versions} == {v["id"] for v in native}
    assert set(versions[0]) == {
        "service_uri_source",
        "folder_source",
        "service_source",
        "version_source",
        "service_id_source",
        "version_id_source",
    }


def test_download_by_file_url_with_the_same_credentials(
    client: TestClient, root: Actor, key: str
) -> None:
    seed_service(client, root)
    headers = {"x-synthetic-key": key, "x-tenant-name": TENANT}
    body = export(client, headers, {"inputs": {"folders": ["myproduct"]}, "file_name": "mine"})
    (file,) = body["outputs"]["files"]
    assert file["file"].endswith("/mine.zip")
    response = client.get(file["file"], headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert hashlib.sha256(response.content).hexdigest() == file["file_hash"]
    assert "manifest.json" in zip_entries(response.content)
    assert client.get(file["file"]).status_code == 401
    other = make_tenant(client, root, "elsewhere")
    assert client.get(file["file"], headers=other.headers).status_code == 403
    wrong_name = file["file"].replace("/mine.zip", "/other.zip")
    assert "other.zip" in error_of(client.get(wrong_name, headers=headers), 404)


def test_version_selection_and_filters(client: TestClient, root: Actor) -> None:
    plan = seed_service(client, root, versions=3)
    pinned = export(client, root.headers, {"inputs": {"services": ["myproduct/myservice[1.0.1]"]}})
    assert [v["version_source"] for v in pinned["outputs"]["service_versions"]] == ["1.0.1"]
    prefix = export(client, root.headers, {"inputs": {"services": ["myproduct/myservice[1]"]}})
    assert [v["version_source"] for v in prefix["outputs"]["service_versions"]] == ["1.0.2"]
    latest = export(
        client, root.headers, {"inputs": {"services": [plan["id"]]}, "version_filter": "latest"}
    )
    assert [v["version_source"] for v in latest["outputs"]["service_versions"]] == ["1.0.2"]
    every = export(client, root.headers, {"inputs": {"folders": ["myproduct"]}})
    versions = every["outputs"]["service_versions"]
    assert [v["version_source"] for v in versions] == ["1.0.0", "1.0.1", "1.0.2"]
    by_id = export(
        client,
        root.headers,
        {
            "inputs": {
                "version_ids": [versions[0]["version_id_source"]],
                "services": [f"version/{versions[2]['version_id_source']}"],
            }
        },
    )
    assert [v["version_source"] for v in by_id["outputs"]["service_versions"]] == [
        "1.0.0",
        "1.0.2",
    ]
    by_service_uri = export(
        client, root.headers, {"inputs": {"services": [f"service/{plan['id']}"]}}
    )
    assert len(by_service_uri["outputs"]["service_versions"]) == 3
    onpremises = export(
        client, root.headers, {"inputs": {"folders": ["myproduct"]}, "file_filter": "onpremises"}
    )
    data = client.get(onpremises["outputs"]["files"][0]["file"], headers=root.headers).content
    assert not [name for name in zip_entries(data) if name.endswith("/")]


def test_the_same_plan_as_the_native_api(client: TestClient, root: Actor) -> None:
    plan = seed_service(client, root)
    spark = export(client, root.headers, {"inputs": {"services": ["myproduct/myservice"]}})
    native = client.get("/api/v1/exports", headers=root.headers).json()
    (job,) = native
    assert job["id"] == spark["id"] and job["status"] == "completed"
    assert job["file"]["sha256"] == spark["outputs"]["files"][0]["file_hash"]
    assert [p["plan_id"] for p in job["plans"]] == [plan["id"]]
    assert [v["version_id"] for v in job["versions"]] == [
        v["version_id_source"] for v in spark["outputs"]["service_versions"]
    ]
    direct = client.get(job["file"]["url"], headers=root.headers).content
    via_spark = client.get(spark["outputs"]["files"][0]["file"], headers=root.headers).content
    assert direct == via_spark


# --- tenant-wide status and cancel ----------------------------------------------------------


def test_tenant_status_and_cancel(client: TestClient, root: Actor, gate: threading.Event) -> None:
    seed_service(client, root)
    empty = client.get(f"{EXPORT}/status", headers=root.headers)
    assert empty.status_code == 200, empty.text
    assert empty.json() == {
        "in_progress_exports": [],
        "recent_exports": [],
        "tenant": {
            "configuration": {"export_api_job_limit": 1},
            "status": {"export_api_jobs_in_progress": 0},
        },
    }
    started = client.post(EXPORT, headers=root.headers, json={"inputs": {"folders": ["myproduct"]}})
    assert started.status_code == 200, started.text
    job_id = started.json()["id"]
    assert gate.reached.wait(20)  # type: ignore[attr-defined]
    status = client.get(f"{EXPORT}/status", headers=root.headers).json()
    (running,) = status["in_progress_exports"]
    assert running["object"] == "export" and running["id"] == job_id
    assert set(running["data"]) == {
        "export_status",
        "response_timestamp",
        "created_by",
        "created_timestamp",
        "updated_timestamp",
        "process_time",
    }
    assert running["data"]["export_status"] == "in_progress"
    assert running["data"]["created_by"] == "root"
    assert status["tenant"]["status"]["export_api_jobs_in_progress"] == 1
    # one at a time per tenant
    refused = client.post(EXPORT, headers=root.headers, json={"inputs": {"folders": ["myproduct"]}})
    assert "limit" in error_of(refused, 429)
    # cancel, in the seed's words
    cancelled = client.patch(
        f"{EXPORT}/{job_id}", headers=root.headers, json={"export_status": "cancelled"}
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["outputs"]["files"] == []
    gate.set()
    again = client.patch(
        f"{EXPORT}/{job_id}", headers=root.headers, json={"export_status": "cancelled"}
    )
    assert "already finished" in error_of(again, 409)
    bad = client.patch(f"{EXPORT}/{job_id}", headers=root.headers, json={"export_status": "done"})
    assert "export_status" in error_of(bad, 400)
    after = client.get(f"{EXPORT}/status", headers=root.headers).json()
    assert after["in_progress_exports"] == []
    assert [(j["id"], j["data"]["export_status"]) for j in after["recent_exports"]] == [
        (job_id, "cancelled")
    ]
    assert after["tenant"]["status"]["export_api_jobs_in_progress"] == 0


def test_supervisors_see_every_export_others_their_own(client: TestClient, root: Actor) -> None:
    seed_service(client, root)
    viewer = make_user(client, root, "vera", "viewer")
    supervisor = make_user(client, root, "sam", "supervisor")
    own = export(client, viewer.headers, {"inputs": {"folders": ["myproduct"]}})
    other = export(client, root.headers, {"inputs": {"folders": ["myproduct"]}})

    def recent(actor: Actor) -> set[str]:
        body = client.get(f"{EXPORT}/status", headers=actor.headers).json()
        return {job["id"] for job in body["recent_exports"]}

    assert recent(viewer) == {own["id"]}
    assert recent(supervisor) == {own["id"], other["id"]}
    assert "not found" in error_of(client.get(other["status_url"], headers=viewer.headers), 404)


# --- credentials, tenants and malformed requests --------------------------------------------


def test_synthetic_key_auth(client: TestClient, root: Actor, key: str) -> None:
    seed_service(client, root)
    headers = {"x-synthetic-key": key, "x-tenant-name": TENANT}
    assert export(client, headers, {"inputs": {"folders": ["myproduct"]}})["status"] == "completed"
    bearer_key = {"Authorization": f"Bearer {key}"}
    assert client.get(f"{EXPORT}/status", headers=bearer_key).status_code == 200
    wrong_name = {"x-synthetic-key": key, "x-tenant-name": "other"}
    assert "other" in error_of(client.get(f"{EXPORT}/status", headers=wrong_name), 401)
    no_name = {"x-synthetic-key": key}
    assert "x-tenant-name" in error_of(client.get(f"{EXPORT}/status", headers=no_name), 401)
    not_key = {"x-synthetic-key": "nonsense", "x-tenant-name": TENANT}
    assert "API key" in error_of(client.get(f"{EXPORT}/status", headers=not_key), 401)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": "Bearer jp_nokey_wrongsecret"},
        {"Authorization": "Basic cm9vdDpyb290"},
        {"x-synthetic-key": "jp_nokey_wrongsecret", "x-tenant-name": TENANT},
    ],
    ids=["none", "bad-token", "bad-key", "basic", "bad-synthetic"],
)
def test_missing_or_wrong_credentials_are_401(
    client: TestClient, root: Actor, headers: dict[str, str]
) -> None:
    for method, path in [
        ("POST", EXPORT),
        ("GET", f"{EXPORT}/status"),
        ("GET", f"{EXPORT}/00000000-0000-0000-0000-000000000000/status"),
        ("PATCH", f"{EXPORT}/00000000-0000-0000-0000-000000000000"),
        ("POST", IMPORT),
    ]:
        response = client.request(method, path, headers=headers, json={})
        error_of(response, 401)


def test_wrong_tenant_is_403_and_other_tenants_jobs_404(client: TestClient, root: Actor) -> None:
    seed_service(client, root)
    job = export(client, root.headers, {"inputs": {"folders": ["myproduct"]}})
    other = make_tenant(client, root, "elsewhere")
    # the path's tenant is not the credentials'
    assert "'default'" in error_of(client.get(job["status_url"], headers=other.headers), 403)
    message = error_of(client.get("/nosuch/api/v4/export/status", headers=root.headers), 403)
    assert "nosuch" in message
    # in its own tenant, the other's job does not exist
    url = f"/elsewhere/api/v4/export/{job['id']}/status"
    error_of(client.get(url, headers=other.headers), 404)
    error_of(client.get(f"{EXPORT}/not-a-job/status", headers=root.headers), 404)
    error_of(client.get(f"{EXPORT}/{'x' * 100}/status", headers=root.headers), 404)


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ("{oops", 400, "not valid JSON"),
        ("[1, 2]", 400, "JSON object"),
        ({}, 400, "inputs"),
        ({"inputs": []}, 400, "inputs"),
        ({"inputs": {}}, 400, "select at least one"),
        ({"inputs": {"services": "myproduct/myservice"}}, 400, "inputs.services"),
        ({"inputs": {"services": [7]}}, 400, "inputs.services[0]"),
        ({"inputs": {"service": ["a/b"]}}, 400, "'service'"),
        ({"inputs": {"services": ["no/such"]}}, 404, "no/such"),
        ({"inputs": {"services": ["myproduct/myservice[9]"]}}, 404, "myservice[9]"),
        ({"inputs": {"folders": ["nowhere"]}}, 404, "nowhere"),
        ({"inputs": {"version_ids": ["nope"]}}, 400, "version_ids[0]"),
        ({"inputs": {"folders": ["myproduct"]}, "file_filter": "all"}, 400, "onpremises"),
        ({"inputs": {"folders": ["myproduct"]}, "version_filter": "some"}, 400, "version_filter"),
        (
            {"inputs": {"services": ["myproduct/myservice[1]"]}, "version_filter": "latest"},
            400,
            "latest",
        ),
        ({"inputs": {"folders": ["myproduct"]}, "file_name": "../x"}, 400, "file_name"),
        ({"inputs": {"folders": ["myproduct"]}, "source_system": {"a": 1}}, 400, "source_system"),
        ({"inputs": {"folders": ["myproduct"]}, "correlation_id": "x" * 201}, 400, "200"),
        ({"inputs": {"folders": ["myproduct"]}, "surprise": 1}, 400, "surprise"),
    ],
)
def test_malformed_export_requests(
    client: TestClient, root: Actor, body: Any, status: int, words: str
) -> None:
    seed_service(client, root)
    if isinstance(body, str):
        response = client.post(
            EXPORT, headers={**root.headers, "Content-Type": "application/json"}, content=body
        )
    else:
        response = client.post(EXPORT, headers=root.headers, json=body)
    assert words in error_of(response, status)
    assert client.get("/api/v1/exports", headers=root.headers).json() == []


# --- imports --------------------------------------------------------------------------------


def test_import_into_another_tenant_with_services_existing(client: TestClient, root: Actor) -> None:
    seed_service(client, root)
    job = export(client, root.headers, {"inputs": {"folders": ["myproduct"]}})
    data = client.get(job["outputs"]["files"][0]["file"], headers=root.headers).content
    target = make_tenant(client, root, "prod")
    prod = "/prod/api/v4/import"

    def run(entity: str | None) -> dict[str, Any]:
        form = {} if entity is None else {"importRequestEntity": entity}
        response = client.post(
            prod,
            headers=target.headers,
            files={"file": ("package.zip", data, "application/zip")},
            data=form,
        )
        assert response.status_code == 200, response.text
        return finished(client, target.headers, response.json()["status_url"])

    added = run(
        '{"inputs": {"services_modify": [{"service_uri_source": "myproduct/myservice", '
        '"service_uri_destination": "myproduct/myservice", "update_version_type": "minor"}]}, '
        '"services_existing": "abort", "source_system": "mycicd", "correlation_id": "789"}'
    )
    assert added["status"] == "completed", added
    assert added["object"] == "import"
    assert (added["source_system"], added["correlation_id"]) == ("mycicd", "789")
    assert added["errors"] is None and added["warnings"] == []
    assert added["status_url"].endswith(f"/prod/api/v4/import/{added['id']}/status")
    (service,) = added["outputs"]["services"]
    assert service == {
        "service_uri_source": "myproduct/myservice",
        "folder_source": "myproduct",
        "service_source": "myservice",
        "folder_destination": "myproduct",
        "service_destination": "myservice",
        "service_uri_destination": "myproduct/myservice",
        "status": "added",
    }
    assert [v["service_uri_destination"] for v in added["outputs"]["service_versions"]] == [
        "myproduct/myservice[1.0.0]",
        "myproduct/myservice[1.0.1]",
    ]
    # the same again is unchanged; after a change in the source, abort refuses it
    assert run(None)["outputs"]["services"][0]["status"] == "unchanged"
    plan_id = client.get("/api/v1/plans?name=myservice", headers=root.headers).json()[0]["id"]
    body = sample_plan("myservice", "myproduct", description="newer")
    client.put(f"/api/v1/plans/{plan_id}", headers=root.headers, json=body)
    newer = export(client, root.headers, {"inputs": {"folders": ["myproduct"]}})
    data = client.get(newer["outputs"]["files"][0]["file"], headers=root.headers).content
    refused = run('{"services_existing": "abort"}')
    assert refused["status"] == "failed"
    assert "myproduct/myservice" in refused["errors"][0]["message"]
    added_version = run('{"services_existing": "add_version"}')
    assert added_version["status"] == "completed", added_version
    assert added_version["outputs"]["services"][0]["status"] == "changed"
    assert [v["version_destination"] for v in added_version["outputs"]["service_versions"]] == [
        "1.0.2"
    ]
    replaced = run('{"services_existing": "replace"}')
    assert replaced["status"] == "completed", replaced
    target_plan = client.get("/api/v1/plans?name=myservice", headers=target.headers).json()[0]
    detail = client.get(f"/api/v1/plans/{target_plan['id']}", headers=target.headers).json()
    assert detail["document"]["description"] == "newer"
    status = client.get(f"{prod}/status", headers=target.headers).json()
    assert len(status["recent_imports"]) == 5
    assert status["tenant"]["configuration"] == {"import_api_job_limit": 1}
    assert status["tenant"]["status"] == {"import_api_jobs_in_progress": 0}


def test_import_cancel(client: TestClient, root: Actor, gate: threading.Event) -> None:
    seed_service(client, root, versions=1)
    gate.set()
    job = export(client, root.headers, {"inputs": {"folders": ["myproduct"]}})
    data = client.get(job["outputs"]["files"][0]["file"], headers=root.headers).content
    gate.clear()
    target = make_tenant(client, root, "prod")
    response = client.post(
        "/prod/api/v4/import",
        headers=target.headers,
        files={"file": ("package.zip", data, "application/zip")},
    )
    assert response.status_code == 200, response.text
    assert gate.reached.wait(20)  # type: ignore[attr-defined]
    url = f"/prod/api/v4/import/{response.json()['id']}"
    cancelled = client.patch(url, headers=target.headers, json={"import_status": "cancelled"})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    gate.set()
    assert finished(client, target.headers, f"{url}/status")["status"] == "cancelled"
    assert client.get("/api/v1/plans", headers=target.headers).json() == []


@pytest.mark.parametrize(
    ("entity", "words"),
    [
        ("{oops", "not valid JSON"),
        ("[]", "JSON object"),
        ('{"services_existing": "merge"}', "services_existing"),
        ('{"inputs": {"services_modify": {}}}', "services_modify"),
        ('{"inputs": {"services_modify": [{"service_uri_destination": "a/b"}]}}', "required"),
        (
            '{"inputs": {"services_modify": [{"service_uri_source": "a/b", '
            '"service_uri_destination": "c/d"}]}}',
            "not supported",
        ),
        (
            '{"inputs": {"services_modify": [{"service_uri_source": "a/b", '
            '"update_version_type": "huge"}]}}',
            "update_version_type",
        ),
        ('{"unknown": 1}', "unknown"),
    ],
)
def test_malformed_import_requests(
    client: TestClient, root: Actor, entity: str, words: str
) -> None:
    response = client.post(
        IMPORT,
        headers=root.headers,
        files={"file": ("package.zip", make_zip({"manifest.json": {}}), "application/zip")},
        data={"importRequestEntity": entity},
    )
    assert words in error_of(response, 400)
    assert client.get("/api/v1/imports", headers=root.headers).json() == []


def test_import_needs_a_multipart_file(client: TestClient, root: Actor) -> None:
    as_json = client.post(IMPORT, headers=root.headers, json={"file": "x"})
    assert "multipart" in error_of(as_json, 400)
    no_file = client.post(IMPORT, headers=root.headers, files={"importRequestEntity": (None, "{}")})
    assert "file" in error_of(no_file, 400)
    empty = client.post(
        IMPORT, headers=root.headers, files={"file": ("package.zip", b"", "application/zip")}
    )
    assert "empty" in error_of(empty, 400)
    broken = upload(client, root.headers, b"not a zip")
    assert broken["status"] == "failed"
    assert "zip" in broken["errors"][0]["message"].lower()
    viewer = make_user(client, root, "vera", "viewer")
    refused = client.post(
        IMPORT, headers=viewer.headers, files={"file": ("p.zip", b"PK", "application/zip")}
    )
    error_of(refused, 403)
