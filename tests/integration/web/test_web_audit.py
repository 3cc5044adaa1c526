"""The console's part of the audit log (issue #13, item 4): sign-ins, changes and refusals
made in the console are recorded like the API's, and the Audit page shows them with what
changed (both stores)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from support.api import ROOT_PASSWORD, ROOT_USER, Actor, make_user, sample_plan

from .conftest import sign_in


def test_console_actions_are_recorded_and_shown(client: TestClient, root: Actor) -> None:
    wrong = client.post("/signin", data={"username": ROOT_USER, "password": "not-this-one"})
    assert wrong.status_code in (200, 401)
    csrf = sign_in(client, ROOT_USER, ROOT_PASSWORD)
    plan_id = client.post("/api/v1/plans", headers=root.headers, json=sample_plan()).json()["id"]
    disabled = client.post(
        f"/plans/{plan_id}/enabled",
        data={"csrf_token": csrf, "enabled": "false"},
        follow_redirects=False,
    )
    assert disabled.status_code == 303, disabled.text
    missing = client.post(
        "/plans/no-such-plan/enabled", data={"csrf_token": csrf, "enabled": "false"}
    )
    assert missing.status_code == 404

    logins = client.get("/api/v1/audit", headers=root.headers, params={"action": "login"}).json()
    console = [(r["auth_method"], r["outcome"]) for r in logins if r["auth_method"] == "console"]
    assert console == [("console", "done"), ("console", "refused")]
    changes = client.get("/api/v1/audit", headers=root.headers, params={"action": "plan.disable"})
    done, refused = sorted(changes.json(), key=lambda r: r["outcome"])
    assert (done["auth_method"], done["target"]["id"]) == ("console", plan_id)
    assert done["changes"] == [
        {"kind": "changed", "path": "enabled", "before": True, "after": False}
    ]
    assert (refused["outcome"], refused["status"], refused["target"]["path"]) == (
        "refused",
        404,
        "no-such-plan",
    )

    # the page: filtered, with the change spelled out; in the nav for supervisors and admins
    shown = client.get("/audit", params={"action": "plan."})
    assert shown.status_code == 200
    assert 'href="/audit"' in shown.text
    assert "plan.disable" in shown.text and "~ enabled: true → false" in shown.text
    assert "login" not in shown.text.split("<tbody>")[1]
    assert "no-such-plan" in shown.text and "404" in shown.text


def test_the_audit_page_is_for_supervisors_and_admins(client: TestClient, root: Actor) -> None:
    make_user(client, root, "opal", "operator")
    sign_in(client, "opal", "opal-password")
    plans = client.get("/plans")
    assert 'href="/audit"' not in plans.text
    refused = client.get("/audit")
    assert refused.status_code == 403 and "audit:read" in refused.text
