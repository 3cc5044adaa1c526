"""Administration pages: keys, users, services, notifications (both stores)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from support.api import Actor, make_user
from support.data import DATA

from .conftest import sign_in


def test_a_created_key_is_shown_once_and_works(client: TestClient, csrf: str) -> None:
    response = client.post(
        "/admin/keys",
        data={"csrf_token": csrf, "name": "ci", "expires_days": "30", "scope": "plans:read"},
    )
    assert response.status_code == 201
    key = re.search(r"<code>(jp_[A-Za-z0-9_-]+)</code>", response.text)
    assert key, response.text[-2000:]
    assert client.get("/api/v1/plans", headers={"X-API-Key": key.group(1)}).status_code == 200
    assert client.get("/api/v1/runs", headers={"X-API-Key": key.group(1)}).status_code == 403
    listing = client.get("/admin/keys")
    assert "ci" in listing.text and key.group(1) not in listing.text


def test_revoking_a_key_stops_it(client: TestClient, csrf: str) -> None:
    created = client.post("/admin/keys", data={"csrf_token": csrf, "name": "temp"})
    key = re.search(r"<code>(jp_([A-Za-z0-9]+)_[A-Za-z0-9_-]+)</code>", created.text)
    assert key
    response = client.post(
        f"/admin/keys/{key.group(2)}/revoke", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert response.status_code == 303
    assert client.get("/api/v1/plans", headers={"X-API-Key": key.group(1)}).status_code == 401
    assert "revoked" in client.get("/admin/keys").text


def test_key_form_errors_name_the_field(client: TestClient, csrf: str) -> None:
    response = client.post(
        "/admin/keys", data={"csrf_token": csrf, "name": "x", "expires_days": "-3"}
    )
    assert response.status_code == 400 and "expires_days" in response.text
    response = client.post("/admin/keys", data={"csrf_token": csrf, "name": "   "})
    assert response.status_code == 400 and "name" in response.text


def test_text_from_users_is_escaped(client: TestClient, csrf: str) -> None:
    name = '"><script>alert(1)</script>'
    client.post("/admin/keys", data={"csrf_token": csrf, "name": name})
    page = client.get("/admin/keys")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy


def test_admin_manages_users_and_roles(client: TestClient, root: Actor, csrf: str) -> None:
    response = client.post(
        "/admin/users",
        data={
            "csrf_token": csrf,
            "username": "nina",
            "password": "nina-password-1",
            "role": "viewer",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    users = client.get("/api/v1/users", headers=root.headers).json()
    nina = next(user for user in users if user["username"] == "nina")
    assert nina["role"] == "viewer"
    client.post(f"/admin/users/{nina['id']}", data={"csrf_token": csrf, "role": "operator"})
    client.post(f"/admin/users/{nina['id']}", data={"csrf_token": csrf, "disabled": "true"})
    nina = client.get(f"/api/v1/users/{nina['id']}", headers=root.headers).json()
    assert nina["role"] == "operator" and nina["disabled"] is True
    bad = client.post(
        "/admin/users",
        data={"csrf_token": csrf, "username": "x", "password": "p", "role": "emperor"},
    )
    assert bad.status_code == 400 and "role" in bad.text


def test_an_operator_cannot_manage_users(client: TestClient, root: Actor) -> None:
    make_user(client, root, "otto", "operator")
    token = sign_in(client, "otto", "otto-password")
    assert client.get("/admin/users").status_code == 403
    response = client.post(
        "/admin/users",
        data={"csrf_token": token, "username": "z", "password": "z-password-1", "role": "admin"},
    )
    assert response.status_code == 403


def test_services_register_and_remove(client: TestClient, root: Actor, csrf: str) -> None:
    client.post(
        "/admin/services",
        data={"csrf_token": csrf, "name": "billing", "base_url": "http://127.0.0.1:9/api"},
    )
    assert "billing" in client.get("/admin/services").text
    registered = client.get("/api/v1/services", headers=root.headers).json()
    assert [s["name"] for s in registered] == ["billing"]
    bad = client.post(
        "/admin/services", data={"csrf_token": csrf, "name": "x", "base_url": "ftp://nope"}
    )
    assert bad.status_code == 400 and "base_url" in bad.text
    client.post("/admin/services/billing/remove", data={"csrf_token": csrf})
    assert client.get("/api/v1/services", headers=root.headers).json() == []


def test_notifications_page_filters_by_status(client: TestClient, csrf: str) -> None:
    assert "No notifications." in client.get("/admin/notifications?status=failed").text
    bad = client.get("/admin/notifications?status=lost")
    assert bad.status_code == 400 and "unknown status 'lost'" in bad.text.replace("&#39;", "'")


def test_tenant_settings_are_shown_and_changed_by_a_system_admin(
    client: TestClient, root: Actor, csrf: str
) -> None:
    page = client.get("/admin/tenant")
    assert page.status_code == 200 and "Tenant settings" in page.text
    response = client.post(
        "/admin/tenant",
        data={"csrf_token": csrf, "settings": '{"export_job_limit": 3}'},
        follow_redirects=False,
    )
    assert response.status_code == 303
    tenant = client.get("/api/v1/tenants/default", headers=root.headers).json()
    assert tenant["settings"] == {"export_job_limit": 3}
    assert "3 at once" in client.get("/admin/tenant").text
    for text, field in (
        ("[1]", "settings"),
        ("{nope", "settings"),
        ('{"import_job_limit": 0}', "settings.import_job_limit"),
    ):
        bad = client.post("/admin/tenant", data={"csrf_token": csrf, "settings": text})
        assert bad.status_code == 400 and field in bad.text, text


def test_tenant_settings_via_the_api_need_a_system_admin(client: TestClient, root: Actor) -> None:
    from support.api import make_tenant

    admin = make_tenant(client, root, "acme")
    response = client.patch(
        "/api/v1/tenants/acme", headers=admin.headers, json={"settings": {"max_package_bytes": 5}}
    )
    assert response.status_code == 403
    response = client.patch(
        "/api/v1/tenants/acme", headers=root.headers, json={"settings": {"max_package_bytes": 5}}
    )
    assert response.status_code == 200 and response.json()["settings"] == {"max_package_bytes": 5}
    refused = client.patch(
        "/api/v1/tenants/acme", headers=root.headers, json={"settings": {"export_job_limit": -1}}
    )
    assert refused.status_code == 422
    assert client.get("/api/v1/tenants/acme", headers=root.headers).json()["settings"] == {
        "max_package_bytes": 5
    }


def test_calendars_page_creates_imports_lists_and_deletes(
    client: TestClient, root: Actor, csrf: str
) -> None:
    client.post(
        "/admin/calendars",
        data={"csrf_token": csrf, "name": "office", "days": "2030-01-02\n12-25, 12-26"},
    )
    ics = (DATA / "calendars" / "england-and-wales-2026.ics").read_bytes()
    imported = client.post(
        "/admin/calendars/import",
        data={"csrf_token": csrf, "name": "uk-bank-holidays"},
        files={"file": ("uk.ics", ics, "text/calendar")},
    )
    assert imported.status_code == 200, imported.text[-2000:]
    listing = client.get("/admin/calendars").text
    assert "office" in listing and "3 days" in listing and "8 days" in listing
    assert "2026-12-28" in listing
    days = client.get("/api/v1/calendars/office", headers=root.headers).json()["days"]
    assert days == ["12-25", "12-26", "2030-01-02"]
    bad = client.post("/admin/calendars", data={"csrf_token": csrf, "name": "x", "days": "soon"})
    assert bad.status_code == 400 and "write YYYY-MM-DD" in bad.text
    junk = client.post(
        "/admin/calendars/import",
        data={"csrf_token": csrf, "name": "junk"},
        files={"file": ("junk.ics", b"hello", "text/calendar")},
    )
    assert junk.status_code == 400 and "not an iCalendar file" in junk.text
    client.post("/admin/calendars/office/delete", data={"csrf_token": csrf})
    names = [c["name"] for c in client.get("/api/v1/calendars", headers=root.headers).json()]
    assert names == ["uk-bank-holidays"]
