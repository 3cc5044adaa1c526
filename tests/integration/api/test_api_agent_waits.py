"""Job runs waiting for agents (issue #14), with a strict server (JOBPLAN_UNKNOWN_AGENTS=wait),
no grace (JOBPLAN_AGENT_GRACE_SECONDS=0) and a short lease: unknown agents are waited for,
visibly; an agent that goes silent loses its job runs, retried on another agent of the
label, then ERROR "agent ... lost". On SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from jobplan.settings import Settings
from support.api import ROOT_PASSWORD, ROOT_USER, Actor, job_of, run_detail, wait_for

HOOK = "http://127.0.0.1:9/hook"


@pytest.fixture
def api_settings(tmp_path: Path) -> Settings:
    return Settings(
        home=tmp_path / "home",  # type: ignore[arg-type]
        admin_user=ROOT_USER,
        admin_password=ROOT_PASSWORD,
        argon2_memory_kib=1024,
        argon2_time_cost=1,
        unknown_agents="wait",
        agent_grace_seconds=0,
        lease_seconds=2,
    )


def _agent(client: TestClient, actor: Actor, name: str, *labels: str) -> dict[str, str]:
    response = client.post(
        "/api/v1/agents", headers=actor.headers, json={"name": name, "labels": list(labels)}
    )
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['key']}"}


def _claim(client: TestClient, agent: dict[str, str]) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        response = client.post(
            "/api/v1/agent/claim", headers=agent, json={"free": 1, "wait_seconds": 1}
        )
        assert response.status_code == 200, response.text
        return next(iter(response.json()["assignments"]), None)

    return wait_for(probe, what="an assignment")


def _apply(client: TestClient, actor: Actor, jobs: list[dict[str, Any]]) -> tuple[str, Any]:
    document = {
        "name": "p",
        "folder": "ops",
        "jobs": jobs,
        "policies": {"max_retries": 1, "retry_backoff_seconds": 0},
        "notifications": {"on_overdue": [HOOK]},
    }
    applied = client.post("/api/v1/plans/apply", headers=actor.headers, json=document)
    assert applied.status_code == 200, applied.text
    plan_id = applied.json()["plan"]["id"]
    started = client.post(f"/api/v1/plans/{plan_id}/runs", headers=actor.headers, json={})
    assert started.status_code == 201, started.text
    return started.json()["run"]["id"], applied.json()["warnings"]


def test_an_unknown_agent_is_waited_for_visibly_and_never_run_by_the_server(
    client: TestClient, root: Actor
) -> None:
    run_id, warnings = _apply(
        client, root, [{"name": "remote", "kind": "command", "command": "true", "agent": "ghost"}]
    )
    assert warnings == [
        "jobs remote: no agent 'ghost' is registered in tenant 'default'; they wait until "
        "such an agent is registered and connects"
    ]
    flagged = wait_for(
        lambda: (lambda j: j if "agent_offline" in j["flags"] else None)(
            job_of(run_detail(client, root, run_id), "remote")
        ),
        what="the agent_offline flag",
    )
    assert flagged["status"] == "WAITING"
    assert flagged["reason"] == "waiting for agent ghost; none online for 0 s"
    told = client.get("/api/v1/notifications", headers=root.headers).json()
    assert [(n["event"], n["recipient"], n["job_run_id"]) for n in told] == [
        ("agent_offline", HOOK, flagged["id"])
    ]
    assert "waiting for agent ghost" in told[0]["payload"]["reason"]
    # registered and connected, it takes the job run
    ghost = _agent(client, root, "ghost")
    assert _claim(client, ghost)["job_run_id"] == flagged["id"]


def test_a_silent_agent_loses_its_job_run_to_another_of_its_label_then_errors(
    client: TestClient, root: Actor
) -> None:
    first = _agent(client, root, "edge-1", "linux")
    second = _agent(client, root, "edge-2", "linux")
    run_id, _ = _apply(
        client, root, [{"name": "a", "kind": "command", "command": "x", "agent": "label:linux"}]
    )
    taken = _claim(client, first)
    assert taken["attempt"] == 1
    # edge-1 never calls again: its lease runs out, the job run is retried (max_retries 1)
    retried = _claim(client, second)
    assert retried["job_run_id"] == taken["job_run_id"] and retried["attempt"] == 2
    late = {"job_run_id": taken["job_run_id"], "attempt": 1, "succeeded": True}
    refused = client.post("/api/v1/agent/results", headers=first, json={"results": [late]})
    assert refused.json()["results"][0]["outcome"] == "refused"
    # and edge-2 goes silent too: no retry left
    job = wait_for(
        lambda: (lambda j: j if j["status"] == "ERROR" else None)(
            job_of(run_detail(client, root, run_id), "a")
        ),
        what="the job run to fail",
    )
    assert job["reason"] == "agent edge-2 lost" and job["attempt"] == 2


def test_an_assignment_lost_in_transit_runs_out_although_its_agent_keeps_calling(
    client: TestClient, root: Actor
) -> None:
    """The claim's answer never reached edge-1 (it does not hold the job run): its hellos,
    heartbeats and claims renew only what it names in ``holding``, so the lease runs out,
    the job run is resolved as lost and retried, and edge-1 itself claims the retry."""
    agent = _agent(client, root, "edge-1")
    run_id, _ = _apply(
        client, root, [{"name": "a", "kind": "command", "command": "x", "agent": "edge-1"}]
    )
    lost = _claim(client, agent)  # ... in transit

    def calls_until_assigned() -> dict[str, Any] | None:
        for name, body in (
            ("hello", {"protocol": 1, "host": "h", "version": "v", "slots": 1, "holding": []}),
            ("heartbeat", {"holding": []}),
        ):
            answer = client.post(f"/api/v1/agent/{name}", headers=agent, json=body)
            assert answer.status_code == 200, answer.text
        claimed = client.post(
            "/api/v1/agent/claim", headers=agent, json={"free": 1, "wait_seconds": 0.5}
        )
        assert claimed.status_code == 200, claimed.text
        return next(iter(claimed.json()["assignments"]), None)

    retried = wait_for(calls_until_assigned, what="the lost assignment to be retried")
    assert retried["job_run_id"] == lost["job_run_id"] and retried["attempt"] == 2
    job = job_of(run_detail(client, root, run_id), "a")
    assert job["status"] == "RUNNING" and job["attempt"] == 2
