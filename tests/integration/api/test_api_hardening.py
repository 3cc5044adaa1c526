"""Regression tests for hostile and edge-case input found in review."""

from __future__ import annotations

import base64
import threading

import pytest
from fastapi.testclient import TestClient

from jobplan.errors import RateLimited
from jobplan.service.throttle import LoginThrottle
from jobplan.store import Database
from support.api import ROOT_PASSWORD, ROOT_USER, Actor, login, make_tenant, make_user, sample_plan


def user_id(client: TestClient, admin: Actor, username: str) -> str:
    users = client.get("/api/v1/users", headers=admin.headers).json()
    found: str = next(u["id"] for u in users if u["username"] == username)
    return found


def test_tenant_admin_cannot_take_over_a_system_admin(client: TestClient, root: Actor) -> None:
    second = make_user(client, root, "admin2", "admin")  # an admin of root's tenant
    root_id = user_id(client, root, ROOT_USER)
    hijack = client.patch(
        f"/api/v1/users/{root_id}", headers=second.headers, json={"password": "stolen-password-1"}
    )
    assert hijack.status_code == 403
    assert "system administrator" in hijack.json()["detail"]
    disable = client.patch(
        f"/api/v1/users/{root_id}", headers=second.headers, json={"disabled": True}
    )
    assert disable.status_code == 403
    removed = client.delete(f"/api/v1/users/{root_id}", headers=second.headers)
    assert removed.status_code == 204  # only the membership goes; the account survives
    token = client.post(
        "/oauth/token",
        data={"grant_type": "password", "username": ROOT_USER, "password": ROOT_PASSWORD},
    )
    assert token.status_code == 400  # no tenant left for root ...
    assert "not a member" in token.json()["error_description"]  # ... but the account exists


def test_tenant_admin_cannot_change_an_account_shared_with_another_tenant(
    client: TestClient, root: Actor
) -> None:
    admin_b = make_tenant(client, root, "tenant-b")
    carol = make_user(client, admin_b, "carol", "viewer")
    # root (system admin) can change anyone; a plain admin of tenant-b changes its own users
    ok = client.patch(
        f"/api/v1/users/{user_id(client, admin_b, 'carol')}",
        headers=admin_b.headers,
        json={"display_name": "Carol"},
    )
    assert ok.status_code == 200
    assert carol.username == "carol"


def test_password_change_revokes_refresh_tokens_and_cached_basic(
    client: TestClient, root: Actor
) -> None:
    admin = make_tenant(client, root, "acme")
    make_user(client, admin, "dave", "viewer")
    tokens = client.post(
        "/oauth/token",
        data={
            "grant_type": "password",
            "username": "dave",
            "password": "dave-password",
            "tenant": "acme",
        },
    ).json()
    basic = {
        "Authorization": "Basic " + base64.b64encode(b"dave:dave-password").decode(),
        "X-Tenant": "acme",
    }
    assert client.get("/api/v1/users/me", headers=basic).status_code == 200  # now cached
    reset = client.patch(
        f"/api/v1/users/{user_id(client, admin, 'dave')}",
        headers=admin.headers,
        json={"password": "brand-new-password"},
    )
    assert reset.status_code == 200
    refreshed = client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
    )
    assert refreshed.status_code == 400 and "revoked" in refreshed.json()["error_description"]
    assert client.get("/api/v1/users/me", headers=basic).status_code == 401


def test_throttle_counts_concurrent_guesses(database: Database, database_url: str) -> None:
    """Guesses racing through two nodes (two connection pools on one database) together get
    exactly the allowed number of attempts."""
    other_node = Database(database_url)
    throttles = [
        LoginThrottle(database, max_failures=5, window=300),
        LoginThrottle(other_node, max_failures=5, window=300),
    ]
    admitted = []
    lock = threading.Lock()

    def guess(throttle: LoginThrottle) -> None:
        try:
            throttle.attempt("user:x", "addr:y")
        except RateLimited:
            return
        with lock:
            admitted.append(1)

    threads = [threading.Thread(target=guess, args=(throttles[i % 2],)) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other_node.dispose()
    assert len(admitted) == 5


def test_spoofed_forwarded_for_does_not_reset_throttling(client: TestClient) -> None:
    for _ in range(5):
        client.post(
            "/oauth/token",
            data={"grant_type": "password", "username": "ghost", "password": "wrong-password"},
        )
    spoofed = client.post(
        "/oauth/token",
        data={"grant_type": "password", "username": "ghost2", "password": "wrong-password"},
        headers={"X-Forwarded-For": "10.9.9.9"},
    )
    assert spoofed.status_code == 429


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("GET", "/api/v1/plans?offset=9223372036854775808", None, "offset"),
        (
            "POST",
            "/api/v1/api-keys",
            {"name": "k", "expires_at": "9999-12-31T23:59:59-14:00"},
            "expires_at",
        ),
        ("POST", "/api/v1/tenants", {"name": "ta\n"}, "name"),
        ("POST", "/api/v1/users", {"username": "bob\n", "password": "long-enough-pw"}, "username"),
    ],
)
def test_edge_values_are_422(
    client: TestClient, root: Actor, method: str, path: str, body: object, field: str
) -> None:
    response = client.request(method, path, headers=root.headers, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"].split(".")[-1] == field


def test_nul_bytes_are_refused_not_500(client: TestClient, root: Actor) -> None:
    token = client.post(
        "/oauth/token",
        data={"grant_type": "password", "username": "a\x00b", "password": "whatever-123"},
    )
    assert token.status_code == 422
    folder = client.post(
        "/api/v1/folders", headers=root.headers, json={"path": "ok", "description": "bad\x00byte"}
    )
    assert folder.status_code == 422
    listed = client.get("/api/v1/plans", headers=root.headers, params={"q": "x\x00"})
    assert listed.status_code == 422
    assert "NUL" in listed.json()["detail"]
    # an escaped backslash followed by u0000 is ordinary text, not a NUL
    text = client.post(
        "/api/v1/folders",
        headers=root.headers,
        json={"path": "ok2", "description": "printf '\\u0000'"},
    )
    assert text.status_code == 201


def test_deep_tenant_settings_are_refused(client: TestClient, root: Actor) -> None:
    deep: dict[str, object] = {}
    node = deep
    for _ in range(50):
        node["k"] = {}
        node = node["k"]  # type: ignore[assignment]
    response = client.post(
        "/api/v1/tenants", headers=root.headers, json={"name": "deep", "settings": deep}
    )
    assert response.status_code == 422
    assert client.get("/api/v1/tenants", headers=root.headers).status_code == 200


def test_existing_username_is_not_silently_linked_to_a_new_tenant(
    client: TestClient, root: Actor
) -> None:
    """User names are per tenant: the new tenant's admin named like the system administrator
    is a new account of its own, not a link to (or a takeover of) the existing one."""
    response = client.post(
        "/api/v1/tenants",
        headers=root.headers,
        json={"name": "t2", "admin": {"username": ROOT_USER, "password": "another-password"}},
    )
    assert response.status_code == 201
    theirs = login(client, ROOT_USER, "another-password", tenant="t2")
    assert client.get("/api/v1/tenants", headers=theirs.headers).status_code == 403
    assert login(client, ROOT_USER, ROOT_PASSWORD).tenant == "default"
    refused = client.post(
        "/oauth/token",
        data={
            "grant_type": "password",
            "username": ROOT_USER,
            "password": ROOT_PASSWORD,
            "tenant": "t2",
        },
    )
    assert refused.status_code == 400


def test_version_bump_overflow_is_a_clear_409(client: TestClient, root: Actor) -> None:
    plan = client.post(
        "/api/v1/plans", headers=root.headers, json=sample_plan(version="1.0.999999999")
    ).json()
    response = client.put(
        f"/api/v1/plans/{plan['id']}", headers=root.headers, json=sample_plan(description="changed")
    )
    assert response.status_code == 409
    assert "explicit version" in response.json()["detail"]
    assert client.get(f"/api/v1/plans/{plan['id']}", headers=root.headers).status_code == 200


def test_shown_document_can_be_edited_and_applied_again(client: TestClient, root: Actor) -> None:
    plan = client.post("/api/v1/plans", headers=root.headers, json=sample_plan()).json()
    shown = dict(plan["document"])
    assert shown["version"] == "1.0.0"
    shown["description"] = "edited after show"
    applied = client.post("/api/v1/plans/apply", headers=root.headers, json=shown)
    assert applied.status_code == 200, applied.text
    assert applied.json()["plan"]["version"] == "1.0.1"


def test_folder_matching_is_case_sensitive(client: TestClient, root: Actor) -> None:
    client.post("/api/v1/plans", headers=root.headers, json=sample_plan("x", "Fin/sub"))
    fin = client.post("/api/v1/folders", headers=root.headers, json={"path": "fin"}).json()
    assert client.delete(f"/api/v1/folders/{fin['id']}", headers=root.headers).status_code == 204


def test_chunked_body_over_the_limit_is_413(client: TestClient, root: Actor) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(12):
            yield b"x" * (1024 * 1024)

    response = client.post(
        "/api/v1/plans",
        headers={**root.headers, "Content-Type": "application/json"},
        content=chunks(),
    )
    assert response.status_code == 413


def test_login_works_for_shared_tenant_member(client: TestClient, root: Actor) -> None:
    admin = make_tenant(client, root, "acme")
    eve = make_user(client, admin, "eve", "viewer")
    assert login(client, eve.username, eve.password, tenant="acme").tenant == "acme"
