"""Helpers for API tests: log in, make tenants and users."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi.testclient import TestClient

__all__ = [
    "ROOT_PASSWORD",
    "ROOT_USER",
    "Actor",
    "job_of",
    "login",
    "make_tenant",
    "make_user",
    "run_detail",
    "sample_plan",
    "wait_for",
]

T = TypeVar("T")

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
    return login(client, f"{name}-admin", password, tenant=name)


def make_user(client: TestClient, admin: Actor, username: str, role: str) -> Actor:
    password = f"{username}-password"
    response = client.post(
        "/api/v1/users",
        headers=admin.headers,
        json={"username": username, "password": password, "role": role},
    )
    assert response.status_code == 201, response.text
    return login(client, username, password, tenant=admin.tenant)


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


def wait_for(probe: Callable[[], T | None], timeout: float = 20.0, what: str = "condition") -> T:
    """Poll ``probe`` until it returns something truthy (not a timing assertion: the timeout
    only bounds a wait for something that should happen)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def run_detail(client: TestClient, actor: Actor, run_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/runs/{run_id}", headers=actor.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def job_of(run: dict[str, Any], name: str) -> dict[str, Any]:
    job: dict[str, Any] = next(j for j in run["jobs"] if j["job_name"] == name)
    return job
