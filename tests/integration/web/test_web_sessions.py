"""Console sign-in, sessions and CSRF, through the real app on both stores."""

from __future__ import annotations

from fastapi.testclient import TestClient

from jobplan.service.container import Services
from support.api import ROOT_PASSWORD, ROOT_USER, Actor, make_user, sample_plan

from .conftest import sign_in


def test_pages_need_a_session_and_send_the_browser_to_sign_in(client: TestClient) -> None:
    for path in ("/plans", "/cron", "/plans/x", "/runs/x", "/job-runs/x"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/signin?next=")
    htmx = client.get("/plans", headers={"HX-Request": "true"}, follow_redirects=False)
    assert htmx.status_code == 401 and htmx.headers["HX-Redirect"] == "/signin"


def test_a_wrong_password_sets_no_cookie(client: TestClient) -> None:
    response = client.post("/signin", data={"username": ROOT_USER, "password": "wrong"})
    assert response.status_code == 401
    assert "user name or password is wrong" in response.text
    assert "jobplan_session" not in response.headers.get("set-cookie", "")


def test_sign_in_cookie_is_http_only_and_same_site(client: TestClient) -> None:
    response = client.post(
        "/signin",
        data={"username": ROOT_USER, "password": ROOT_PASSWORD},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/plans"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie  # plain http here; https sets it


def test_sign_in_goes_only_to_local_paths(client: TestClient) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = client.post(
            "/signin",
            data={"username": ROOT_USER, "password": ROOT_PASSWORD, "next": target},
            follow_redirects=False,
        )
        assert response.headers["location"] == "/plans", target


def test_sign_out_revokes_the_session_on_the_server(client: TestClient, csrf: str) -> None:
    cookie = client.cookies["jobplan_session"]
    response = client.post("/signout", headers={"X-CSRF-Token": csrf}, follow_redirects=False)
    assert response.status_code == 303
    client.cookies.set("jobplan_session", cookie)  # a copy kept by an attacker
    assert client.get("/plans", follow_redirects=False).status_code == 303


def test_a_password_change_ends_the_users_sessions(
    client: TestClient, services: Services, root: Actor
) -> None:
    make_user(client, root, "olga", "operator")
    sign_in(client, "olga", "olga-password")
    assert client.get("/plans").status_code == 200
    listed = client.get("/api/v1/users", headers=root.headers).json()
    olga = next(user for user in listed if user["username"] == "olga")
    response = client.patch(
        f"/api/v1/users/{olga['id']}",
        headers=root.headers,
        json={"password": "a-brand-new-password"},
    )
    assert response.status_code == 200, response.text
    assert client.get("/plans", follow_redirects=False).status_code == 303


def test_an_access_token_is_not_a_session_cookie(client: TestClient, root: Actor) -> None:
    token = root.headers["Authorization"].removeprefix("Bearer ")
    client.cookies.set("jobplan_session", token)
    assert client.get("/plans", follow_redirects=False).status_code == 303


def test_state_changes_need_the_csrf_token(client: TestClient, root: Actor, csrf: str) -> None:
    plan = client.post("/api/v1/plans/apply", headers=root.headers, json=sample_plan()).json()
    plan_id = plan["plan"]["id"]
    for headers, data in (({}, {}), ({"X-CSRF-Token": "0" * 64}, {}), ({}, {"csrf_token": "x"})):
        response = client.post(f"/plans/{plan_id}/run", headers=headers, data=data)
        assert response.status_code == 403, (headers, data)
    runs = client.get("/api/v1/runs", headers=root.headers).json()
    assert runs == []
    # the token as a form field works as well as the header
    response = client.post(
        f"/plans/{plan_id}/run", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"].startswith("/runs/")


def test_a_viewer_cannot_act_even_with_a_valid_token(client: TestClient, root: Actor) -> None:
    plan = client.post("/api/v1/plans/apply", headers=root.headers, json=sample_plan()).json()
    make_user(client, root, "vera", "viewer")
    token = sign_in(client, "vera", "vera-password")
    page = client.get("/plans")
    assert "Run now" not in page.text and "Disable selected" not in page.text
    response = client.post(f"/plans/{plan['plan']['id']}/run", headers={"X-CSRF-Token": token})
    assert response.status_code == 403
    assert "does not allow" in response.text
    response = client.post(
        "/plans/bulk",
        data={"csrf_token": token, "action": "disable", "plan": plan["plan"]["id"]},
    )
    assert response.status_code == 403


def test_another_tenants_plan_is_not_found(client: TestClient, root: Actor, csrf: str) -> None:
    from support.api import make_tenant

    other = make_tenant(client, root, "acme")
    plan = client.post("/api/v1/plans/apply", headers=other.headers, json=sample_plan()).json()
    response = client.get(f"/plans/{plan['plan']['id']}")
    assert response.status_code == 404
    assert "not found" in response.text.lower()
