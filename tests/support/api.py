"""Helpers for API tests: log in, make tenants and users."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.testclient import TestClient

__all__ = [
    "ROOT_PASSWORD",
    "ROOT_USER",
    "Actor",
    "login",
    "make_tenant",
    "make_user",
    "sample_plan",
]

ROOT_USER = "root"
ROOT_PASSWORD = "root-password-123"


@dataclass(frozen=True)
class Actor:
    """A logged-in user: headers to send, and who it is."""

    username: str
    password: str
    tenant: str
    headers: dict[str, str]


def login(client: TestClient, username: str, password: str, tenant: str | None = None) -> Actor:
    form = {"grant_type": "password", "username": username, "password": password}
    if tenant:
        form["tenant"] = tenant
    response = client.post("/oauth/token", data=form)
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    return Actor(
        username, password, response.json()["tenant"], {"Authorization": f"Bearer {token}"}
    )


def make_tenant(client: TestClient, root: Actor, name: str) -> Actor:
    """Create tenant ``name`` with admin ``<name>-admin``; return that admin, logged in."""
    password = f"{name}-admin-password"
    response = client.post(
        "/api/v1/tenants",
        headers=root.headers,
        json={"name": name, "admin": {"username": f"{name}-admin", "password": password}},
    )
    assert response.status_code == 201, response.text
    return login(client, f"{name}-admin", password)


def make_user(client: TestClient, admin: Actor, username: str, role: str) -> Actor:
    password = f"{username}-password"
    response = client.post(
        "/api/v1/users",
        headers=admin.headers,
        json={"username": username, "password": password, "role": role},
    )
    assert response.status_code == 201, response.text
    return login(client, username, password)


def sample_plan(
    name: str = "nightly", folder: str = "finance/eod", **extra: object
) -> dict[str, object]:
    """A small valid plan document: a time gate and a command job that waits for it."""
    plan: dict[str, object] = {
        "name": name,
        "folder": folder,
        "description": "test plan",
        "jobs": [
            {"name": "gate", "kind": "time", "cron": "0 0 1 * * ?", "timezone": "UTC"},
            {
                "name": "extract",
                "kind": "command",
                "command": "echo extract",
                "depends_on": {"job": "gate"},
            },
        ],
    }
    plan.update(extra)
    return plan
