"""The Secrets tab: set (created, then replaced), listed by name with who set it, deleted
with the CSRF token like every admin form; no page ever holds a value, not even the page
refusing a bad form; viewers read names and have no form (both stores)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from support.api import Actor, make_user

from .conftest import sign_in

VALUE = "web-s3cret-4e1f"


def test_a_secret_is_set_replaced_listed_and_deleted_without_its_value(
    client: TestClient, csrf: str
) -> None:
    assert 'href="/admin/secrets"' in client.get("/admin/keys").text  # the tab
    created = client.post(
        "/admin/secrets", data={"csrf_token": csrf, "name": "DB_PASSWORD", "value": VALUE}
    )
    assert created.status_code == 201, created.text[-2000:]
    assert "Secret <strong>DB_PASSWORD</strong> created" in created.text
    replaced = client.post(
        "/admin/secrets", data={"csrf_token": csrf, "name": "DB_PASSWORD", "value": VALUE + "2"}
    )
    assert replaced.status_code == 200 and "replaced" in replaced.text
    page = client.get("/admin/secrets")
    assert 'data-secret="DB_PASSWORD"' in page.text and "${secret:DB_PASSWORD}" in page.text
    for answer in (created, replaced, page):
        assert VALUE not in answer.text
    forged = client.post("/admin/secrets/DB_PASSWORD/delete", data={"csrf_token": "x" * 64})
    assert forged.status_code == 403
    deleted = client.post(
        "/admin/secrets/DB_PASSWORD/delete", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert deleted.status_code == 303
    assert "No secret is stored" in client.get("/admin/secrets").text


def test_form_errors_name_the_field_and_never_echo_the_value(client: TestClient, csrf: str) -> None:
    bad_name = client.post(
        "/admin/secrets", data={"csrf_token": csrf, "name": "no spaces", "value": VALUE}
    )
    assert bad_name.status_code == 400 and "name" in bad_name.text
    empty = client.post("/admin/secrets", data={"csrf_token": csrf, "name": "E", "value": ""})
    assert empty.status_code == 400 and "must not be empty" in empty.text
    big = client.post(
        "/admin/secrets",
        data={"csrf_token": csrf, "name": "BIG", "value": VALUE + "x" * 70000},
    )
    assert big.status_code == 400 and "at most 65536 bytes" in big.text
    for answer in (bad_name, empty, big):
        assert VALUE not in answer.text


def test_viewers_read_names_and_have_no_form(client: TestClient, root: Actor) -> None:
    put = client.put("/api/v1/secrets/TOKEN", headers=root.headers, json={"value": VALUE})
    assert put.status_code == 201
    make_user(client, root, "vic", "viewer")
    csrf = sign_in(client, "vic", "vic-password")
    page = client.get("/admin/secrets")
    assert page.status_code == 200 and 'data-secret="TOKEN"' in page.text
    assert "Set a secret" not in page.text and "Delete" not in page.text
    refused = client.post("/admin/secrets", data={"csrf_token": csrf, "name": "X", "value": "y"})
    assert refused.status_code == 403 and "secrets:write" in refused.text
