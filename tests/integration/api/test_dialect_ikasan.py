"""Ikasan's job plan export services (seed: ikasan-job-plan-export.md) with HTTP Basic."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from jobplan.bundle import read_bundle
from jobplan.model import PlanDocument
from support.api import (
    ROOT_PASSWORD,
    ROOT_USER,
    Actor,
    job_of,
    make_tenant,
    run_detail,
    wait_for,
)
from support.data import IKASAN_FIXTURES

PLAN = {
    "name": "MyFirstJobPlan",
    "folder": "demo",
    "parameters": [
        {"name": "sample_param", "default": "sample default value", "per_environment": True}
    ],
    "window": {"cron": "0 0 1 ? * * *", "ttl_seconds": 82800},
    "jobs": [
        {
            "name": "7amScheduledEvent",
            "kind": "time",
            "cron": "* * 7 ? * * *",
            "agent": "scheduler-agent",
        },
        {
            "name": "SampleCommandExecutionJob1",
            "kind": "command",
            "agent": "scheduler-agent",
            "command": "echo $sample_param",
            "depends_on": "7amScheduledEvent",
        },
        {"name": "GlobalEventJob1", "kind": "event", "event": "GlobalEventJob1"},
    ],
}
LAYOUT = {
    "context/",
    "notification/",
    "profiles/",
    "jobs/",
    "jobs/file/",
    "jobs/internal/",
    "jobs/quartz/",
    "jobs/global/",
    "notification_details/",
}


def seed_plan(client: TestClient, root: Actor) -> None:
    response = client.post("/api/v1/plans", headers=root.headers, json=PLAN)
    assert response.status_code == 201, response.text


def test_sample_export_request(client: TestClient, root: Actor) -> None:
    seed_plan(client, root)
    # curl -u <username>:<password> http://.../rest/export/context/MyFirstJobPlan
    response = client.get("/rest/export/context/MyFirstJobPlan", auth=(ROOT_USER, ROOT_PASSWORD))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"] == 'attachment; filename="MyFirstJobPlan.zip"'
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        names = archive.namelist()
    roots = {name.split("/", 1)[0] for name in names}
    assert len(roots) == 1 and roots.pop().endswith("-MyFirstJobPlan")
    inside = {name.split("/", 1)[1] for name in names}
    assert inside >= LAYOUT
    assert "context/MyFirstJobPlan.json" in inside
    assert any(n.startswith("jobs/internal/") and "SampleCommandExecutionJob1" in n for n in inside)
    assert any(n.startswith("jobs/quartz/") and "7amScheduledEvent" in n for n in inside)
    assert any(n.startswith("jobs/global/") and "GlobalEventJob1" in n for n in inside)
    # and it reads back as the same plan
    contents = read_bundle(io.BytesIO(response.content))
    (document,) = contents.documents
    stored = client.get(
        "/api/v1/plans", headers=root.headers, params={"name": "MyFirstJobPlan", "folder": "demo"}
    ).json()[0]
    current = client.get(f"/api/v1/plans/{stored['id']}", headers=root.headers).json()
    assert document == PlanDocument.model_validate(current["document"])


def test_export_with_tokens(client: TestClient, root: Actor) -> None:
    seed_plan(client, root)
    response = client.get(
        "/rest/export/context/tokens/MyFirstJobPlan", auth=(ROOT_USER, ROOT_PASSWORD)
    )
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        text = "".join(archive.read(n).decode() for n in archive.namelist() if n.endswith(".json"))
    assert "[[agent.name]]" in text and "[[sample_param]]" in text
    assert "sample default value" not in text.replace("[[sample_param]]", "")
    restored = read_bundle(
        io.BytesIO(response.content),
        tokens={"agent.name": "prod-agent", "sample_param": "prod value"},
    )
    (document,) = restored.documents
    assert document.parameters[0].default == "prod value"


def test_unknown_plan_is_404_with_a_message(client: TestClient, root: Actor) -> None:
    response = client.get("/rest/export/context/NoSuchPlan", auth=(ROOT_USER, ROOT_PASSWORD))
    assert response.status_code == 404
    assert "NoSuchPlan" in response.text


def test_credentials_are_required(client: TestClient, root: Actor) -> None:
    seed_plan(client, root)
    missing = client.get("/rest/export/context/MyFirstJobPlan")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Basic")
    wrong = client.get("/rest/export/context/MyFirstJobPlan", auth=(ROOT_USER, "wrong-pass"))
    assert wrong.status_code == 401


def test_other_tenants_plans_are_not_found(client: TestClient, root: Actor) -> None:
    seed_plan(client, root)
    make_tenant(client, root, "other")
    response = client.get(
        "/rest/export/context/MyFirstJobPlan",
        auth=("other-admin", "other-admin-password"),
        headers={"X-Tenant": "other"},
    )
    assert response.status_code == 404


# --- Job Plan Status and Job Instance Status services (/rest/context/status) ---------------

STATUS = "/rest/context/status"
AUTH = (ROOT_USER, ROOT_PASSWORD)


def status_plan(gate: Path) -> dict[str, Any]:
    """A plan whose run holds still: ``prepare`` completes, ``wait`` runs until ``gate``
    exists, ``held`` waits for an operator, the inner stage's only job is disabled."""
    return {
        "name": "StatusPlan",
        "folder": "ops",
        "jobs": [
            {
                "name": "prepare",
                "kind": "command",
                "agent": "scheduler-agent",
                "command": "echo ready",
            },
        ],
        "stages": [
            {
                "name": "CONTEXT-load",
                "depends_on": "prepare",
                "jobs": [
                    {
                        "name": "wait",
                        "kind": "command",
                        "command": f"while [ ! -f {gate} ]; do sleep 0.1; done",
                    },
                    {"name": "held", "kind": "command", "command": "true", "startup": "manual"},
                ],
                "stages": [
                    {
                        "name": "CONTEXT-inner",
                        "jobs": [
                            {
                                "name": "never",
                                "kind": "command",
                                "command": "true",
                                "startup": "disabled",
                            }
                        ],
                    }
                ],
            }
        ],
    }


def create_plan(client: TestClient, root: Actor, body: dict[str, Any]) -> str:
    response = client.post("/api/v1/plans", headers=root.headers, json=body)
    assert response.status_code == 201, response.text
    plan_id: str = response.json()["id"]
    return plan_id


def start_run(client: TestClient, root: Actor, plan_id: str) -> str:
    response = client.post(f"/api/v1/plans/{plan_id}/runs", headers=root.headers, json={})
    assert response.status_code == 201, response.text
    run_id: str = response.json()["run"]["id"]
    return run_id


def until_job(client: TestClient, root: Actor, run_id: str, job: str, status: str) -> None:
    wait_for(
        lambda: job_of(run_detail(client, root, run_id), job)["status"] == status,
        what=f"job {job} to be {status}",
    )


def word(client: TestClient, path: str) -> str:
    response = client.get(f"{STATUS}/{path}", auth=AUTH)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def test_nothing_to_report_is_204(client: TestClient, root: Actor, tmp_path: Path) -> None:
    create_plan(client, root, status_plan(tmp_path / "gate"))
    for path in (
        "StatusPlan/StatusPlan",
        "StatusPlan/CONTEXT-load",
        "StatusPlan/CONTEXT-load/wait",
        "json/StatusPlan/StatusPlan",
        "json/StatusPlan/CONTEXT-load/wait",
        "json/allInstance",
        "json/allInstance?includePrepared=true",
        "json/jobStatus",
        "json/jobStatus/StatusPlan",
    ):
        response = client.get(f"{STATUS}/{path}", auth=AUTH)
        assert response.status_code == 204, (path, response.text)
        assert response.content == b""


def test_status_of_a_running_plan(client: TestClient, root: Actor, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    plan_id = create_plan(client, root, status_plan(gate))
    run_id = start_run(client, root, plan_id)
    until_job(client, root, run_id, "wait", "RUNNING")

    # Job Plan Status: bare words, for the plan and its nested contexts (stages)
    assert word(client, "StatusPlan/StatusPlan") == "RUNNING"
    assert word(client, "ops~StatusPlan/StatusPlan") == "RUNNING"  # folder~name
    assert word(client, f"{plan_id}/StatusPlan") == "RUNNING"  # plan id
    assert word(client, "StatusPlan/CONTEXT-load") == "RUNNING"
    assert word(client, "StatusPlan/CONTEXT-inner") == "DISABLED"
    # Job status words, by job name or Ikasan identifier (agentName-jobName)
    assert word(client, "StatusPlan/StatusPlan/prepare") == "COMPLETE"
    assert word(client, "StatusPlan/StatusPlan/scheduler-agent-prepare") == "COMPLETE"
    assert word(client, "StatusPlan/CONTEXT-load/wait") == "RUNNING"
    assert word(client, "StatusPlan/StatusPlan/held") == "ON_HOLD"  # nested jobs count
    assert word(client, "StatusPlan/CONTEXT-inner/never") == "DISABLED"

    # JSON: {contextInstanceId: ContextInstance}
    response = client.get(f"{STATUS}/json/StatusPlan/StatusPlan", auth=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    instances = response.json()
    assert list(instances) == [run_id]
    plan = instances[run_id]
    assert (plan["name"], plan["id"], plan["status"]) == ("StatusPlan", run_id, "RUNNING")
    assert plan["startTime"] > 0 and plan["endTime"] == 0
    assert plan["createdDateTime"] <= plan["updatedDateTime"]
    assert plan["disabled"] is False
    (prepare,) = plan["scheduledJobs"]
    assert prepare["jobName"] == "prepare"
    assert prepare["identifier"] == "scheduler-agent-prepare"
    assert prepare["agentName"] == "scheduler-agent"
    assert prepare["status"] == "COMPLETE"
    assert prepare["contextInstanceId"] == run_id
    assert prepare["childContextName"] == "StatusPlan"
    assert prepare["startupControlType"] == "AUTOMATIC"
    assert (prepare["held"], prepare["skip"], prepare["initiationEventRaised"]) == (
        False,
        False,
        True,
    )
    event = prepare["scheduledProcessEvent"]
    assert (event["returnCode"], event["successful"], event["contextName"]) == (
        0,
        True,
        "StatusPlan",
    )
    assert event["fireTime"] > 0 and event["completionTime"] >= event["fireTime"]
    (load,) = plan["contexts"]
    assert (load["name"], load["status"], load["id"]) == ("CONTEXT-load", "RUNNING", run_id)
    assert [(j["jobName"], j["status"]) for j in load["scheduledJobs"]] == [
        ("wait", "RUNNING"),
        ("held", "ON_HOLD"),
    ]
    held = load["scheduledJobs"][1]
    assert held["held"] is True and held["startupControlType"] == "MANUAL"
    assert "scheduledProcessEvent" not in held
    (inner,) = load["contexts"]
    assert (inner["name"], inner["status"]) == ("CONTEXT-inner", "DISABLED")
    # a nested context on its own
    stage = client.get(f"{STATUS}/json/StatusPlan/CONTEXT-load", auth=AUTH).json()
    assert stage == {run_id: load}

    # Job Instance Status: {contextInstanceId: SchedulerJobInstance}
    job = client.get(f"{STATUS}/json/StatusPlan/CONTEXT-load/wait", auth=AUTH).json()
    assert list(job) == [run_id]
    assert (job[run_id]["jobName"], job[run_id]["status"]) == ("wait", "RUNNING")
    assert job[run_id]["childContextName"] == "CONTEXT-load"
    assert job[run_id]["scheduledProcessEvent"]["completionTime"] == 0

    # All Job Plan Instance Status
    everything = client.get(f"{STATUS}/json/allInstance", auth=AUTH)
    assert everything.status_code == 200
    assert everything.json() == {
        "contextMachineStatusList": [
            {"contextName": "StatusPlan", "contextInstanceId": run_id, "instanceStatus": "RUNNING"}
        ]
    }

    # Job Status Service, with and without the instanceStatus filter
    expected_jobs = {
        "prepare": ("COMPLETE", ["StatusPlan"]),
        "wait": ("RUNNING", ["CONTEXT-load"]),
        "held": ("ON_HOLD", ["CONTEXT-load"]),
        "never": ("DISABLED", ["CONTEXT-inner"]),
    }
    for path in ("json/jobStatus", "json/jobStatus/StatusPlan", "json/jobStatus/ops~StatusPlan"):
        body = client.get(f"{STATUS}/{path}", auth=AUTH).json()
        (entry,) = body["jobPlans"]
        assert (entry["contextName"], entry["contextInstanceId"], entry["instanceStatus"]) == (
            "StatusPlan",
            run_id,
            "RUNNING",
        )
        assert {
            d["jobName"]: (d["instanceStatus"], d["childContextName"]) for d in entry["jobDetails"]
        } == expected_jobs, path
        detail = next(d for d in entry["jobDetails"] if d["jobName"] == "prepare")
        assert detail["targetResidingContextOnly"] is False
        assert detail["startTime"] > 0 and detail["endTime"] >= detail["startTime"]
    held_only = client.get(
        f"{STATUS}/json/jobStatus", auth=AUTH, params={"instanceStatus": "ON_HOLD"}
    ).json()
    assert [d["jobName"] for d in held_only["jobPlans"][0]["jobDetails"]] == ["held"]
    # a valid Ikasan status none of the jobs is in: the plan is listed, without jobs
    none = client.get(
        f"{STATUS}/json/jobStatus/StatusPlan", auth=AUTH, params={"instanceStatus": "RELEASED"}
    ).json()
    assert none["jobPlans"][0]["jobDetails"] == []

    gate.write_text("go")
    until_job(client, root, run_id, "wait", "COMPLETE")
    assert word(client, "StatusPlan/CONTEXT-load/wait") == "COMPLETE"
    assert word(client, "StatusPlan/CONTEXT-load") == "RUNNING"  # the held job keeps it open
    held_id = job_of(run_detail(client, root, run_id), "held")["id"]
    released = client.post(f"/api/v1/job-runs/{held_id}/release", headers=root.headers)
    assert released.status_code == 200, released.text
    wait_for(lambda: run_detail(client, root, run_id)["status"] == "COMPLETE", what="run done")
    assert word(client, "StatusPlan/StatusPlan") == "COMPLETE"
    assert word(client, "StatusPlan/CONTEXT-load") == "COMPLETE"
    assert word(client, "StatusPlan/CONTEXT-inner") == "DISABLED"


def test_a_stopped_run_reads_as_ended_with_killed_jobs_in_error(
    client: TestClient, root: Actor, tmp_path: Path
) -> None:
    plan_id = create_plan(client, root, status_plan(tmp_path / "gate"))
    run_id = start_run(client, root, plan_id)
    until_job(client, root, run_id, "wait", "RUNNING")
    stopped = client.post(f"/api/v1/runs/{run_id}/stop", headers=root.headers)
    assert stopped.status_code == 200, stopped.text
    until_job(client, root, run_id, "wait", "KILLED")
    # the plan's latest run still answers once it has ended
    assert word(client, "StatusPlan/StatusPlan") == "ENDED"
    assert word(client, "StatusPlan/CONTEXT-load/wait") == "ERROR"  # Ikasan has no KILLED
    assert word(client, "StatusPlan/CONTEXT-load") == "ERROR"
    plan = client.get(f"{STATUS}/json/StatusPlan/StatusPlan", auth=AUTH).json()[run_id]
    assert plan["status"] == "ENDED" and plan["endTime"] >= plan["startTime"] > 0
    assert client.get(f"{STATUS}/json/jobStatus/StatusPlan", auth=AUTH).status_code == 200
    # but it is no longer an open instance of the tenant
    assert client.get(f"{STATUS}/json/allInstance", auth=AUTH).status_code == 204
    assert client.get(f"{STATUS}/json/jobStatus", auth=AUTH).status_code == 204


@pytest.mark.parametrize(
    ("path", "needle"),
    [
        ("NoSuchPlan/NoSuchPlan", "NoSuchPlan"),
        ("NoSuchPlan/NoSuchPlan/job", "NoSuchPlan"),
        ("json/NoSuchPlan/NoSuchPlan", "NoSuchPlan"),
        ("json/NoSuchPlan/NoSuchPlan/job", "NoSuchPlan"),
        ("json/jobStatus/NoSuchPlan", "NoSuchPlan"),
        ("StatusPlan/NoSuchContext", "NoSuchContext"),
        ("json/StatusPlan/NoSuchContext", "NoSuchContext"),
        ("StatusPlan/StatusPlan/NoSuchJob", "NoSuchJob"),
        ("json/StatusPlan/CONTEXT-load/NoSuchJob", "NoSuchJob"),
        ("StatusPlan/CONTEXT-inner/prepare", "prepare"),  # a job, but not of that context
        ("other~StatusPlan/StatusPlan", "other/StatusPlan"),
    ],
)
def test_unknown_plan_context_or_job_is_404(
    client: TestClient, root: Actor, tmp_path: Path, path: str, needle: str
) -> None:
    create_plan(client, root, status_plan(tmp_path / "gate"))
    response = client.get(f"{STATUS}/{path}", auth=AUTH)
    assert response.status_code == 404, response.text
    assert needle in response.text


@pytest.mark.parametrize(
    ("path", "params", "needle"),
    [
        ("json/jobStatus", {"instanceStatus": "KILLED"}, "Instance Status [KILLED] is not valid"),
        ("json/jobStatus/StatusPlan", {"instanceStatus": "running"}, "not valid"),
        ("json/allInstance", {"includePrepared": "maybe"}, "includePrepared"),
    ],
)
def test_bad_queries_are_400(
    client: TestClient, root: Actor, tmp_path: Path, path: str, params: dict[str, str], needle: str
) -> None:
    create_plan(client, root, status_plan(tmp_path / "gate"))
    response = client.get(f"{STATUS}/{path}", auth=AUTH, params=params)
    assert response.status_code == 400, response.text
    assert needle in response.text


@pytest.mark.parametrize(
    "path",
    [
        "StatusPlan/StatusPlan",
        "StatusPlan/StatusPlan/prepare",
        "json/StatusPlan/StatusPlan",
        "json/StatusPlan/StatusPlan/prepare",
        "json/allInstance",
        "json/jobStatus",
        "json/jobStatus/StatusPlan",
    ],
)
def test_status_services_require_credentials(client: TestClient, root: Actor, path: str) -> None:
    missing = client.get(f"{STATUS}/{path}")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Basic")
    assert client.get(f"{STATUS}/{path}", auth=(ROOT_USER, "wrong-pass")).status_code == 401


def test_status_services_are_tenant_scoped(client: TestClient, root: Actor, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    plan_id = create_plan(client, root, status_plan(gate))
    run_id = start_run(client, root, plan_id)
    until_job(client, root, run_id, "wait", "RUNNING")
    make_tenant(client, root, "other")
    other = ("other/other-admin", "other-admin-password")  # Ikasan clients send no X-Tenant
    for path in (
        "StatusPlan/StatusPlan",
        f"{plan_id}/StatusPlan",
        "StatusPlan/StatusPlan/prepare",
        "json/StatusPlan/StatusPlan",
        "json/StatusPlan/CONTEXT-load/wait",
        "json/jobStatus/StatusPlan",
    ):
        response = client.get(f"{STATUS}/{path}", auth=other)
        assert response.status_code == 404, path
    # the other tenant has no open runs of its own
    assert client.get(f"{STATUS}/json/allInstance", auth=other).status_code == 204
    assert client.get(f"{STATUS}/json/jobStatus", auth=other).status_code == 204
    gate.write_text("go")


# --- bundle upload (/rest/import/context) ---------------------------------------------------

UPLOAD = "/rest/import/context"
FIXTURES = IKASAN_FIXTURES


def finished_import(client: TestClient, auth: tuple[str, str], url: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        response = client.get(url, auth=auth)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body if body["status"] not in ("created", "in_progress") else None

    return wait_for(probe, what="the import to finish")


def test_round_trip_export_then_upload_into_another_tenant(client: TestClient, root: Actor) -> None:
    seed_plan(client, root)
    exported = client.get("/rest/export/context/tokens/MyFirstJobPlan", auth=AUTH)
    assert exported.status_code == 200
    make_tenant(client, root, "other")
    other = ("other/other-admin", "other-admin-password")  # Ikasan clients send no X-Tenant
    response = client.post(
        UPLOAD,
        auth=other,
        files={"file": ("MyFirstJobPlan.zip", exported.content, "application/zip")},
        data={
            "tokens": '{"agent.name": "test-agent", "sample_param": "test value"}',
            "folder": "imported",
        },
    )
    assert response.status_code == 202, response.text
    created = response.json()
    assert created["status"] in {"created", "in_progress", "completed"}
    assert response.headers["location"] == created["statusUrl"]
    assert created["statusUrl"].endswith(f"{UPLOAD}/{created['id']}")
    job = finished_import(client, other, created["statusUrl"])
    assert job["status"] == "completed", job
    (added,) = job["added"]
    assert added.endswith("MyFirstJobPlan")
    assert (job["changed"], job["unchanged"], job["conflicts"]) == ([], [], [])
    # the plan, through the native API of the other tenant
    token = client.post(
        "/oauth/token",
        data={"grant_type": "password", "username": other[0], "password": other[1]},
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    (plan,) = client.get("/api/v1/plans", headers=headers).json()
    stored = client.get(f"/api/v1/plans/{plan['id']}", headers=headers).json()["document"]
    assert stored["parameters"][0]["default"] == "test value"
    assert {job.get("agent") for job in stored["jobs"]} >= {"test-agent"}
    # the same upload again changes nothing
    again = client.post(
        UPLOAD,
        auth=other,
        content=exported.content,
        headers={
            "Content-Type": "application/zip",
            "X-Tokens": '{"agent.name": "test-agent", "sample_param": "test value"}',
        },
        params={"folder": "imported"},
    )
    assert again.status_code == 202, again.text
    assert finished_import(client, other, again.json()["statusUrl"])["unchanged"] == [added]
    # another tenant cannot see the job
    assert client.get(created["statusUrl"], auth=AUTH).status_code == 404


def test_the_real_ikasan_bundle_uploads_as_a_raw_body(client: TestClient, root: Actor) -> None:
    data = (FIXTURES / "MyFirstJobPlan.zip").read_bytes()
    response = client.post(
        UPLOAD,
        auth=AUTH,
        content=data,
        headers={"Content-Type": "application/zip"},
        params={"folder": "ikasan"},
    )
    assert response.status_code == 202, response.text
    job = finished_import(client, AUTH, response.json()["statusUrl"])
    assert job["status"] == "completed", job
    assert job["added"] == ["ikasan/MyFirstJobPlan"]
    found = client.get("/api/v1/plans", headers=root.headers, params={"folder": "ikasan"})
    assert [p["name"] for p in found.json()] == ["MyFirstJobPlan"]


def test_a_broken_bundle_fails_with_a_reason(client: TestClient, root: Actor) -> None:
    response = client.post(
        UPLOAD,
        auth=AUTH,
        content=b"not a zip",
        headers={"Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 202, response.text
    job = finished_import(client, AUTH, response.json()["statusUrl"])
    assert job["status"] == "failed"
    assert "zip" in job["reason"].lower()


@pytest.mark.parametrize(
    ("kwargs", "status", "words"),
    [
        ({"json": {"file": "x"}}, 400, "multipart/form-data"),
        ({"data": {"folder": "x"}, "files": {"other": ("a", b"PK")}}, 400, "'file'"),
        (
            {"files": {"file": ("a.zip", b"PK")}, "data": {"on_conflict": "merge"}},
            400,
            "on_conflict",
        ),
        ({"files": {"file": ("a.zip", b"PK")}, "data": {"tokens": "{oops"}}, 400, "tokens"),
        ({"files": {"file": ("a.zip", b"PK")}, "data": {"folder": "../up"}}, 400, "folder"),
        ({"content": b"", "headers": {"Content-Type": "application/zip"}}, 400, "empty"),
    ],
    ids=["json", "no-file", "on-conflict", "tokens", "folder", "empty"],
)
def test_bad_uploads_are_400(
    client: TestClient, root: Actor, kwargs: dict[str, Any], status: int, words: str
) -> None:
    response = client.post(UPLOAD, auth=AUTH, **kwargs)
    assert response.status_code == status, response.text
    assert words in response.text
    assert response.headers["content-type"].startswith("text/plain")
    assert client.get("/api/v1/imports", headers=root.headers).json() == []


def test_upload_needs_credentials_and_write_permission(client: TestClient, root: Actor) -> None:
    files = {"file": ("a.zip", b"PK", "application/zip")}
    missing = client.post(UPLOAD, files=files)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Basic")
    assert client.post(UPLOAD, files=files, auth=(ROOT_USER, "wrong")).status_code == 401
    response = client.post(
        "/api/v1/users",
        headers=root.headers,
        json={"username": "vera", "password": "vera-password", "role": "viewer"},
    )
    assert response.status_code == 201, response.text
    refused = client.post(UPLOAD, files=files, auth=("vera", "vera-password"))
    assert refused.status_code == 403
    unknown = client.get(f"{UPLOAD}/00000000-0000-0000-0000-000000000000", auth=AUTH)
    assert unknown.status_code == 404
    assert client.get(f"{UPLOAD}/00000000-0000-0000-0000-000000000000").status_code == 401


def test_upload_token_values_never_travel_in_the_url(client: TestClient) -> None:
    in_url = client.post(
        "/rest/import/context",
        params={"tokens": '{"agent.name": "x"}'},
        content=b"PK",
        headers={"Content-Type": "application/zip"},
        auth=AUTH,
    )
    assert in_url.status_code == 400
    assert "X-Tokens" in in_url.text
    bad_header = client.post(
        "/rest/import/context",
        content=b"PK",
        headers={"Content-Type": "application/zip", "X-Tokens": "{oops"},
        auth=AUTH,
    )
    assert bad_header.status_code == 400
    assert "tokens" in bad_header.text
    assert client.get("/api/v1/imports", auth=AUTH).json() == []
