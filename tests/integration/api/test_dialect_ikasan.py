"""Ikasan's job plan export services (seed: ikasan-job-plan-export.md) with HTTP Basic."""

from __future__ import annotations

import io
import zipfile

from fastapi.testclient import TestClient

from jobplan.bundle import read_bundle
from jobplan.model import PlanDocument
from support.api import ROOT_PASSWORD, ROOT_USER, Actor, make_tenant

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
        "/rest/export/context/MyFirstJobPlan", auth=("other-admin", "other-admin-password")
    )
    assert response.status_code == 404
