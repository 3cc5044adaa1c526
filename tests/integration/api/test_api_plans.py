"""Plans: versions on every change, listing, enable/disable, delete, and bad input."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient

from jobplan.model import PlanDocument
from jobplan.service.container import Services
from support.api import Actor, sample_plan


def test_create_get_and_list_a_plan(client: TestClient, root: Actor) -> None:
    created = client.post("/api/v1/plans", headers=root.headers, json=sample_plan())
    assert created.status_code == 201, created.text
    plan = created.json()
    assert (plan["name"], plan["folder"], plan["version"]) == ("nightly", "finance/eod", "1.0.0")
    assert plan["document"]["jobs"][1]["name"] == "extract"
    fetched = client.get(f"/api/v1/plans/{plan['id']}", headers=root.headers).json()
    assert fetched["document"] == plan["document"]
    listed = client.get("/api/v1/plans", headers=root.headers).json()
    assert [(p["id"], p["name"], p["folder"], p["version"]) for p in listed] == [
        (plan["id"], "nightly", "finance/eod", "1.0.0")
    ]
    folders = client.get("/api/v1/folders", headers=root.headers).json()
    assert [f["path"] for f in folders] == ["finance", "finance/eod"]


def test_every_change_makes_a_new_immutable_version(client: TestClient, root: Actor) -> None:
    plan = client.post("/api/v1/plans", headers=root.headers, json=sample_plan()).json()
    changed = sample_plan(description="now with a second command")
    changed["jobs"].append(  # type: ignore[attr-defined]
        {"name": "load", "kind": "command", "command": "echo load", "depends_on": "extract"}
    )
    updated = client.put(f"/api/v1/plans/{plan['id']}", headers=root.headers, json=changed)
    assert updated.status_code == 200, updated.text
    body = updated.json()
    assert body["changed"] is True and body["created"] is False
    assert body["plan"]["version"] == "1.0.1"
    assert any("load" in change for change in body["changes"])
    # same document again: nothing new
    again = client.put(f"/api/v1/plans/{plan['id']}", headers=root.headers, json=changed).json()
    assert again["changed"] is False and again["plan"]["version"] == "1.0.1"
    # explicit version
    explicit = client.put(
        f"/api/v1/plans/{plan['id']}",
        headers=root.headers,
        json=sample_plan(description="v2", version="2.0.0"),
    ).json()
    assert explicit["plan"]["version"] == "2.0.0"
    versions = client.get(f"/api/v1/plans/{plan['id']}/versions", headers=root.headers).json()
    assert [v["version"] for v in versions] == ["2.0.0", "1.0.1", "1.0.0"]
    first = client.get(f"/api/v1/plans/{plan['id']}/versions/1.0.0", headers=root.headers).json()
    assert len(first["document"]["jobs"]) == 2  # the old version is untouched
    by_id = client.get(
        f"/api/v1/plans/{plan['id']}/versions/{versions[1]['id']}", headers=root.headers
    ).json()
    assert by_id["version"] == "1.0.1"


def test_version_must_grow(client: TestClient, root: Actor) -> None:
    plan = client.post(
        "/api/v1/plans", headers=root.headers, json=sample_plan(version="3.0.0")
    ).json()
    response = client.put(
        f"/api/v1/plans/{plan['id']}",
        headers=root.headers,
        json=sample_plan(description="older", version="2.9.9"),
    )
    assert response.status_code == 409
    assert "3.0.0" in response.json()["detail"]


def test_apply_creates_then_versions_then_reports_unchanged(
    client: TestClient, root: Actor
) -> None:
    first = client.post("/api/v1/plans/apply", headers=root.headers, json=sample_plan()).json()
    assert first["created"] is True
    second = client.post(
        "/api/v1/plans/apply", headers=root.headers, json=sample_plan(description="b")
    ).json()
    assert (second["created"], second["changed"], second["plan"]["version"]) == (
        False,
        True,
        "1.0.1",
    )
    third = client.post(
        "/api/v1/plans/apply", headers=root.headers, json=sample_plan(description="b")
    ).json()
    assert third["changed"] is False


def test_duplicate_plan_is_409(client: TestClient, root: Actor) -> None:
    client.post("/api/v1/plans", headers=root.headers, json=sample_plan())
    response = client.post("/api/v1/plans", headers=root.headers, json=sample_plan())
    assert response.status_code == 409
    assert "finance/eod/nightly" in response.json()["detail"]


def test_update_cannot_rename(client: TestClient, root: Actor) -> None:
    plan = client.post("/api/v1/plans", headers=root.headers, json=sample_plan()).json()
    response = client.put(
        f"/api/v1/plans/{plan['id']}", headers=root.headers, json=sample_plan(name="other")
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "name"


def test_enable_disable_and_delete(client: TestClient, root: Actor) -> None:
    plan = client.post("/api/v1/plans", headers=root.headers, json=sample_plan()).json()
    assert plan["enabled"] is True
    off = client.post(f"/api/v1/plans/{plan['id']}/disable", headers=root.headers).json()
    assert off["enabled"] is False
    assert client.get("/api/v1/plans", headers=root.headers, params={"enabled": True}).json() == []
    on = client.post(f"/api/v1/plans/{plan['id']}/enable", headers=root.headers).json()
    assert on["enabled"] is True
    folders = client.get("/api/v1/folders", headers=root.headers).json()
    eod = next(f for f in folders if f["path"] == "finance/eod")
    busy = client.delete(f"/api/v1/folders/{eod['id']}", headers=root.headers)
    assert busy.status_code == 409 and "1 plan" in busy.json()["detail"]
    assert client.delete(f"/api/v1/plans/{plan['id']}", headers=root.headers).status_code == 204
    assert client.get(f"/api/v1/plans/{plan['id']}", headers=root.headers).status_code == 404
    assert client.delete(f"/api/v1/folders/{eod['id']}", headers=root.headers).status_code == 204


def test_list_filters_and_pagination(client: TestClient, root: Actor) -> None:
    for index in range(5):
        client.post("/api/v1/plans", headers=root.headers, json=sample_plan(f"p{index}", "a"))
    client.post("/api/v1/plans", headers=root.headers, json=sample_plan("deep", "a/b"))
    page = client.get("/api/v1/plans", headers=root.headers, params={"limit": 2, "offset": 1})
    assert [p["name"] for p in page.json()] == ["p1", "p2"]
    assert page.headers["X-Total-Count"] == "6"
    assert 'rel="next"' in page.headers["Link"] and 'rel="prev"' in page.headers["Link"]
    only_a = client.get("/api/v1/plans", headers=root.headers, params={"folder": "a"}).json()
    assert len(only_a) == 5
    below = client.get(
        "/api/v1/plans", headers=root.headers, params={"folder": "a", "recursive": True}
    ).json()
    assert len(below) == 6
    found = client.get("/api/v1/plans", headers=root.headers, params={"q": "dee"}).json()
    assert [p["path"] for p in found] == ["a/b/deep"]


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({"folder": "x", "jobs": []}, "name", "required"),
        (sample_plan(name=42), "name", "string"),
        (sample_plan(jobs="nope"), "jobs", "list"),
        (sample_plan(jobs=[{"name": "a", "kind": "teleport"}]), "jobs[0]", "teleport"),
        (
            sample_plan(
                jobs=[
                    {"name": "a", "kind": "command", "command": "x", "depends_on": {"job": "ghost"}}
                ]
            ),
            "jobs[0].depends_on",
            "ghost",
        ),
        (
            sample_plan(
                jobs=[
                    {"name": "a", "kind": "command", "command": "x"},
                    {"name": "a", "kind": "command", "command": "y"},
                ]
            ),
            "jobs",
            "a",
        ),
        (
            sample_plan(jobs=[{"name": "g", "kind": "time", "cron": "0 0 25 * * ?"}]),
            "cron",
            "hours",
        ),
        (
            sample_plan(
                jobs=[{"name": "g", "kind": "time", "cron": "0 0 1 * * ?", "timezone": "Mars/Base"}]
            ),
            "timezone",
            "Mars/Base",
        ),
        (
            sample_plan(parameters=[{"name": "day", "default": "${scheduled_for:%c}"}]),
            "parameters[0].default",
            "${scheduled_for:%c}': %c is not allowed in a format",
        ),
        (
            sample_plan(
                jobs=[
                    {
                        "name": "h",
                        "kind": "http",
                        "url": "https://example.com/${regoin}",
                        "body": {"items": ["${tenant}"]},
                    }
                ]
            ),
            "jobs[0].url",
            "${regoin}: unknown name 'regoin' (known: scheduled_for,",
        ),
        (
            sample_plan(jobs=[{"name": "h", "kind": "http", "url": "https://${host}/"}]),
            "jobs[0].url",
            "not in its scheme or host",
        ),
        (
            sample_plan(
                jobs=[
                    {"name": "h", "kind": "http", "url": "https://x.test/", "body": {"a": ["${x"]}}
                ]
            ),
            "jobs[0].body.a[0]",
            "unterminated reference '${x'",
        ),
        (sample_plan(surprise=True), "surprise", "not permitted"),
        (sample_plan(version="one"), "version", "MAJOR.MINOR.PATCH"),
        (sample_plan(folder="../etc"), "folder", ".."),
    ],
)
def test_bad_plan_bodies_are_422_naming_the_field(
    client: TestClient, root: Actor, body: dict[str, object], field: str, fragment: str
) -> None:
    response = client.post("/api/v1/plans", headers=root.headers, json=body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert any(_names(e["field"], field) for e in problem["errors"]), problem["errors"]
    assert fragment.lower() in problem["detail"].lower(), problem["detail"]
    assert client.get("/api/v1/plans", headers=root.headers).json() == []  # nothing stored


def test_dependency_cycle_is_named(client: TestClient, root: Actor) -> None:
    body = sample_plan(
        jobs=[
            {"name": "a", "kind": "command", "command": "x", "depends_on": "b"},
            {"name": "b", "kind": "command", "command": "y", "depends_on": "a"},
        ]
    )
    response = client.post("/api/v1/plans", headers=root.headers, json=body)
    assert response.status_code == 422
    assert "cycle" in response.json()["detail"]


def test_failed_update_changes_nothing(client: TestClient, root: Actor) -> None:
    plan = client.post("/api/v1/plans", headers=root.headers, json=sample_plan()).json()
    broken = sample_plan(
        jobs=[{"name": "a", "kind": "command", "command": "x", "depends_on": "ghost"}]
    )
    assert (
        client.put(f"/api/v1/plans/{plan['id']}", headers=root.headers, json=broken).status_code
        == 422
    )
    versions = client.get(f"/api/v1/plans/{plan['id']}/versions", headers=root.headers).json()
    assert [v["version"] for v in versions] == ["1.0.0"]


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/api/v1/folders", {}, "path"),
        ("POST", "/api/v1/folders", {"path": "a//b/../c"}, "path"),
        ("POST", "/api/v1/folders", {"path": "x" * 600}, "path"),
        ("POST", "/api/v1/api-keys", {}, "name"),
        (
            "POST",
            "/api/v1/api-keys",
            {"name": "k", "expires_at": "2001-01-01T00:00:00Z"},
            "expires_at",
        ),
        ("POST", "/api/v1/api-keys", {"name": "k", "expires_at": "tomorrow"}, "expires_at"),
        ("POST", "/api/v1/api-keys", {"name": "k", "scopes": "plans:read"}, "scopes"),
        ("POST", "/api/v1/users", {"username": "u"}, "password"),
        (
            "POST",
            "/api/v1/users",
            {"username": "u", "password": "short", "role": "viewer"},
            "password",
        ),
        (
            "POST",
            "/api/v1/users",
            {"username": "bad name!", "password": "long-enough-pw", "role": "viewer"},
            "username",
        ),
        (
            "POST",
            "/api/v1/users",
            {"username": "u", "password": "long-enough-pw", "role": "emperor"},
            "role",
        ),
        ("POST", "/api/v1/tenants", {"name": "Bad Name"}, "name"),
        ("POST", "/api/v1/tenants", {"name": "ok", "admin": {"username": "x"}}, "password"),
        ("GET", "/api/v1/plans?limit=0", None, "limit"),
        ("GET", "/api/v1/plans?limit=100000", None, "limit"),
        ("GET", "/api/v1/plans?offset=-1", None, "offset"),
        ("GET", "/api/v1/plans?enabled=maybe", None, "enabled"),
        ("GET", "/api/v1/plans?folder=../x", None, "folder"),
    ],
)
def test_bad_input_on_other_routes_is_422_naming_the_field(
    client: TestClient, root: Actor, method: str, path: str, body: object, field: str
) -> None:
    response = client.request(method, path, headers=root.headers, json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert any(e["field"].endswith(field) for e in response.json()["errors"]), response.json()


def test_malformed_json_is_422_not_500(client: TestClient, root: Actor) -> None:
    response = client.post(
        "/api/v1/plans",
        headers={**root.headers, "Content-Type": "application/json"},
        content=b"{not json",
    )
    assert response.status_code == 422
    assert "JSON" in response.json()["detail"]


def test_unknown_plan_and_version_are_404(client: TestClient, root: Actor) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    assert client.get(f"/api/v1/plans/{missing}", headers=root.headers).status_code == 404
    plan = client.post("/api/v1/plans", headers=root.headers, json=sample_plan()).json()
    response = client.get(f"/api/v1/plans/{plan['id']}/versions/9.9.9", headers=root.headers)
    assert response.status_code == 404
    assert "9.9.9" in response.json()["detail"]


def _names(actual: str, expected: str) -> bool:
    """``actual`` (e.g. ``jobs[0].cron``) is the field ``expected`` names, or inside it."""
    return (
        actual == expected
        or actual.endswith("." + expected)
        or actual.startswith((expected + ".", expected + "["))
    )


def test_name_filter_searches_every_folder_and_keeps_other_filters(
    client: TestClient, root: Actor
) -> None:
    client.post("/api/v1/plans", headers=root.headers, json=sample_plan("same", "a"))
    client.post("/api/v1/plans", headers=root.headers, json=sample_plan("same", "b"))
    both = client.get("/api/v1/plans", headers=root.headers, params={"name": "same"}).json()
    assert sorted(p["path"] for p in both) == ["a/same", "b/same"]
    in_b = client.get(
        "/api/v1/plans", headers=root.headers, params={"name": "same", "folder": "b"}
    ).json()
    assert [p["path"] for p in in_b] == ["b/same"]
    client.post(f"/api/v1/plans/{in_b[0]['id']}/disable", headers=root.headers)
    enabled = client.get(
        "/api/v1/plans", headers=root.headers, params={"name": "same", "enabled": True}
    ).json()
    assert [p["path"] for p in enabled] == ["a/same"]


def test_concurrent_applies_of_a_new_plan_all_succeed(
    client: TestClient, root: Actor, services: Services
) -> None:
    """Plans as code from several CI jobs at once: applying the same new plan (in new folders)
    concurrently creates it once; the others see it and answer unchanged (or a new version),
    never a conflict on the folder or the plan."""
    caller = services.auth.authenticate_access_token(root.headers["Authorization"][7:])
    document = PlanDocument.model_validate(sample_plan(name="raced", folder="ci/new/deep"))
    start = threading.Barrier(4)
    results: list[object] = []

    def apply() -> None:
        start.wait()
        try:
            results.append(services.plans.apply(caller, document))
        except Exception as exc:  # the assertion below names it
            results.append(exc)

    threads = [threading.Thread(target=apply) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors
    assert sum(1 for r in results if r.created) == 1  # type: ignore[attr-defined]
    listed = client.get("/api/v1/plans", headers=root.headers, params={"folder": "ci/new/deep"})
    assert [p["name"] for p in listed.json()] == ["raced"]
