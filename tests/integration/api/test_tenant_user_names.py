"""User names are per tenant: creating "bob" tells nothing about other tenants' users, and
each tenant's "bob" signs in to his own tenant only (native, Basic, dialect and console)."""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient

from jobplan.errors import AuthenticationFailed, RateLimited
from jobplan.service.container import Services
from support.api import ROOT_PASSWORD, ROOT_USER, Actor, login, make_tenant, make_user


def _create(client: TestClient, admin: Actor, username: str, password: str) -> int:
    response = client.post(
        "/api/v1/users",
        headers=admin.headers,
        json={"username": username, "password": password, "role": "operator"},
    )
    return response.status_code


def _grant(client: TestClient, username: str, password: str, tenant: str | None = None) -> int:
    form = {"grant_type": "password", "username": username, "password": password}
    if tenant is not None:
        form["tenant"] = tenant
    return client.post("/oauth/token", data=form).status_code


def _basic(username: str, password: str, tenant: str | None = None) -> dict[str, str]:
    pair = base64.b64encode(f"{username}:{password}".encode()).decode()
    headers = {"Authorization": f"Basic {pair}"}
    if tenant is not None:
        headers["X-Tenant"] = tenant
    return headers


def test_two_tenants_each_have_their_own_bob(client: TestClient, root: Actor) -> None:
    a = make_tenant(client, root, "tenant-a")
    b = make_tenant(client, root, "tenant-b")
    assert _create(client, b, "bob", "bob-of-b-password") == 201
    # tenant A's admin cannot tell that B has a bob: A gets its own
    assert _create(client, a, "bob", "bob-of-a-password") == 201
    bob_a = login(client, "bob", "bob-of-a-password", tenant="tenant-a")
    bob_b = login(client, "bob", "bob-of-b-password", tenant="tenant-b")
    me_a = client.get("/api/v1/users/me", headers=bob_a.headers).json()
    me_b = client.get("/api/v1/users/me", headers=bob_b.headers).json()
    assert me_a["id"] != me_b["id"]
    assert (bob_a.tenant, bob_b.tenant) == ("tenant-a", "tenant-b")
    # neither password opens the other tenant's bob
    assert _grant(client, "bob", "bob-of-a-password", "tenant-b") == 400
    assert _grant(client, "bob", "bob-of-b-password", "tenant-a") == 400
    # each admin lists only their own bob
    for admin, me in ((a, me_a), (b, me_b)):
        listed = client.get("/api/v1/users", headers=admin.headers).json()
        assert [u["id"] for u in listed if u["username"] == "bob"] == [me["id"]]


def test_a_name_taken_in_the_own_tenant_is_409(client: TestClient, root: Actor) -> None:
    a = make_tenant(client, root, "tenant-a")
    assert _create(client, a, "bob", "bob-password-1") == 201
    assert _create(client, a, "bob", "bob-password-2") == 409


def test_a_tenant_admin_may_name_a_user_like_the_system_admin(
    client: TestClient, root: Actor
) -> None:
    a = make_tenant(client, root, "tenant-a")
    assert _create(client, a, ROOT_USER, "their-own-root-password") == 201
    theirs = login(client, ROOT_USER, "their-own-root-password", tenant="tenant-a")
    assert client.get("/api/v1/tenants", headers=theirs.headers).status_code == 403
    # the system administrator is untouched: same password, signing in without a tenant
    assert login(client, ROOT_USER, ROOT_PASSWORD).tenant == "default"
    assert _grant(client, ROOT_USER, "their-own-root-password") == 400


def test_without_a_tenant_the_answer_is_the_same_whatever_other_tenants_hold(
    client: TestClient, root: Actor
) -> None:
    """A login without a tenant is for the default tenant (and accounts older than per-tenant
    names): another tenant's user must name it, and the answer does not depend on whether
    other tenants have a user of the name."""
    a = make_tenant(client, root, "tenant-a")
    b = make_tenant(client, root, "tenant-b")
    assert _create(client, a, "carol", "carol-of-a-password") == 201
    before = client.post(
        "/oauth/token",
        data={"grant_type": "password", "username": "carol", "password": "carol-of-a-password"},
    )
    assert before.status_code == 400
    assert "naming their tenant" in before.json()["error_description"]
    assert _create(client, b, "carol", "carol-of-b-password") == 201
    make_user(client, root, "carol", "viewer")  # and the default tenant's own carol
    after = client.post(
        "/oauth/token",
        data={"grant_type": "password", "username": "carol", "password": "carol-of-a-password"},
    )
    assert (after.status_code, after.json()) == (before.status_code, before.json())
    # the default tenant's carol signs in without naming it; A's carol naming hers
    assert login(client, "carol", "carol-password").tenant == "default"
    assert login(client, "carol", "carol-of-a-password", tenant="tenant-a").tenant == "tenant-a"


def test_basic_credentials_are_told_apart_by_tenant(client: TestClient, root: Actor) -> None:
    """Same name and password in two tenants: the remembered Basic check of one never
    answers for the other."""
    a = make_tenant(client, root, "tenant-a")
    b = make_tenant(client, root, "tenant-b")
    assert _create(client, a, "bob", "same-password-1") == 201
    assert _create(client, b, "bob", "same-password-1") == 201
    for _ in range(2):  # the second round is answered from the cache
        for tenant in ("tenant-a", "tenant-b", "tenant-a"):
            me = client.get("/api/v1/users/me", headers=_basic("bob", "same-password-1", tenant))
            assert me.status_code == 200, me.text
            admin = a if tenant == "tenant-a" else b
            ids = {u["id"] for u in client.get("/api/v1/users", headers=admin.headers).json()}
            assert me.json()["id"] in ids
            # a client that cannot send X-Tenant names the tenant in the user name
            named = client.get(
                "/api/v1/users/me", headers=_basic(f"{tenant}/bob", "same-password-1")
            )
            assert named.json()["id"] == me.json()["id"]
    # without a tenant neither answers (they are not of the default tenant)
    refused = client.get("/api/v1/users/me", headers=_basic("bob", "same-password-1"))
    assert refused.status_code == 401


def test_failed_logins_in_one_tenant_do_not_lock_out_anothers_user(
    client: TestClient, root: Actor, services: Services
) -> None:
    """The throttle counts a login naming a tenant under that tenant's user: guessing tenant
    A's bob (from many addresses) does not lock out tenant B's."""
    a = make_tenant(client, root, "tenant-a")
    b = make_tenant(client, root, "tenant-b")
    assert _create(client, a, "bob", "bob-of-a-password") == 201
    assert _create(client, b, "bob", "bob-of-b-password") == 201
    auth = services.auth
    for n in range(auth.throttle.max_failures):
        with pytest.raises(AuthenticationFailed):
            auth.password_grant("bob", "wrong-password", "tenant-a", f"10.0.0.{n}")
    with pytest.raises(RateLimited):
        auth.password_grant("bob", "bob-of-a-password", "tenant-a", "10.0.1.1")
    assert auth.password_grant("bob", "bob-of-b-password", "tenant-b", "10.0.1.1").tenant == (
        "tenant-b"
    )


def test_the_console_signs_in_each_tenants_bob_to_his_tenant(
    client: TestClient, root: Actor
) -> None:
    a = make_tenant(client, root, "tenant-a")
    b = make_tenant(client, root, "tenant-b")
    assert _create(client, a, "bob", "bob-of-a-password") == 201
    assert _create(client, b, "bob", "bob-of-b-password") == 201
    wrong = client.post(
        "/signin",
        data={"username": "bob", "password": "bob-of-a-password", "tenant": "tenant-b"},
    )
    assert wrong.status_code == 401
    assert "set-cookie" not in wrong.headers
    signed = client.post(
        "/signin",
        data={"username": "bob", "password": "bob-of-b-password", "tenant": "tenant-b"},
    )
    assert signed.status_code == 200, signed.text
    assert "tenant-b" in signed.text
