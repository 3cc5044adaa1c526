"""Backfills through the API with the real engine, on SQLite and PostgreSQL (issue #15 item
1): the scheduler's fire times (DST and calendars included), ``max_active`` held (seen
through real commands waiting on a file), cancel, dry run, overlap, refusals and audit
records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from support.api import Actor, make_user, wait_for


def _plan(client: TestClient, actor: Actor, name: str, window: dict[str, Any], **extra: Any) -> str:
    body = {
        "name": name,
        "folder": "bf",
        "jobs": [{"name": "work", "kind": "command", "command": "true"}],
        "window": window,
        **extra,
    }
    response = client.post("/api/v1/plans", headers=actor.headers, json=body)
    assert response.status_code == 201, response.text
    plan_id: str = response.json()["id"]
    return plan_id


def _backfill(
    client: TestClient, actor: Actor, plan: str, status: int = 201, **body: Any
) -> dict[str, Any]:
    response = client.post(f"/api/v1/plans/{plan}/backfill", headers=actor.headers, json=body)
    assert response.status_code == status, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _get(client: TestClient, actor: Actor, backfill_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/backfills/{backfill_id}", headers=actor.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _runs(client: TestClient, actor: Actor, plan_id: str) -> list[dict[str, Any]]:
    response = client.get(
        "/api/v1/runs", headers=actor.headers, params={"plan": plan_id, "limit": 500}
    )
    assert response.status_code == 200, response.text
    # only the backfill's: a window may also fire on its own while a test runs
    runs: list[dict[str, Any]] = [r for r in response.json() if r["trigger"] == "backfill"]
    return runs


def test_backfill_opens_the_schedulers_fire_times_across_daylight_saving(
    client: TestClient, root: Actor
) -> None:
    """01:30 London does not exist on 29 March 2026 (skipped, as the scheduler's dst_gap
    'skip' does) and happens twice on 25 October (one fire, as the scheduler fires)."""
    window = {"cron": "0 30 1 * * ?", "timezone": "Europe/London"}
    plan_id = _plan(client, root, "daily", window)
    # no offset: read in the window's zone
    spring = _backfill(client, root, plan_id, start="2026-03-28", end="2026-03-31", max_active=5)
    assert spring["timezone"] == "Europe/London"
    assert spring["fires"] == ["2026-03-28T01:30:00Z", "2026-03-30T01:30:00+01:00"]
    backfill = spring["backfill"]
    assert (backfill["total"], backfill["state"]) == (2, "running")
    assert backfill["start"] == "2026-03-28T00:00:00Z"
    done = wait_for(
        lambda: (lambda b: b if b["state"] == "complete" else None)(
            _get(client, root, backfill["id"])
        ),
        what="backfill to complete",
    )
    assert (done["opened"], done["done"], done["failed"], done["active"]) == (2, 2, 0, 0)
    runs = _runs(client, root, plan_id)
    assert sorted((r["trigger"], r["scheduled_for"], r["status"]) for r in runs) == [
        ("backfill", "2026-03-28T01:30:00Z", "COMPLETE"),
        ("backfill", "2026-03-30T00:30:00Z", "COMPLETE"),
    ]
    autumn = _backfill(
        client,
        root,
        plan_id,
        200,
        start="2026-10-24T00:00:00Z",
        end="2026-10-27T00:00:00Z",
        dry_run=True,
    )
    assert autumn == {
        "dry_run": True,
        "timezone": "Europe/London",
        "fires": [
            "2026-10-24T01:30:00+01:00",
            "2026-10-25T01:30:00Z",
            "2026-10-26T01:30:00Z",
        ],
        "backfill": None,
    }
    # the dry run opened nothing and recorded no backfill
    assert len(_runs(client, root, plan_id)) == 2
    listed = client.get("/api/v1/backfills", headers=root.headers, params={"plan": plan_id})
    assert [b["id"] for b in listed.json()] == [backfill["id"]]


def test_max_active_runs_at_once_oldest_first_beside_the_overlap_policy(
    client: TestClient, root: Actor, tmp_path: Path
) -> None:
    """Each run's command leaves a marker while it waits for a file: the backfill keeps two
    open, and the plan's overlap policy (skip) neither refuses them nor is blocked by them."""
    marks = tmp_path / "marks"
    marks.mkdir()
    command = (
        f'cd {marks}; touch "$MARK.$$"; ls bf.* 2>/dev/null | wc -l >> seen.$$; '
        'while [ ! -f go ]; do sleep 0.05; done; rm "$MARK.$$"'
    )
    body = {
        "name": "hourly",
        "folder": "bf",
        "jobs": [{"name": "work", "kind": "command", "command": command}],
        "parameters": [{"name": "MARK", "default": "bf"}],
        # fires in 2025 only: none of its own while the test runs
        "window": {"cron": "0 0 * * * ? 2025", "timezone": "UTC"},
        "policies": {"overlap": "skip"},
    }
    response = client.post("/api/v1/plans", headers=root.headers, json=body)
    assert response.status_code == 201, response.text
    plan_id = response.json()["id"]
    started = _backfill(
        client,
        root,
        plan_id,
        start="2025-01-01T00:00:00Z",
        end="2025-01-01T05:00:00Z",
        max_active=2,
    )["backfill"]
    assert (started["total"], started["opened"], started["active"]) == (5, 2, 2)
    wait_for(lambda: len(list(marks.glob("bf.*"))) == 2, what="two backfill commands to run")
    # the overlap policy 'skip' does not count backfill runs: a manual start is not refused
    manual = client.post(
        f"/api/v1/plans/{plan_id}/runs", headers=root.headers, json={"parameters": {"MARK": "m"}}
    )
    assert manual.status_code == 201, manual.text
    assert manual.json()["outcome"] == "started"
    now = _get(client, root, started["id"])
    assert (now["opened"], now["active"], now["done"]) == (2, 2, 0)
    (marks / "go").touch()
    done = wait_for(
        lambda: (lambda b: b if b["state"] == "complete" else None)(
            _get(client, root, started["id"])
        ),
        what="backfill to complete",
    )
    assert (done["opened"], done["done"], done["failed"], done["active"]) == (5, 5, 0, 0)
    seen = [int(line) for f in marks.glob("seen.*") for line in f.read_text().split()]
    assert len(seen) == 6 and max(seen) <= 2  # 5 backfill commands and the manual one
    backfill_runs = _runs(client, root, plan_id)
    # opened oldest first: creation order is fire order
    by_creation = sorted(backfill_runs, key=lambda r: (r["created_at"], r["scheduled_for"]))
    assert [r["scheduled_for"] for r in by_creation] == [
        f"2025-01-01T0{hour}:00:00Z" for hour in range(5)
    ]


def test_cancel_stops_opening_runs_and_is_audited(
    client: TestClient, root: Actor, tmp_path: Path
) -> None:
    command = f"while [ ! -f {tmp_path}/go ]; do sleep 0.05; done"
    body = {
        "name": "cancelled",
        "folder": "bf",
        "jobs": [{"name": "work", "kind": "command", "command": command}],
        "window": {"cron": "0 0 12 * * ?", "timezone": "UTC"},
    }
    response = client.post("/api/v1/plans", headers=root.headers, json=body)
    plan_id = response.json()["id"]
    started = _backfill(
        client, root, plan_id, start="2026-02-01T00:00:00Z", end="2026-02-04T00:00:00Z"
    )
    backfill_id = started["backfill"]["id"]
    assert started["backfill"]["opened"] == 1
    cancelled = client.post(f"/api/v1/backfills/{backfill_id}/cancel", headers=root.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert (cancelled.json()["state"], cancelled.json()["reason"]) == (
        "cancelled",
        "cancelled by root",
    )
    (tmp_path / "go").touch()
    wait_for(
        lambda: all(r["ended_at"] for r in _runs(client, root, plan_id)),
        what="the open run to end",
    )
    # the run ended (its transaction would have opened the next): nothing more opened
    final = _get(client, root, backfill_id)
    assert (final["state"], final["opened"], final["done"], final["active"]) == (
        "cancelled",
        1,
        1,
        0,
    )
    assert len(_runs(client, root, plan_id)) == 1
    # DELETE is the same cancel; on an ended backfill it changes nothing
    again = client.delete(f"/api/v1/backfills/{backfill_id}", headers=root.headers)
    assert again.status_code == 200 and again.json()["state"] == "cancelled"
    audit = client.get("/api/v1/audit", headers=root.headers, params={"target": backfill_id})
    assert audit.status_code == 200, audit.text
    actions = sorted((r["action"], r["outcome"]) for r in audit.json())
    assert actions == [
        ("backfill.cancel", "done"),
        ("backfill.cancel", "done"),
        ("backfill.create", "done"),
    ]


def test_refusals_name_what_is_wrong(client: TestClient, root: Actor) -> None:
    plan_id = _plan(client, root, "checked", {"cron": "0 0 * * * ?", "timezone": "UTC"})
    day = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"}

    def refused(status: int, plan: str = plan_id, **body: Any) -> str:
        answer = _backfill(client, root, plan, status, **body)
        return str(answer["detail"])

    assert "must be after start" in refused(422, **{**day, "end": day["start"]})
    assert "future" in refused(422, start="2026-01-01T00:00:00Z", end="2999-01-01T00:00:00Z")
    assert refused(422, **day, max_active=0)
    assert refused(422, **day, max_active=51)
    assert refused(422, **day, extra=1)
    assert refused(422, start="yesterday", end=day["end"])
    seconds = _plan(client, root, "busy", {"cron": "* * * * * ?", "timezone": "UTC"})
    assert "more than 1000 fire times" in refused(422, seconds, **day)
    assert "more than 1000 fire times" in refused(422, seconds, **day, dry_run=True)
    none = {"start": "2026-01-01T00:10:00Z", "end": "2026-01-01T00:20:00Z"}
    assert "no fire time" in refused(422, **none)
    assert _backfill(client, root, plan_id, 200, **none, dry_run=True)["fires"] == []
    response = client.post(
        "/api/v1/plans",
        headers=root.headers,
        json={
            "name": "manual",
            "folder": "bf",
            "jobs": [{"name": "j", "kind": "command", "command": "true"}],
        },
    )
    assert "no window" in refused(409, response.json()["id"], **day)
    assert refused(404, "nothing", **day)
    viewer = make_user(client, root, "vic", "viewer")
    answer = client.post(f"/api/v1/plans/{plan_id}/backfill", headers=viewer.headers, json=day)
    assert answer.status_code == 403
    first = _backfill(client, root, plan_id, **day, max_active=1)["backfill"]
    overlapping = {"start": "2026-01-01T12:00:00Z", "end": "2026-01-03T00:00:00Z"}
    assert first["id"] in refused(409, **overlapping)
    assert client.get("/api/v1/backfills/nope", headers=root.headers).status_code == 404
    assert client.post("/api/v1/backfills/nope/cancel", headers=root.headers).status_code == 404
    bad_state = client.get("/api/v1/backfills", headers=root.headers, params={"state": "x"})
    assert bad_state.status_code == 422
    other = client.post(f"/api/v1/backfills/{first['id']}/cancel", headers=viewer.headers)
    assert other.status_code == 403
    refusals = client.get(
        "/api/v1/audit",
        headers=root.headers,
        params={"action": "backfill.create", "outcome": "refused", "limit": 100},
    )
    assert refusals.status_code == 200, refusals.text
    assert len(refusals.json()) >= 5


def test_backfill_skips_the_days_of_the_windows_calendar(client: TestClient, root: Actor) -> None:
    """The window's calendar applies as the scheduler applies it: its days have no fire."""
    holidays = {"name": "holidays", "days": ["2025-12-25", "01-01"]}
    created = client.post("/api/v1/calendars", headers=root.headers, json=holidays)
    assert created.status_code == 201, created.text
    # fires in 2025 only: none of its own while the test runs
    window = {"cron": "0 0 6 * * ? 2025", "timezone": "Europe/London", "calendar": "holidays"}
    plan_id = _plan(client, root, "holiday-aware", window)
    dry = _backfill(client, root, plan_id, 200, start="2025-12-23", end="2025-12-27", dry_run=True)
    assert dry["fires"] == [
        "2025-12-23T06:00:00Z",
        "2025-12-24T06:00:00Z",
        "2025-12-26T06:00:00Z",
    ]
    started = _backfill(client, root, plan_id, start="2025-12-24", end="2025-12-27", max_active=5)[
        "backfill"
    ]
    assert (started["total"], started["opened"]) == (2, 2)
    runs = _runs(client, root, plan_id)
    assert sorted(r["scheduled_for"] for r in runs) == [
        "2025-12-24T06:00:00Z",
        "2025-12-26T06:00:00Z",
    ]
