"""The IBM DIEM job API (seed: diem-job-api.md), replayed against the real engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from support.api import Actor, make_tenant, make_user, wait_for

URL = "/etl-mgr/api/apijob"


@pytest.fixture
def key(client: TestClient, root: Actor) -> str:
    created = client.post("/api/v1/api-keys", headers=root.headers, json={"name": "diem"})
    value: str = created.json()["key"]
    return value


def diem(client: TestClient, key: str | None, body: object = None, **params: str) -> Any:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["x-api-key"] = key
    return client.post(URL, headers=headers, json=body, params=params)


def make_plan(client: TestClient, root: Actor, name: str, command: str) -> str:
    response = client.post(
        "/api/v1/plans",
        headers=root.headers,
        json={
            "name": name,
            "folder": "etl",
            "jobs": [{"name": "step", "kind": "command", "command": command}],
        },
    )
    assert response.status_code == 201, response.text
    plan_id: str = response.json()["id"]
    return plan_id


def message(response: Any) -> str:
    body = response.json()
    assert set(body) == {"message"}, body
    text: str = body["message"]
    return text


def test_seed_request_status_start_stop(
    client: TestClient, root: Actor, key: str, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    plan_id = make_plan(
        client, root, "5fd3a340b15cc4d3b71b7cc7", f"while [ ! -f {gate} ]; do sleep 0.1; done"
    )
    # the seed's body, verbatim: the id is the job's name
    seed_body = {"id": "5fd3a340b15cc4d3b71b7cc7", "action": "status"}
    status = diem(client, key, seed_body)
    assert status.status_code == 200 and message(status) == "Pending"

    assert message(diem(client, key, {"id": plan_id, "action": "start"})) == "job started"
    assert message(diem(client, key, seed_body | {"action": "start"})) == "job already running"
    wait_for(lambda: message(diem(client, key, seed_body)) == "Running", what="Running")
    assert message(diem(client, key, seed_body | {"action": "stop"})) == "job stopped"
    assert message(diem(client, key, seed_body | {"action": "stop"})) == "job already stopped"
    assert message(diem(client, key, seed_body)) == "Stopped"


def test_completed_and_failed_jobs(client: TestClient, root: Actor, key: str) -> None:
    make_plan(client, root, "good", "true")
    make_plan(client, root, "bad", "exit 4")
    for name, word in (("good", "Completed"), ("bad", "Failed")):
        assert message(diem(client, key, {"id": name, "action": "start"})) == "job started"
        wait_for(
            lambda n=name, w=word: message(diem(client, key, {"id": n, "action": "status"})) == w,
            what=f"{name} {word}",
        )


def test_action_as_a_query_parameter(client: TestClient, root: Actor, key: str) -> None:
    make_plan(client, root, "q", "true")
    response = diem(client, key, {"id": "q"}, action="status")
    assert response.status_code == 200 and message(response) == "Pending"


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [
        ({"id": "x", "action": "restart"}, 400, "not a valid method"),
        ({"id": "x"}, 400, "not a valid method"),
        ({"action": "status"}, 400, '"id"'),
        ({"id": 42, "action": "status"}, 400, '"id"'),
        (["id", "action"], 400, "JSON object"),
        ({"id": "no-such-job", "action": "status"}, 404, "no-such-job"),
    ],
)
def test_bad_requests_answer_in_diem_style(
    client: TestClient, key: str, body: object, status: int, text: str
) -> None:
    response = diem(client, key, body)
    assert response.status_code == status
    assert text in message(response)


def test_malformed_json_is_400(client: TestClient, key: str) -> None:
    response = client.post(
        URL, headers={"x-api-key": key, "Content-Type": "application/json"}, content=b'{"id": '
    )
    assert response.status_code == 400 and "not valid JSON" in message(response)


@pytest.mark.parametrize("bad_key", [None, "", "jp_abc_def", "eyJhbGciOiJIUzI1NiJ9.e30.x"])
def test_missing_or_wrong_key_is_401(client: TestClient, bad_key: str | None) -> None:
    response = diem(client, bad_key, {"id": "x", "action": "status"})
    assert response.status_code == 401
    assert message(response)


def test_other_tenants_jobs_are_not_found_and_viewers_cannot_start(
    client: TestClient, root: Actor
) -> None:
    make_plan(client, root, "secret", "true")
    other = make_tenant(client, root, "other")
    other_key = client.post("/api/v1/api-keys", headers=other.headers, json={"name": "k"}).json()[
        "key"
    ]
    assert diem(client, other_key, {"id": "secret", "action": "start"}).status_code == 404
    viewer = make_user(client, root, "vic", "viewer")
    viewer_key = client.post("/api/v1/api-keys", headers=viewer.headers, json={"name": "k"})
    assert viewer_key.status_code == 403  # viewers cannot even make keys
    token = viewer.headers["Authorization"].removeprefix("Bearer ")
    refused = diem(client, token, {"id": "secret", "action": "start"})
    assert refused.status_code == 403 and "runs:write" in message(refused)
    assert message(diem(client, token, {"id": "secret", "action": "status"})) == "Pending"
