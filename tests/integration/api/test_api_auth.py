"""Authentication: OAuth grants, refresh rotation, API keys, Basic, throttling."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from jobplan.service.container import Services
from jobplan.store.tables import api_keys
from support.api import ROOT_PASSWORD, ROOT_USER, Actor, make_tenant, make_user


def token_request(client: TestClient, **form: str) -> tuple[int, dict[str, object]]:
    response = client.post("/oauth/token", data=form)
    assert response.headers.get("cache-control") == "no-store"
    return response.status_code, response.json()


def test_password_grant_returns_a_working_bearer_token(client: TestClient) -> None:
    status, body = token_request(
        client, grant_type="password", username=ROOT_USER, password=ROOT_PASSWORD
    )
    assert status == 200, body
    assert body["token_type"] == "bearer"
    assert isinstance(body["expires_in"], int) and body["expires_in"] > 0
    assert str(body["refresh_token"]).startswith("jprt_")
    me = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["username"] == ROOT_USER
    assert me.json()["is_system_admin"] is True


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        (
            {"grant_type": "password", "username": ROOT_USER, "password": "wrong"},
            400,
            "invalid_grant",
        ),
        (
            {"grant_type": "password", "username": "nobody", "password": "whatever-x"},
            400,
            "invalid_grant",
        ),
        ({"grant_type": "password", "username": ROOT_USER}, 400, "invalid_request"),
        ({"grant_type": "magic"}, 400, "unsupported_grant_type"),
        ({}, 400, "invalid_request"),
        ({"grant_type": "refresh_token", "refresh_token": "jprt_forged"}, 400, "invalid_grant"),
        (
            {"grant_type": "client_credentials", "client_id": "abc", "client_secret": "x"},
            401,
            "invalid_client",
        ),
        (
            {
                "grant_type": "password",
                "username": ROOT_USER,
                "password": ROOT_PASSWORD,
                "tenant": "elsewhere",
            },
            400,
            "invalid_grant",
        ),
    ],
)
def test_bad_grants_are_refused_with_oauth_errors(
    client: TestClient, form: dict[str, str], status: int, error: str
) -> None:
    code, body = token_request(client, **form)
    assert code == status, body
    assert body["error"] == error
    assert body["error_description"]


def test_wrong_password_and_unknown_user_read_the_same(client: TestClient) -> None:
    _, wrong = token_request(client, grant_type="password", username=ROOT_USER, password="x" * 12)
    _, unknown = token_request(client, grant_type="password", username="ghost", password="x" * 12)
    assert wrong["error_description"] == unknown["error_description"]


def test_refresh_token_rotates_and_reuse_revokes_the_family(client: TestClient) -> None:
    _, first = token_request(
        client, grant_type="password", username=ROOT_USER, password=ROOT_PASSWORD
    )
    status, second = token_request(
        client, grant_type="refresh_token", refresh_token=str(first["refresh_token"])
    )
    assert status == 200
    assert second["refresh_token"] != first["refresh_token"]
    # replaying the used token is refused ...
    status, replay = token_request(
        client, grant_type="refresh_token", refresh_token=str(first["refresh_token"])
    )
    assert status == 400 and "already used" in str(replay["error_description"])
    # ... and has revoked the newer token of the same family too
    status, after = token_request(
        client, grant_type="refresh_token", refresh_token=str(second["refresh_token"])
    )
    assert status == 400 and "revoked" in str(after["error_description"])
    # another login starts a fresh family that works
    _, other = token_request(
        client, grant_type="password", username=ROOT_USER, password=ROOT_PASSWORD
    )
    status, _ = token_request(
        client, grant_type="refresh_token", refresh_token=str(other["refresh_token"])
    )
    assert status == 200


def test_api_key_works_in_every_header_form(client: TestClient, root: Actor) -> None:
    created = client.post("/api/v1/api-keys", headers=root.headers, json={"name": "ci"})
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert key.startswith("jp_")
    for headers in ({"X-API-Key": key}, {"Authorization": f"Bearer {key}"}):
        me = client.get("/api/v1/users/me", headers=headers)
        assert me.status_code == 200, me.text
        assert me.json()["username"] == ROOT_USER
    listed = client.get("/api/v1/api-keys", headers=root.headers).json()
    assert [k["id"] for k in listed] == [created.json()["id"]]
    assert "key" not in listed[0] and "secret_hash" not in listed[0]
    assert listed[0]["last_used_at"] is not None


def test_api_key_secret_is_stored_only_as_a_hash(
    client: TestClient, root: Actor, services: Services
) -> None:
    key = client.post("/api/v1/api-keys", headers=root.headers, json={"name": "x"}).json()["key"]
    secret = key.split("_", 2)[2]
    with services.database.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(api_keys.select())]
    assert rows and all(secret not in str(row) for row in rows)


def test_client_credentials_grant_exchanges_a_key_for_a_scoped_token(
    client: TestClient, root: Actor
) -> None:
    created = client.post(
        "/api/v1/api-keys", headers=root.headers, json={"name": "ro", "scopes": ["plans:read"]}
    ).json()
    key_id, secret = created["id"], created["key"].split("_", 2)[2]
    status, body = token_request(
        client, grant_type="client_credentials", client_id=key_id, client_secret=secret
    )
    assert status == 200, body
    assert body["scope"] == "plans:read"
    assert "refresh_token" not in body  # RFC 6749 section 4.4.3
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert client.get("/api/v1/plans", headers=headers).status_code == 200
    refused = client.post("/api/v1/folders", headers=headers, json={"path": "a"})
    assert refused.status_code == 403
    assert "plans:write" in refused.json()["detail"]
    # revoking the key also stops tokens minted from it
    client.delete(f"/api/v1/api-keys/{key_id}", headers=root.headers)
    assert client.get("/api/v1/plans", headers=headers).status_code == 401


def test_client_credentials_accepts_http_basic_client_authentication(
    client: TestClient, root: Actor
) -> None:
    """RFC 6749 section 2.3.1: the id and secret, each form-urlencoded, as HTTP Basic."""
    created = client.post(
        "/api/v1/api-keys", headers=root.headers, json={"name": "ro", "scopes": ["plans:read"]}
    ).json()
    key_id, secret = created["id"], created["key"].split("_", 2)[2]

    def basic(user: str, password: str) -> dict[str, str]:
        raw = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {raw}"}

    def grant(headers: dict[str, str], **form: str) -> tuple[int, dict[str, str]]:
        response = client.post(
            "/oauth/token", headers=headers, data={"grant_type": "client_credentials", **form}
        )
        assert response.headers.get("cache-control") == "no-store"
        return response.status_code, response.json()

    status, body = grant(basic(key_id, secret))
    assert status == 200, body
    assert body["scope"] == "plans:read"
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert client.get("/api/v1/plans", headers=headers).status_code == 200
    # the whole key as the secret works too, and form-urlencoding is undone
    encoded_secret = created["key"].replace("_", "%5F")
    status, body = grant(basic(key_id, encoded_secret))
    assert status == 200, body
    # the same id repeated in the body is no second method
    assert grant(basic(key_id, secret), client_id=key_id)[0] == 200

    status, body = grant(basic(key_id, "wrong"))
    assert status == 401 and body["error"] == "invalid_client"
    # two authentication methods at once are refused (RFC 6749 section 2.3)
    status, body = grant(basic(key_id, secret), client_id=key_id, client_secret=secret)
    assert status == 400 and body["error"] == "invalid_request"
    assert "both in the Authorization header and in the body" in body["error_description"]
    status, body = grant(basic(key_id, secret), client_id="other")
    assert status == 400 and body["error"] == "invalid_request"
    status, body = grant({"Authorization": "Basic !!!"})
    assert status == 400 and "base64" in body["error_description"]
    status, body = grant({"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()})
    assert status == 400 and "client_id:client_secret" in body["error_description"]
    status, body = grant({"Authorization": "Bearer x"})
    assert status == 400 and "HTTP Basic" in body["error_description"]


def test_revoked_and_expired_keys_are_refused(
    client: TestClient, root: Actor, services: Services
) -> None:
    revoked = client.post("/api/v1/api-keys", headers=root.headers, json={"name": "a"}).json()
    expiring = client.post(
        "/api/v1/api-keys",
        headers=root.headers,
        json={"name": "b", "expires_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()},
    ).json()
    response = client.delete(f"/api/v1/api-keys/{revoked['id']}", headers=root.headers)
    assert response.status_code == 200 and response.json()["revoked_at"] is not None
    with services.database.transaction() as conn:  # let a day pass for the expiring key
        conn.execute(
            update(api_keys)
            .where(api_keys.c.id == expiring["id"])
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    for key, word in ((revoked["key"], "revoked"), (expiring["key"], "expired")):
        response = client.get("/api/v1/users/me", headers={"X-API-Key": key})
        assert response.status_code == 401
        assert word in response.json()["detail"]
        assert response.headers["content-type"].startswith("application/problem+json")


def test_forged_key_with_a_real_id_is_refused(client: TestClient, root: Actor) -> None:
    created = client.post("/api/v1/api-keys", headers=root.headers, json={"name": "x"}).json()
    forged = f"jp_{created['id']}_{'A' * 43}"
    assert client.get("/api/v1/users/me", headers={"X-API-Key": forged}).status_code == 401


def test_http_basic_authenticates(client: TestClient) -> None:
    good = base64.b64encode(f"{ROOT_USER}:{ROOT_PASSWORD}".encode()).decode()
    bad = base64.b64encode(f"{ROOT_USER}:nope".encode()).decode()
    assert (
        client.get("/api/v1/users/me", headers={"Authorization": f"Basic {good}"}).json()[
            "username"
        ]
        == ROOT_USER
    )
    assert (
        client.get("/api/v1/users/me", headers={"Authorization": f"Basic {bad}"}).status_code == 401
    )


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": "Bearer a.b.c"},
        {"Authorization": "Token abc"},
        {"X-API-Key": "jp_nonsense"},
    ],
)
def test_missing_or_malformed_credentials_are_401(
    client: TestClient, headers: dict[str, str]
) -> None:
    response = client.get("/api/v1/plans", headers=headers)
    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers
    assert response.json()["status"] == 401


def test_failed_logins_are_throttled_per_user(client: TestClient) -> None:
    for _ in range(5):
        status, _ = token_request(
            client, grant_type="password", username=ROOT_USER, password="wrong-password"
        )
        assert status == 400
    response = client.post(
        "/oauth/token",
        data={"grant_type": "password", "username": ROOT_USER, "password": ROOT_PASSWORD},
    )
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0


def test_disabled_user_loses_access_at_once(client: TestClient, root: Actor) -> None:
    admin = make_tenant(client, root, "acme")
    bob = make_user(client, admin, "bob", "operator")
    assert client.get("/api/v1/users/me", headers=bob.headers).status_code == 200
    users = client.get("/api/v1/users", headers=admin.headers).json()
    bob_id = next(u["id"] for u in users if u["username"] == "bob")
    patched = client.patch(
        f"/api/v1/users/{bob_id}", headers=admin.headers, json={"disabled": True}
    )
    assert patched.status_code == 200
    assert client.get("/api/v1/users/me", headers=bob.headers).status_code == 401


def test_user_changes_own_password_only_with_the_current_one(
    client: TestClient, root: Actor
) -> None:
    admin = make_tenant(client, root, "acme")
    bob = make_user(client, admin, "bob", "viewer")
    wrong = client.patch(
        "/api/v1/users/me",
        headers=bob.headers,
        json={"password": "a-new-password-1", "current_password": "guess-guess"},
    )
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "current_password"
    ok = client.patch(
        "/api/v1/users/me",
        headers=bob.headers,
        json={"password": "a-new-password-1", "current_password": bob.password},
    )
    assert ok.status_code == 200
    status, _ = token_request(
        client, grant_type="password", username="bob", password="a-new-password-1", tenant="acme"
    )
    assert status == 200


def test_expired_refresh_tokens_are_purged(
    client: TestClient, root: Actor, services: Services
) -> None:
    from sqlalchemy import func, select

    from jobplan.store import credentials
    from jobplan.store.tables import refresh_tokens

    token_request(client, grant_type="password", username=ROOT_USER, password=ROOT_PASSWORD)
    with services.database.transaction() as conn:
        before = conn.execute(select(func.count()).select_from(refresh_tokens)).scalar_one()
        assert credentials.purge_refresh_tokens(conn, datetime.now(UTC)) == 0
        later = datetime.now(UTC) + timedelta(days=31)  # past the 30-day refresh lifetime
        assert credentials.purge_refresh_tokens(conn, later) == before
        assert conn.execute(select(func.count()).select_from(refresh_tokens)).scalar_one() == 0
