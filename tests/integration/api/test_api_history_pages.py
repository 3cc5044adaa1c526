"""Keyset pagination of runs and job runs (``cursor``) against the offset listing: the same
rows in the same order, with runs created at the same instant (a burst) split across pages."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from jobplan.service.container import Services
from jobplan.store import runs as run_store
from support.api import Actor

PLAN_JOBS = [
    {"name": "gate", "kind": "time", "cron": "0 0 0 1 1 ? 2099", "timezone": "UTC"},
    {"name": "after", "kind": "command", "command": "true", "depends_on": "gate"},
]


def _seed(client: TestClient, root: Actor, services: Services) -> dict[str, str]:
    """Two plans; 3 runs started through the API, then 30 copies of them inserted with
    chosen creation times, many sharing one instant (as a burst's runs do), in statuses
    spread over RUNNING, COMPLETE and ERROR."""
    plan_ids = {}
    for name in ("one", "two"):
        body = {"name": name, "folder": "keyset", "jobs": PLAN_JOBS}
        response = client.post("/api/v1/plans", headers=root.headers, json=body)
        assert response.status_code == 201, response.text
        plan_ids[name] = response.json()["id"]
    started = []
    for plan_id in (plan_ids["one"], plan_ids["two"], plan_ids["one"]):
        response = client.post(
            f"/api/v1/plans/{plan_id}/runs", headers=root.headers, json={"force": True}
        )
        assert response.status_code == 201, response.text
        started.append(response.json()["run"]["id"])
    base = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    with services.database.transaction() as conn:
        templates = [run_store.get_plan_run(conn, run_id) for run_id in started]
        jobs_of = {run_id: run_store.job_runs_of(conn, run_id) for run_id in started}
        ids = iter(run_store.new_run_ids(30 * 3))
        runs, jobs = [], []
        for index in range(30):
            template = templates[index % 3]
            assert template is not None
            # instants: 10 groups of 3 runs each created at the same moment
            at = base + timedelta(minutes=index // 3)
            status = ("COMPLETE", "ERROR", "RUNNING")[index % 3]
            run = dataclasses.replace(template, id=next(ids), created_at=at, status=status)
            runs.append(run)
            for job in jobs_of[template.id]:
                jobs.append(
                    dataclasses.replace(
                        job, id=next(ids), plan_run_id=run.id, created_at=at, status=status
                    )
                )
        run_store.insert_plan_runs(conn, runs)
        run_store.insert_job_runs(conn, jobs)
    return plan_ids


def _walk(client: TestClient, root: Actor, path: str, limit: int) -> list[dict[str, Any]]:
    """Every page of a keyset walk, following X-Next-Cursor."""
    items: list[dict[str, Any]] = []
    cursor = ""
    for _ in range(200):
        sep = "&" if "?" in path else "?"
        response = client.get(f"{path}{sep}limit={limit}&cursor={cursor}", headers=root.headers)
        assert response.status_code == 200, response.text
        assert "X-Total-Count" not in response.headers  # keyset pages do not count
        page = response.json()
        assert len(page) <= limit
        items += page
        cursor = response.headers.get("X-Next-Cursor", "")
        if not cursor:
            assert len(page) < limit or not page or "Link" not in response.headers
            return items
        assert f"cursor={cursor}" in response.headers["Link"]
    raise AssertionError("the walk did not end")


def _listed(client: TestClient, root: Actor, path: str) -> list[dict[str, Any]]:
    sep = "&" if "?" in path else "?"
    response = client.get(f"{path}{sep}limit=500", headers=root.headers)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    assert int(response.headers["X-Total-Count"]) == len(rows)
    return rows


def test_keyset_pages_list_what_the_offset_listing_lists(
    client: TestClient, root: Actor, services: Services
) -> None:
    plans = _seed(client, root, services)
    since = "2026-06-01T12:02:00Z"
    until = "2026-06-01T12:07:00Z"
    run_queries = [
        "/api/v1/runs",
        f"/api/v1/runs?plan={plans['one']}",
        "/api/v1/runs?plan=keyset/two",
        "/api/v1/runs?status=ERROR&status=RUNNING",
        f"/api/v1/runs?since={since}&until={until}".replace("+", "%2B"),
        f"/api/v1/runs?plan={plans['one']}&status=COMPLETE&since={since}",
    ]
    for query in run_queries:
        listed = _listed(client, root, query)
        assert listed, query
        for limit in (1, 2, 3, 7):
            walked = _walk(client, root, query, limit)
            assert [r["id"] for r in walked] == [r["id"] for r in listed], (query, limit)

    job_queries = [
        "/api/v1/job-runs",
        "/api/v1/job-runs?status=ERROR",
        "/api/v1/job-runs?job=after&status=COMPLETE&status=RUNNING",
    ]
    for query in job_queries:
        listed = _listed(client, root, query)
        assert listed, query
        # keyset order: newest first, then by id (descending) among job runs of one instant
        expected = sorted(listed, key=lambda j: (j["created_at"], j["id"]), reverse=True)
        for limit in (1, 4, 9):
            walked = _walk(client, root, query, limit)
            assert [j["id"] for j in walked] == [j["id"] for j in expected], (query, limit)
    one_run = _listed(client, root, "/api/v1/runs?limit=1")[0]["id"]
    walked = _walk(client, root, f"/api/v1/job-runs?run={one_run}", 1)
    assert {j["id"] for j in walked} == {
        j["id"] for j in _listed(client, root, f"/api/v1/job-runs?run={one_run}")
    }


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("/api/v1/runs?cursor=bm90LWEtY3Vyc29y", "cursor"),  # "not-a-cursor"
        ("/api/v1/runs?cursor=%%%", "cursor"),
        ("/api/v1/runs?cursor=&offset=5", "offset"),
        ("/api/v1/job-runs?cursor=MjAyNnw", "cursor"),  # "2026|"
        ("/api/v1/job-runs?cursor=&offset=1", "offset"),
        ("/api/v1/job-runs?cursor=" + "a" * 201, "cursor"),
    ],
)
def test_bad_cursors_are_422(client: TestClient, root: Actor, query: str, field: str) -> None:
    response = client.get(query, headers=root.headers)
    assert response.status_code == 422, response.text
    assert any(e["field"].endswith(field) for e in response.json()["errors"])
