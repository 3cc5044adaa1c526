"""The role matrix: what viewers, operators, supervisors and admins may do."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from support.api import Actor, make_tenant, make_user, sample_plan


@pytest.fixture
def team(client: TestClient, root: Actor) -> dict[str, Actor]:
    admin = make_tenant(client, root, "acme")
    return {
        "admin": admin,
        "supervisor": make_user(client, admin, "sam", "supervisor"),
        "operator": make_user(client, admin, "olga", "operator"),
        "viewer": make_user(client, admin, "vic", "viewer"),
    }


# (role, method, path, body, allowed)
WRITE_PLAN = ("POST", "/api/v1/plans", sample_plan("p2"))
MATRIX = [
    ("viewer", *WRITE_PLAN, False),
    ("operator", *WRITE_PLAN, False),
    ("supervisor", *WRITE_PLAN, True),
    ("admin", *WRITE_PLAN, True),
    ("viewer", "POST", "/api/v1/folders", {"path": "x"}, False),
    ("supervisor", "POST", "/api/v1/folders", {"path": "x"}, True),
    ("viewer", "POST", "/api/v1/api-keys", {"name": "k"}, False),
    ("operator", "POST", "/api/v1/api-keys", {"name": "k"}, True),
    (
        "operator",
        "POST",
        "/api/v1/users",
        {"username": "new1", "password": "new-password-1", "role": "viewer"},
        False,
    ),
    (
        "supervisor",
        "POST",
        "/api/v1/users",
        {"username": "new2", "password": "new-password-2", "role": "viewer"},
        False,
    ),
    (
        "admin",
        "POST",
        "/api/v1/users",
        {"username": "new3", "password": "new-password-3", "role": "viewer"},
        True,
    ),
    ("viewer", "GET", "/api/v1/users", None, False),
    ("operator", "GET", "/api/v1/users", None, False),
    ("supervisor", "GET", "/api/v1/users", None, True),
    ("viewer", "GET", "/api/v1/plans", None, True),
]


@pytest.mark.parametrize(("role", "method", "path", "body", "allowed"), MATRIX)
def test_role_matrix(
    client: TestClient,
    team: dict[str, Actor],
    role: str,
    method: str,
    path: str,
    body: dict[str, object] | None,
    allowed: bool,
) -> None:
    response = client.request(method, path, headers=team[role].headers, json=body)
    if allowed:
        assert response.status_code in (200, 201), response.text
    else:
        assert response.status_code == 403, response.text
        assert f"role '{role}'" in response.json()["detail"]


def test_viewer_cannot_change_or_delete_plans(client: TestClient, team: dict[str, Actor]) -> None:
    plan = client.post("/api/v1/plans", headers=team["admin"].headers, json=sample_plan()).json()
    viewer = team["viewer"].headers
    assert (
        client.put(
            f"/api/v1/plans/{plan['id']}", headers=viewer, json=sample_plan(description="x")
        ).status_code
        == 403
    )
    assert client.delete(f"/api/v1/plans/{plan['id']}", headers=viewer).status_code == 403
    assert client.post(f"/api/v1/plans/{plan['id']}/disable", headers=viewer).status_code == 403
    assert client.get(f"/api/v1/plans/{plan['id']}", headers=viewer).status_code == 200


def test_operator_manages_own_keys_but_not_others(
    client: TestClient, team: dict[str, Actor]
) -> None:
    own = client.post("/api/v1/api-keys", headers=team["operator"].headers, json={"name": "o"})
    admins = client.post("/api/v1/api-keys", headers=team["admin"].headers, json={"name": "a"})
    op = team["operator"].headers
    listed = client.get("/api/v1/api-keys", headers=op).json()
    assert [k["id"] for k in listed] == [own.json()["id"]]
    assert client.get("/api/v1/api-keys", headers=op, params={"all_users": True}).status_code == 403
    assert client.delete(f"/api/v1/api-keys/{admins.json()['id']}", headers=op).status_code == 404
    assert client.delete(f"/api/v1/api-keys/{own.json()['id']}", headers=op).status_code == 200


def test_supervisor_sees_all_keys_but_only_admin_revokes_others(
    client: TestClient, team: dict[str, Actor]
) -> None:
    key = client.post("/api/v1/api-keys", headers=team["operator"].headers, json={"name": "o"})
    key_id = key.json()["id"]
    sup = team["supervisor"].headers
    everyone = client.get("/api/v1/api-keys", headers=sup, params={"all_users": True}).json()
    assert key_id in {k["id"] for k in everyone}
    assert client.delete(f"/api/v1/api-keys/{key_id}", headers=sup).status_code == 403
    revoked = client.delete(f"/api/v1/api-keys/{key_id}", headers=team["admin"].headers)
    assert revoked.status_code == 200


def test_key_scopes_cannot_exceed_the_role(client: TestClient, team: dict[str, Actor]) -> None:
    response = client.post(
        "/api/v1/api-keys",
        headers=team["operator"].headers,
        json={"name": "k", "scopes": ["plans:write"]},
    )
    assert response.status_code == 403
    assert "plans:write" in response.json()["detail"]
    unknown = client.post(
        "/api/v1/api-keys",
        headers=team["operator"].headers,
        json={"name": "k", "scopes": ["root:everything"]},
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "scopes"


def test_scoped_key_is_narrower_than_its_owner(client: TestClient, team: dict[str, Actor]) -> None:
    key = client.post(
        "/api/v1/api-keys",
        headers=team["admin"].headers,
        json={"name": "ro", "scopes": ["plans:read"]},
    ).json()["key"]
    headers = {"X-API-Key": key}
    assert client.get("/api/v1/plans", headers=headers).status_code == 200
    refused = client.post("/api/v1/plans", headers=headers, json=sample_plan())
    assert refused.status_code == 403
    assert "scopes" in refused.json()["detail"]
    # a key made with a scoped key never gets more than its maker
    child = client.post("/api/v1/api-keys", headers=headers, json={"name": "child"})
    assert child.status_code == 403  # creating keys needs keys:write, not in the scopes


def test_demoted_user_loses_rights_without_a_new_token(
    client: TestClient, team: dict[str, Actor]
) -> None:
    sup = team["supervisor"]
    assert (
        client.post("/api/v1/folders", headers=sup.headers, json={"path": "a"}).status_code == 201
    )
    users = client.get("/api/v1/users", headers=team["admin"].headers).json()
    sam = next(u for u in users if u["username"] == "sam")
    client.patch(
        f"/api/v1/users/{sam['id']}", headers=team["admin"].headers, json={"role": "viewer"}
    )
    assert (
        client.post("/api/v1/folders", headers=sup.headers, json={"path": "b"}).status_code == 403
    )


def test_admin_cannot_demote_or_remove_themselves(
    client: TestClient, team: dict[str, Actor]
) -> None:
    admin = team["admin"].headers
    assert (
        client.patch("/api/v1/users/me", headers=admin, json={"role": "viewer"}).status_code == 409
    )
    assert client.delete("/api/v1/users/me", headers=admin).status_code == 409
