"""Tenant isolation: another tenant's resources are indistinguishable from missing ones."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from support.api import Actor, make_tenant, make_user, sample_plan


@pytest.fixture
def two_tenants(client: TestClient, root: Actor) -> tuple[Actor, Actor, dict[str, str]]:
    """Tenant A with one of each resource; tenant B's admin; the ids of A's resources."""
    a = make_tenant(client, root, "tenant-a")
    b = make_tenant(client, root, "tenant-b")
    plan = client.post("/api/v1/plans", headers=a.headers, json=sample_plan()).json()
    folder = client.post("/api/v1/folders", headers=a.headers, json={"path": "ops"}).json()
    key = client.post("/api/v1/api-keys", headers=a.headers, json={"name": "k"}).json()
    user = client.post(
        "/api/v1/users",
        headers=a.headers,
        json={"username": "alice", "password": "alice-password", "role": "viewer"},
    ).json()
    ids = {
        "plan": plan["id"],
        "version": plan["version_id"],
        "folder": folder["id"],
        "key": key["id"],
        "user": user["id"],
    }
    return a, b, ids


REQUESTS = [
    ("GET", "/api/v1/plans/{plan}"),
    ("PUT", "/api/v1/plans/{plan}"),
    ("DELETE", "/api/v1/plans/{plan}"),
    ("POST", "/api/v1/plans/{plan}/enable"),
    ("POST", "/api/v1/plans/{plan}/disable"),
    ("GET", "/api/v1/plans/{plan}/versions"),
    ("GET", "/api/v1/plans/{plan}/versions/{version}"),
    ("GET", "/api/v1/folders/{folder}"),
    ("DELETE", "/api/v1/folders/{folder}"),
    ("GET", "/api/v1/api-keys/{key}"),
    ("DELETE", "/api/v1/api-keys/{key}"),
    ("GET", "/api/v1/users/{user}"),
    ("PATCH", "/api/v1/users/{user}"),
    ("DELETE", "/api/v1/users/{user}"),
]


@pytest.mark.parametrize(("method", "template"), REQUESTS)
def test_other_tenant_gets_404_on_every_resource(
    client: TestClient,
    two_tenants: tuple[Actor, Actor, dict[str, str]],
    method: str,
    template: str,
) -> None:
    a, b, ids = two_tenants
    path = template.format(**ids)
    body: dict[str, object] | None = None
    if method == "PUT":
        body = sample_plan()
    elif method == "PATCH":
        body = {"display_name": "hijacked"}
    response = client.request(method, path, headers=b.headers, json=body)
    assert response.status_code == 404, (method, path, response.text)
    assert "not found" in response.json()["detail"]
    # and tenant A still sees its resource unchanged
    if method != "PUT" and "{plan}" in template:
        assert client.get(f"/api/v1/plans/{ids['plan']}", headers=a.headers).status_code == 200


def test_other_tenant_lists_none_of_them(
    client: TestClient, two_tenants: tuple[Actor, Actor, dict[str, str]]
) -> None:
    a, b, ids = two_tenants
    for path in ("/api/v1/plans", "/api/v1/folders", "/api/v1/api-keys", "/api/v1/users"):
        mine = client.get(path, headers=a.headers).json()
        theirs = client.get(path, headers=b.headers).json()
        assert mine, path
        their_ids = {item["id"] for item in theirs}
        assert not their_ids & set(ids.values()), path
    assert (
        client.get(
            "/api/v1/plans", headers=b.headers, params={"folder": "finance/eod", "name": "nightly"}
        ).json()
        == []
    )


def test_same_plan_name_in_two_tenants_is_two_plans(
    client: TestClient, two_tenants: tuple[Actor, Actor, dict[str, str]]
) -> None:
    _, b, ids = two_tenants
    created = client.post("/api/v1/plans", headers=b.headers, json=sample_plan())
    assert created.status_code == 201
    assert created.json()["id"] != ids["plan"]


def test_login_defaults_to_the_only_tenant_of_the_user(client: TestClient, root: Actor) -> None:
    make_tenant(client, root, "tenant-a")
    ambiguous = client.post(
        "/oauth/token",
        data={"grant_type": "password", "username": root.username, "password": root.password},
    )
    # creating tenant-a did not make root a member of it: root still has one tenant
    assert ambiguous.status_code == 200
    assert ambiguous.json()["tenant"] == "default"


def test_tenants_are_managed_by_system_admins_only(client: TestClient, root: Actor) -> None:
    a = make_tenant(client, root, "tenant-a")
    assert client.get("/api/v1/tenants", headers=a.headers).status_code == 403
    refused = client.post("/api/v1/tenants", headers=a.headers, json={"name": "mine"})
    assert refused.status_code == 403
    names = [t["name"] for t in client.get("/api/v1/tenants", headers=root.headers).json()]
    assert names == ["default", "tenant-a"]


def test_deleting_a_tenant_ends_its_users_access(client: TestClient, root: Actor) -> None:
    a = make_tenant(client, root, "tenant-a")
    make_user(client, a, "carol", "viewer")
    tenant = client.get("/api/v1/tenants/tenant-a", headers=root.headers).json()
    assert client.delete(f"/api/v1/tenants/{tenant['id']}", headers=root.headers).status_code == 204
    assert client.get("/api/v1/plans", headers=a.headers).status_code == 401
    assert client.get("/api/v1/tenants/tenant-a", headers=root.headers).status_code == 404
