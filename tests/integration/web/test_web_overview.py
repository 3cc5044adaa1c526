"""Overview reads behind the console (plans page, run grid, fire times) on both stores."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from jobplan.model import CalendarDays, Window
from jobplan.service.container import Services
from jobplan.service.overview import upcoming_fires
from jobplan.store import accounts, overview
from support.api import Actor, sample_plan


def _start(client: TestClient, root: Actor, plan_id: str) -> str:
    response = client.post(
        f"/api/v1/plans/{plan_id}/runs", headers=root.headers, json={"force": True}
    )
    assert response.status_code in (200, 201), response.text
    run_id: str = response.json()["run"]["id"]
    return run_id


def test_plans_page_carries_each_plans_newest_runs_only(
    client: TestClient, root: Actor, services: Services
) -> None:
    ids = []
    for name in ("a", "b", "c"):
        body = client.post(
            "/api/v1/plans/apply", headers=root.headers, json=sample_plan(name=name)
        ).json()
        ids.append(body["plan"]["id"])
    started = [_start(client, root, ids[0]) for _ in range(12)] + [_start(client, root, ids[1])]
    caller = services.auth.authenticate_access_token(
        root.headers["Authorization"].removeprefix("Bearer ")
    )
    page = services.overview.plans_page(caller, limit=10)
    by_path = {item.plan.name: item for item in page.items}
    assert [run.id for run in by_path["a"].recent] == started[:12][::-1][:10]
    assert [run.id for run in by_path["b"].recent] == [started[12]]
    assert by_path["c"].recent == []
    assert page.total == 3


def test_recent_runs_bind_each_calls_plans_and_count(
    client: TestClient, root: Actor, services: Services
) -> None:
    """The statement is built once per number of plans and reused: every call must still
    read its own plans, tenant and count."""
    ids = []
    for name in ("a", "b", "c"):
        body = client.post(
            "/api/v1/plans/apply", headers=root.headers, json=sample_plan(name=name)
        ).json()
        ids.append(body["plan"]["id"])
    runs = {plan_id: [_start(client, root, plan_id) for _ in range(3)][::-1] for plan_id in ids}
    tenant = root.tenant
    with services.database.read() as conn:
        tenant_id = accounts.get_tenant_by_name(conn, tenant).id  # type: ignore[union-attr]
        first = overview.recent_run_statuses(conn, tenant_id, [ids[0], ids[1]], 2)
        second = overview.recent_run_statuses(conn, tenant_id, [ids[2], ids[1]], 1)
        third = overview.recent_run_statuses(conn, tenant_id, [ids[2], ids[2], ids[0]], 3)
        other = overview.recent_run_statuses(conn, "no-such-tenant", [ids[0], ids[1]], 2)
    assert {p: [r[0] for r in v] for p, v in first.items()} == {
        ids[0]: runs[ids[0]][:2],
        ids[1]: runs[ids[1]][:2],
    }
    assert {p: [r[0] for r in v] for p, v in second.items()} == {
        ids[2]: runs[ids[2]][:1],
        ids[1]: runs[ids[1]][:1],
    }
    assert {p: [r[0] for r in v] for p, v in third.items()} == {
        ids[2]: runs[ids[2]],
        ids[0]: runs[ids[0]],
    }
    assert other == {ids[0]: [], ids[1]: []}


def test_run_grid_has_a_row_per_job_and_a_column_per_run_oldest_first(
    client: TestClient, root: Actor, services: Services, csrf: str
) -> None:
    body = client.post("/api/v1/plans/apply", headers=root.headers, json=sample_plan()).json()
    plan_id = body["plan"]["id"]
    runs = [_start(client, root, plan_id) for _ in range(4)]
    caller = services.auth.authenticate_access_token(
        root.headers["Authorization"].removeprefix("Bearer ")
    )
    grid = services.overview.run_grid(caller, plan_id, runs=3)
    assert [run.id for run in grid.runs] == runs[1:]
    assert grid.job_names == ["gate", "extract"]
    assert {key for key in grid.cells} == {(r, j) for r in runs[1:] for j in ("gate", "extract")}
    page = client.get(f"/plans/{plan_id}/grid?runs=3")
    assert page.status_code == 200 and page.text.count('href="/job-runs/') == 6


def test_grid_size_is_bounded(client: TestClient, root: Actor, csrf: str) -> None:
    body = client.post("/api/v1/plans/apply", headers=root.headers, json=sample_plan()).json()
    response = client.get(f"/plans/{body['plan']['id']}/grid?runs=101")
    assert response.status_code == 400
    assert "runs: Input should be less than or equal to 100" in response.text


def test_upcoming_fires_mark_the_clock_change_and_blackouts() -> None:
    window = Window.model_validate(
        {
            "cron": "0 30 1 * * ?",
            "timezone": "Europe/London",
            "blackouts": [{"start": "2026-03-30T00:00:00Z", "end": "2026-03-31T00:00:00Z"}],
        }
    )
    fires = upcoming_fires(window, datetime(2026, 3, 27, 12, tzinfo=UTC), 4, calendars={})
    days = [(f.at.day, f.at.hour, f.offset_changed, f.blackout) for f in fires]
    # 29 March 01:30 does not exist in London (clocks go 01:00 -> 02:00): skipped by default
    assert days == [
        (28, 1, False, False),
        (30, 1, True, True),
        (31, 1, False, False),
        (1, 1, False, False),
    ]


def test_upcoming_fires_leave_out_the_days_of_the_windows_calendars() -> None:
    """The plan page's and the upcoming page's fires are the scheduler's: a calendar's
    days (local to the window) are not listed; with calendar_mode only, only they are."""
    days = {"hol": CalendarDays.of(["2026-03-31", "04-02"])}
    window = {"cron": "0 0 9 * * ?", "timezone": "Europe/London", "calendar": "hol"}
    after = datetime(2026, 3, 30, 12, tzinfo=UTC)
    kept = upcoming_fires(Window.model_validate(window), after, 3, calendars=days)
    assert [f.at.date().isoformat() for f in kept] == ["2026-04-01", "2026-04-03", "2026-04-04"]
    only = Window.model_validate({**window, "calendar_mode": "only"})
    listed = upcoming_fires(only, after, 3, calendars=days)
    assert [f.at.date().isoformat() for f in listed] == ["2026-03-31", "2026-04-02", "2027-04-02"]


def test_upcoming_lists_plans_soonest_first_with_their_fires_in_the_horizon(
    client: TestClient, root: Actor, services: Services, csrf: str
) -> None:
    hourly = sample_plan(name="hourly", window={"cron": "0 0 * * * ?"})
    daily = sample_plan(name="daily", window={"cron": "0 0 12 * * ?", "timezone": "Asia/Tokyo"})
    yearly = sample_plan(name="yearly", window={"cron": "0 0 0 1 1 ? 2099"})
    for plan in (hourly, daily, yearly, sample_plan(name="manual")):
        response = client.post("/api/v1/plans/apply", headers=root.headers, json=plan)
        assert response.status_code == 200, response.text
    caller = services.auth.authenticate_access_token(
        root.headers["Authorization"].removeprefix("Bearer ")
    )
    day = services.overview.upcoming(caller, hours=24)
    assert [item.plan.name for item in day.items] == ["hourly", "daily"]
    assert day.total == 2
    assert len(day.items[0].fires) == 24 and len(day.items[1].fires) == 1
    week = services.overview.upcoming(caller, hours=168)
    assert len(week.items[1].fires) == 7
    assert str(week.items[1].fires[0].at.tzinfo) == "Asia/Tokyo"
    page = client.get("/upcoming?hours=24")
    assert page.status_code == 200
    assert page.text.count('class="up-tick') == 25
    assert "finance/eod/yearly" not in page.text
    assert client.get("/upcoming?hours=0").status_code == 400


def test_upcoming_caps_fires_per_plan(client: TestClient, root: Actor, services: Services) -> None:
    plan = sample_plan(name="busy", window={"cron": "* * * * * ?"})
    client.post("/api/v1/plans/apply", headers=root.headers, json=plan)
    caller = services.auth.authenticate_access_token(
        root.headers["Authorization"].removeprefix("Bearer ")
    )
    (item,) = services.overview.upcoming(caller, hours=1).items
    assert len(item.fires) == 200 and item.truncated


def test_plans_page_sorts_by_next_fire(client: TestClient, root: Actor, csrf: str) -> None:
    for name, cron in (("a-late", "0 0 0 1 1 ? 2098"), ("b-soon", "0 0 0 1 1 ? 2090")):
        plan = sample_plan(name=name, window={"cron": cron})
        assert client.post("/api/v1/plans/apply", headers=root.headers, json=plan).is_success
    client.post("/api/v1/plans/apply", headers=root.headers, json=sample_plan(name="c-never"))
    by_path = client.get("/plans?sort=path").text
    by_fire = client.get("/plans?sort=next_fire").text
    order = ["a-late", "b-soon", "c-never"]
    assert sorted(order, key=by_path.index) == order
    assert sorted(order, key=by_fire.index) == ["b-soon", "a-late", "c-never"]
    assert client.get("/plans?sort=size").status_code == 400


def test_plan_page_lists_recent_runs_and_toggles_the_schedule(
    client: TestClient, root: Actor, csrf: str
) -> None:
    body = client.post("/api/v1/plans/apply", headers=root.headers, json=sample_plan()).json()
    plan_id = body["plan"]["id"]
    run_id = _start(client, root, plan_id)
    page = client.get(f"/plans/{plan_id}")
    assert f'href="/runs/{run_id}"' in page.text and "Disable schedule" in page.text
    client.post(f"/plans/{plan_id}/enabled", data={"csrf_token": csrf, "enabled": "false"})
    plan = client.get(f"/api/v1/plans/{plan_id}", headers=root.headers).json()
    assert plan["enabled"] is False
    assert "Enable schedule" in client.get(f"/plans/{plan_id}").text
    graph = client.get(f"/plans/{plan_id}/graph?run={run_id}")
    assert graph.status_code == 200 and graph.text.count('class="node') == 2
    bad = client.post(f"/plans/{plan_id}/enabled", data={"csrf_token": csrf, "enabled": "maybe"})
    assert bad.status_code == 400


def test_folder_tree_filters_the_plans(client: TestClient, root: Actor, csrf: str) -> None:
    client.post("/api/v1/plans/apply", headers=root.headers, json=sample_plan(name="one"))
    other = sample_plan(name="two", folder="hr/payroll")
    client.post("/api/v1/plans/apply", headers=root.headers, json=other)
    page = client.get("/plans").text
    for path in ("finance", "finance/eod", "hr", "hr/payroll"):
        assert f'title="{path}"' in page, path
    hr = client.get("/plans?folder=hr").text
    assert "hr/payroll/two" in hr and "finance/eod/one" not in hr


def test_plan_page_lists_only_the_newest_versions(
    client: TestClient, root: Actor, services: Services, csrf: str
) -> None:
    for number in range(53):
        plan = sample_plan(description=f"revision {number}")
        assert client.post("/api/v1/plans/apply", headers=root.headers, json=plan).is_success
    plan_id = client.get("/api/v1/plans", headers=root.headers).json()[0]["id"]
    caller = services.auth.authenticate_access_token(
        root.headers["Authorization"].removeprefix("Bearer ")
    )
    listed, total = services.overview.versions(caller, plan_id)
    assert total == 53 and len(listed) == 50
    assert [v.version for v in listed[:2]] == ["1.0.52", "1.0.51"]
    page = client.get(f"/plans/{plan_id}").text
    assert "The newest 50 of 53 versions" in page
    assert '?version=1.0.3"' in page and '?version=1.0.2"' not in page


def test_bad_actions_are_refused_naming_the_field_and_change_nothing(
    client: TestClient, root: Actor, csrf: str
) -> None:
    body = client.post("/api/v1/plans/apply", headers=root.headers, json=sample_plan()).json()
    plan_id = body["plan"]["id"]
    bad_bulk = client.post(
        "/plans/bulk", data={"csrf_token": csrf, "action": "explode", "plan": plan_id}
    )
    assert bad_bulk.status_code == 400 and "action: must be enable or disable" in bad_bulk.text
    empty_bulk = client.post("/plans/bulk", data={"csrf_token": csrf, "action": "disable"})
    assert empty_bulk.status_code == 400 and "choose at least one plan" in empty_bulk.text
    plan = client.get(f"/api/v1/plans/{plan_id}", headers=root.headers).json()
    assert plan["enabled"] is True
    run_id = _start(client, root, plan_id)
    job = client.get(f"/api/v1/runs/{run_id}", headers=root.headers).json()["jobs"][0]
    bad_action = client.post(f"/job-runs/{job['id']}/explode", data={"csrf_token": csrf})
    assert bad_action.status_code == 400 and "action: must be one of" in bad_action.text
    after = client.get(f"/api/v1/job-runs/{job['id']}", headers=root.headers).json()
    assert after["status"] == job["status"]
