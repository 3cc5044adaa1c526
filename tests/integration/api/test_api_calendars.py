"""``/api/v1/calendars`` on both stores: create, list, show, replace, import an iCalendar
file, delete; the refusals (bad days, unreadable files, unknown calendars in plans, deleting
one in use); and a change re-computing the next fire time of the plans using it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from support.api import Actor, make_tenant
from support.data import DATA
from support.zips import make_zip, zip_entries

from .test_api_transfers import download, export, plan_names, plan_url, run_import

ICS = (DATA / "calendars" / "england-and-wales-2026.ics").read_text(encoding="utf-8")
BANK_HOLIDAYS = [
    "2026-01-01",
    "2026-04-03",
    "2026-04-06",
    "2026-05-04",
    "2026-05-25",
    "2026-08-31",
    "2026-12-25",
    "2026-12-28",
]
# RFC 5545 section 3.8.5.3's shape of a yearly all-day event, with and without an end
YEARLY = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//example//jobplan tests//EN\r
BEGIN:VEVENT\r
UID:1@example.com\r
DTSTAMP:20260101T000000Z\r
DTSTART;VALUE=DATE:20261224\r
DTEND;VALUE=DATE:20261226\r
RRULE:FREQ=YEARLY\r
SUMMARY:Christmas shutdown\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:2@example.com\r
DTSTAMP:20260101T000000Z\r
DTSTART;VALUE=DATE:20260701\r
RRULE:FREQ=YEARLY;COUNT=2\r
SUMMARY:Inventory\r
END:VEVENT\r
END:VCALENDAR\r
"""


def plan_body(name: str, **window: Any) -> dict[str, Any]:
    return {
        "name": name,
        "folder": "cal",
        "enabled": True,
        "window": {"cron": "0 0 6 * * ?", **window},
        "jobs": [{"name": "a", "kind": "command", "command": "true"}],
    }


def test_calendars_crud_import_and_refusals(client: TestClient, root: Actor) -> None:
    h = root.headers
    created = client.post(
        "/api/v1/calendars",
        headers=h,
        json={"name": "hol", "description": "Holidays", "days": ["2030-01-02", "12-25"]},
    )
    assert created.status_code == 201, created.text
    assert created.json()["days"] == ["12-25", "2030-01-02"] and created.json()["plans"] == []
    again = client.post("/api/v1/calendars", headers=h, json={"name": "hol", "days": []})
    assert again.status_code == 409 and "calendar 'hol' already exists" in again.text
    bad = client.post("/api/v1/calendars", headers=h, json={"name": "x", "days": ["2030-02-30"]})
    assert bad.status_code == 422 and "'2030-02-30' is not a valid date" in bad.text
    assert "days" in str(bad.json()["errors"][0]["field"])
    worse = client.put("/api/v1/calendars/x", headers=h, json={"days": ["Christmas"]})
    assert worse.status_code == 422 and "write YYYY-MM-DD, or MM-DD" in worse.text

    imported = client.post(
        "/api/v1/calendars/import", headers=h, json={"name": "uk-bank-holidays", "ics": ICS}
    )
    assert imported.status_code == 201, imported.text
    assert imported.json()["days"] == BANK_HOLIDAYS
    yearly = client.post("/api/v1/calendars/import", headers=h, json={"name": "y", "ics": YEARLY})
    assert yearly.json()["days"] == ["12-24", "12-25", "2026-07-01", "2027-07-01"]
    for ics, message in [
        ("not a calendar", "not an iCalendar file"),
        ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n", "has no events"),
        (YEARLY.replace("FREQ=YEARLY\r", "FREQ=WEEKLY\r"), "only RRULE FREQ=YEARLY is supported"),
        (YEARLY.replace("FREQ=YEARLY\r", "FREQ=YEARLY;BYDAY=MO\r"), "RRULE part BYDAY"),
    ]:
        refused = client.post("/api/v1/calendars/import", headers=h, json={"name": "z", "ics": ics})
        assert refused.status_code == 422, refused.text
        assert message in refused.json()["detail"] and refused.json()["errors"][0]["field"] == "ics"

    listed = client.get("/api/v1/calendars", headers=h).json()
    assert [(c["name"], c["days"]) for c in listed] == [
        ("hol", 2),
        ("uk-bank-holidays", 8),
        ("y", 4),
    ]

    unknown = client.post("/api/v1/plans", headers=h, json=plan_body("p", calendar="nope"))
    assert unknown.status_code == 422
    assert "unknown calendar 'nope' in plan 'cal/p'" in unknown.json()["detail"]
    used = client.post(
        "/api/v1/plans", headers=h, json=plan_body("p", calendar=["hol", "uk-bank-holidays"])
    )
    assert used.status_code == 201, used.text
    shown = client.get("/api/v1/calendars/hol", headers=h).json()
    assert shown["plans"] == ["cal/p"]
    in_use = client.delete("/api/v1/calendars/uk-bank-holidays", headers=h)
    assert in_use.status_code == 409
    assert "calendar 'uk-bank-holidays' is used by 1 plan(s): cal/p" in in_use.json()["detail"]
    assert client.delete("/api/v1/calendars/y", headers=h).status_code == 204
    assert client.get("/api/v1/calendars/y", headers=h).status_code == 404
    assert client.delete("/api/v1/calendars/y", headers=h).status_code == 404


def next_fire(client: TestClient, actor: Actor, plan_id: str) -> datetime:
    stats = client.get(f"/api/v1/plans/{plan_id}/stats", headers=actor.headers)
    assert stats.status_code == 200, stats.text
    return datetime.fromisoformat(stats.json()["next_fire_time"])


def test_changing_a_calendar_moves_the_next_fire_of_the_plans_using_it(
    client: TestClient, root: Actor
) -> None:
    h = root.headers
    assert client.put("/api/v1/calendars/hol", headers=h, json={"days": []}).status_code == 201
    created = client.post("/api/v1/plans", headers=h, json=plan_body("daily", calendar="hol"))
    assert created.status_code == 201, created.text
    plan_id = created.json()["id"]
    first = next_fire(client, root, plan_id)
    assert (first.hour, first.minute) == (6, 0) and first > datetime.now(UTC)
    # excluding that day moves the plan to the next one
    day = first.date().isoformat()
    replaced = client.put("/api/v1/calendars/hol", headers=h, json={"days": [day]})
    assert replaced.status_code == 200 and replaced.json()["plans"] == ["cal/daily"]
    assert next_fire(client, root, plan_id) == first + timedelta(days=1)
    # an every-year day works the same; an "only" window fires on the calendar's days alone
    month_day = first.date().isoformat()[5:]
    client.put("/api/v1/calendars/hol", headers=h, json={"days": [month_day]})
    assert next_fire(client, root, plan_id) == first + timedelta(days=1)
    only = client.post(
        "/api/v1/plans",
        headers=h,
        json=plan_body("only", calendar="hol", calendar_mode="only"),
    )
    assert next_fire(client, root, only.json()["id"]) == first
    client.put("/api/v1/calendars/hol", headers=h, json={"days": []})
    assert next_fire(client, root, plan_id) == first


def test_a_plan_exported_with_its_calendar_imports_into_another_tenant(
    client: TestClient, root: Actor
) -> None:
    """The bundle carries calendars/<name>.json for the calendars its plans name; importing
    creates them first (all in one transaction); a differing calendar of the same name is a
    conflict under on_conflict 'abort' and replaced under 'replace'; a plan naming a calendar
    neither the bundle nor the tenant has fails the whole import."""
    h = root.headers
    client.post("/api/v1/calendars", headers=h, json={"name": "hol", "days": ["12-25"]})
    client.post("/api/v1/calendars", headers=h, json={"name": "unused", "days": []})
    created = client.post("/api/v1/plans", headers=h, json=plan_body("p", calendar="hol"))
    assert created.status_code == 201, created.text
    job = export(client, root, plans=["cal/p"])
    assert job["status"] == "completed", job
    data = download(client, root, job)
    entries = zip_entries(data)
    assert "calendars/hol.json" in entries and "calendars/unused.json" not in entries

    target = make_tenant(client, root, "elsewhere")
    client.post("/api/v1/calendars", headers=target.headers, json={"name": "hol", "days": []})
    refused = run_import(client, target, data)
    assert refused["status"] == "failed"
    assert "calendar 'hol' exists and differs from the bundle's" in refused["reason"]
    assert plan_names(client, target) == []
    done = run_import(client, target, data, on_conflict="replace")
    assert done["status"] == "completed", done
    assert plan_names(client, target) == ["cal/p"]
    calendar = client.get("/api/v1/calendars/hol", headers=target.headers).json()
    assert (calendar["days"], calendar["plans"]) == (["12-25"], ["cal/p"])
    assert next_fire(client, target, plan_url(client, target, "p").rsplit("/", 1)[1]) == next_fire(
        client, root, created.json()["id"]
    )

    # the same bundle without its calendar: the plan names a calendar nobody has
    manifest = json.loads(entries["manifest.json"])
    del manifest["calendars"], manifest["entries"]["calendars/hol.json"]
    bare = make_zip(
        {
            **{p: b for p, b in entries.items() if not p.startswith("calendars/")},
            "manifest.json": json.dumps(manifest).encode(),
        }
    )
    third = make_tenant(client, root, "third")
    failed = run_import(client, third, bare)
    assert failed["status"] == "failed"
    assert "unknown calendar 'hol' in plan 'cal/p'" in failed["reason"]
    assert plan_names(client, third) == []


def test_backfill_over_a_calendar_opens_only_the_kept_days(client: TestClient, root: Actor) -> None:
    """A weekday window in London excluding the 2026 bank holidays (imported from the .ics
    fixture): backfilling Easter week opens no run for Good Friday (3 April) or Easter
    Monday (6 April); an 'only' window backfills the holidays alone."""
    h = root.headers
    imported = client.post(
        "/api/v1/calendars/import", headers=h, json={"name": "uk-bank-holidays", "ics": ICS}
    )
    assert imported.status_code == 201, imported.text
    weekdays = plan_body(
        "weekdays",
        cron="0 0 6 ? * MON-FRI",
        timezone="Europe/London",
        calendar="uk-bank-holidays",
    )
    plan_id = client.post("/api/v1/plans", headers=h, json=weekdays).json()["id"]
    url = f"/api/v1/plans/{plan_id}/backfill"
    week = {"start": "2026-03-30", "end": "2026-04-11"}
    dry = client.post(url, headers=h, json={**week, "dry_run": True})
    assert dry.status_code == 200, dry.text
    days = [fire[:10] for fire in dry.json()["fires"]]
    assert days == [
        "2026-03-30",
        "2026-03-31",
        "2026-04-01",
        "2026-04-02",
        "2026-04-07",
        "2026-04-08",
        "2026-04-09",
        "2026-04-10",
    ]
    created = client.post(url, headers=h, json={**week, "max_active": 8})
    assert created.status_code == 201, created.text
    runs = client.get("/api/v1/runs", headers=h, params={"plan": plan_id, "limit": 50}).json()
    assert sorted(r["scheduled_for"][:10] for r in runs) == days
    assert {r["trigger"] for r in runs} == {"backfill"}

    holidays = plan_body(
        "holidays", calendar="uk-bank-holidays", calendar_mode="only", timezone="Europe/London"
    )
    only_id = client.post("/api/v1/plans", headers=h, json=holidays).json()["id"]
    only = client.post(
        f"/api/v1/plans/{only_id}/backfill",
        headers=h,
        json={"start": "2026-01-01", "end": "2026-06-01", "dry_run": True},
    )
    assert [f[:10] for f in only.json()["fires"]] == BANK_HOLIDAYS[:5]
