"""Inputs the native API used to accept or answer with a 500 (issue #11, items 13 and 15):
each is now a 4xx naming the field, and nothing is stored."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from support.api import Actor, job_of, run_detail, wait_for


def test_output_after_beyond_the_sequence_range_is_422(client: TestClient, root: Actor) -> None:
    """Before: ``after=2**63`` reached the database and was an OverflowError (500) in SQLite,
    ``after=2**31`` an out-of-range error (500) in PostgreSQL."""
    plan = {
        "name": "say",
        "folder": "ops",
        "jobs": [{"name": "say", "kind": "command", "command": "echo hi"}],
    }
    plan_id = client.post("/api/v1/plans", headers=root.headers, json=plan).json()["id"]
    started = client.post(f"/api/v1/plans/{plan_id}/runs", headers=root.headers, json={})
    run_id = started.json()["run"]["id"]
    job = wait_for(
        lambda: (lambda j: j if j["status"] == "COMPLETE" else None)(
            job_of(run_detail(client, root, run_id), "say")
        ),
        what="the job to complete",
    )
    url = f"/api/v1/job-runs/{job['id']}/output"
    for after in (2**63, 2**31):  # past SQLite's integers, past PostgreSQL's column
        refused = client.get(url, headers=root.headers, params={"after": after})
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"].endswith("after")
    largest = client.get(url, headers=root.headers, params={"after": 2**31 - 1})
    assert largest.status_code == 200, largest.text
    assert largest.json()["text"] == ""


@pytest.mark.parametrize("name", ["..", "a\nb", "<b>ready</b>", "data ready", "x/y"])
def test_event_names_the_plan_format_refuses_are_422(
    client: TestClient, root: Actor, name: str
) -> None:
    """Before: any 1-100 characters were raised as an event no plan could ever wait for."""
    response = client.post("/api/v1/events", headers=root.headers, json={"name": name})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "name"
    accepted = client.post("/api/v1/events", headers=root.headers, json={"name": "data-ready.1"})
    assert accepted.status_code == 200, accepted.text


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_in_tenant_settings_are_422(
    client: TestClient, root: Actor, number: str
) -> None:
    """Before: Python's JSON reader took them and the tenant stored null in their place."""
    body = '{"name": "odd", "settings": {"ratio": ' + number + "}}"
    response = client.post(
        "/api/v1/tenants",
        headers={**root.headers, "Content-Type": "application/json"},
        content=body,
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "settings"
    assert "NaN" in response.json()["detail"]
    assert client.get("/api/v1/tenants/odd", headers=root.headers).status_code == 404
