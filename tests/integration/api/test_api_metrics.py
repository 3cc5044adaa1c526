"""``GET /metrics``: the Prometheus text a scraper reads (parsed with prometheus_client's own
parser), moving as the real engine fires plans and runs jobs, with bounded labels, and
guarded by the ``metrics:read`` scope unless ``JOBPLAN_METRICS_PUBLIC`` is set."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from jobplan.api import create_app
from jobplan.service.bootstrap import bootstrap_admin
from jobplan.service.container import Services
from jobplan.settings import Settings
from jobplan.store import Database
from support.api import Actor, make_tenant, make_user, wait_for
from support.metrics import Samples, scrape

#: Every family /metrics exports, as docs/operations.md lists them (counters without _total).
FAMILIES = {
    "jobplan_schedule_delay_seconds",
    "jobplan_job_start_delay_seconds",
    "jobplan_plan_runs",
    "jobplan_job_runs",
    "jobplan_job_run_duration_seconds",
    "jobplan_runs_open",
    "jobplan_misfires",
    "jobplan_scheduler_tick_duration_seconds",
    "jobplan_scheduler_due",
    "jobplan_writer_queue_depth",
    "jobplan_notifications",
    "jobplan_notifications_pending",
    "jobplan_transfer_jobs",
    "jobplan_http_requests",
    "jobplan_http_request_duration_seconds",
    "jobplan_node_info",
    "jobplan_database_up",
}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def label_sets(samples: Samples, name: str) -> set[frozenset[tuple[str, str]]]:
    return {labels for sample, labels in samples if sample == name}


def test_the_scrape_is_prometheus_text_with_exactly_the_documented_families(
    client: TestClient, root: Actor
) -> None:
    response = client.get("/metrics", headers=root.headers)
    assert response.status_code == 200, response.text
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    assert set(families) == FAMILIES
    assert families["jobplan_plan_runs"].type == "counter"
    assert families["jobplan_schedule_delay_seconds"].type == "histogram"
    assert families["jobplan_runs_open"].type == "gauge"
    samples = scrape(client, root.headers)
    assert value(samples, "jobplan_database_up") == 1
    (info,) = label_sets(samples, "jobplan_node_info")
    assert dict(info)["version"] and dict(info)["node"]
    assert not any(name.endswith("_created") for name, _ in samples)

    openmetrics = client.get(
        "/metrics", headers={**root.headers, "Accept": "application/openmetrics-text"}
    )
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
    assert openmetrics.text.endswith("# EOF\n")


def test_metrics_need_the_metrics_read_scope(client: TestClient, root: Actor) -> None:
    anonymous = client.get("/metrics")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"

    def key(scopes: list[str] | None) -> str:
        body = {"name": f"k{uuid.uuid4().hex[:8]}", "scopes": scopes}
        created = client.post("/api/v1/api-keys", headers=root.headers, json=body)
        assert created.status_code == 201, created.text
        secret: str = created.json()["key"]
        return secret

    narrow = key(["plans:read"])
    refused = client.get("/metrics", headers={"Authorization": f"Bearer {narrow}"})
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert "metrics:read" in refused.json()["detail"]

    scraper = key(["metrics:read"])  # what Prometheus is given: a key for this alone
    scrape(client, {"Authorization": f"Bearer {scraper}"})
    scrape(client, {"X-API-Key": scraper})
    assert client.get("/api/v1/plans", headers={"X-API-Key": scraper}).status_code == 403
    scrape(client, root.headers)  # a system administrator's own token
    basic = client.get("/metrics", auth=(root.username, root.password))
    assert basic.status_code == 200

    # metrics count every tenant's runs: a tenant's own admin does not hold the scope
    tenant_admin = make_tenant(client, root, "acme")
    assert client.get("/metrics", headers=tenant_admin.headers).status_code == 403
    supervisor = make_user(client, root, "sam", "supervisor")
    assert client.get("/metrics", headers=supervisor.headers).status_code == 403
    assert (
        client.post(
            "/api/v1/api-keys",
            headers=tenant_admin.headers,
            json={"name": "x", "scopes": ["metrics:read"]},
        ).status_code
        == 403
    ), "a key never holds more than its owner"


@pytest.fixture
def public_client(api_settings: Settings, database: Database) -> Iterator[TestClient]:
    settings = api_settings.model_copy(update={"metrics_public": True, "engine_enabled": False})
    settings.ensure_home()
    services = Services(settings, database)
    services.bootstrap = bootstrap_admin(database, settings, services.passwords)
    with TestClient(create_app(settings, services)) as test_client:
        yield test_client


def test_public_metrics_need_no_credential_and_read_none(public_client: TestClient) -> None:
    samples = scrape(public_client)
    assert value(samples, "jobplan_database_up") == 1
    # a credential is not even looked at: a wrong one does not turn a scrape into a 401
    scrape(public_client, {"Authorization": "Bearer wrong"})


def test_a_fire_and_its_jobs_move_the_counters_and_histograms(
    client: TestClient, root: Actor
) -> None:
    h = root.headers
    plan = {
        "name": "metered",
        "window": {"cron": "* * * * * ?"},
        "policies": {"overlap": "skip", "on_error": "end", "max_retries": 0},
        "jobs": [
            {"name": "ok", "kind": "command", "command": "true"},
            {"name": "bad", "kind": "command", "command": "exit 3", "depends_on": "ok"},
        ],
    }
    created = client.post("/api/v1/plans", headers=h, json=plan)
    assert created.status_code == 201, created.text
    plan_id = created.json()["id"]
    before = scrape(client, h)

    def ended() -> Samples | None:
        # two more ended runs: the second opened after the first ended, so everything it
        # did (its fire, its jobs) happened after the first scrape
        samples = scrape(client, h)
        count = value(samples, "jobplan_plan_runs_total", status="ERROR")
        return (
            samples
            if count >= value(before, "jobplan_plan_runs_total", status="ERROR") + 2
            else None
        )

    after = wait_for(ended, 30, "two fired runs to end")
    assert client.post(f"/api/v1/plans/{plan_id}/disable", headers=h).status_code == 200

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("jobplan_schedule_delay_seconds_count") >= 1
    assert moved("jobplan_scheduler_tick_duration_seconds_count") >= 1
    assert moved("jobplan_job_runs_total", kind="command", status="COMPLETE") >= 1
    assert moved("jobplan_job_runs_total", kind="command", status="ERROR") >= 1
    assert moved("jobplan_job_run_duration_seconds_count", kind="command") >= 2
    assert moved("jobplan_job_start_delay_seconds_count") >= 2
    assert moved("jobplan_plan_runs_total", status="COMPLETE") == 0


def test_open_runs_are_read_from_the_database(client: TestClient, root: Actor) -> None:
    h = root.headers
    plan = {
        "name": "waits",
        "jobs": [{"name": "approve", "kind": "command", "command": "true", "startup": "manual"}],
    }
    created = client.post("/api/v1/plans", headers=h, json=plan)
    assert created.status_code == 201, created.text
    assert value(scrape(client, h), "jobplan_runs_open", status="RUNNING") == 0
    started = client.post(f"/api/v1/plans/{created.json()['id']}/runs", headers=h)
    assert started.status_code == 201, started.text
    samples = scrape(client, h)
    assert value(samples, "jobplan_runs_open", status="RUNNING") == 1
    assert value(samples, "jobplan_runs_open", status="QUEUED") == 0
    assert value(samples, "jobplan_plan_runs_total", status="ENDED") == 0

    stopped = client.post(f"/api/v1/runs/{started.json()['run']['id']}/stop", headers=h)
    assert stopped.status_code == 200, stopped.text
    samples = scrape(client, h)
    assert value(samples, "jobplan_runs_open", status="RUNNING") == 0
    assert value(samples, "jobplan_plan_runs_total", status="ENDED") == 1


def test_http_metrics_name_route_templates_and_their_labels_stay_bounded(
    client: TestClient, root: Actor
) -> None:
    h = root.headers
    ids = [uuid.uuid4().hex for _ in range(3)]
    for plan_id in ids:
        assert client.get(f"/api/v1/plans/{plan_id}", headers=h).status_code == 404
    for index in range(3):
        assert client.get(f"/no/such/page-{index}").status_code == 404
    client.request("BREW", "/api/v1/plans")
    scrape(client, h)  # a scrape is counted once answered: the next one shows it
    first = scrape(client, h)

    template = {("route", "/api/v1/plans/{plan_id}"), ("method", "GET"), ("status", "404")}
    assert value(first, "jobplan_http_requests_total", **dict(template)) == 3
    unmatched = {("route", "unmatched"), ("method", "GET"), ("status", "404")}
    assert value(first, "jobplan_http_requests_total", **dict(unmatched)) == 3
    assert any(
        dict(labels)["method"] == "other"
        for labels in label_sets(first, "jobplan_http_requests_total")
    ), "an unknown method is not a label value of its own"
    for (_, labels), _ in first.items():
        for _, label in labels:
            assert not any(plan_id in label for plan_id in ids), label
            assert "page-" not in label

    # many more distinct ids and paths add no label values
    for _ in range(20):
        client.get(f"/api/v1/plans/{uuid.uuid4().hex}", headers=h)
        client.get(f"/no/such/page-{uuid.uuid4().hex}")
        client.get(f"/static/console/{uuid.uuid4().hex}.css")
    second = scrape(client, h)
    grown = label_sets(second, "jobplan_http_requests_total") - label_sets(
        first, "jobplan_http_requests_total"
    )
    routes = {dict(labels)["route"] for labels in grown}
    assert routes <= {"/static/console/{path}"}, grown
    for name in ("jobplan_http_requests_total", "jobplan_http_request_duration_seconds_count"):
        assert len(label_sets(second, name)) <= len(label_sets(first, name)) + 1
