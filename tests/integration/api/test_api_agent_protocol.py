"""``/api/v1/agent/*``: the agent protocol, spoken over HTTP as an agent would (issue #14).

A job naming an agent waits for it (never run by the server); the agent claims it, reports
output and its result; leases, refusals and revocation. On SQLite and PostgreSQL (the
``database`` fixture) where state changes."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from support.api import Actor, job_of, run_detail, wait_for

HELLO = {"protocol": 1, "host": "edge-host", "version": "test", "slots": 4}


def _agent(client: TestClient, actor: Actor, name: str, *labels: str) -> dict[str, str]:
    """Register an agent; the headers it sends."""
    response = client.post(
        "/api/v1/agents", headers=actor.headers, json={"name": name, "labels": list(labels)}
    )
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['key']}"}


def _call(client: TestClient, agent: dict[str, str], name: str, body: dict[str, Any]) -> Any:
    response = client.post(f"/api/v1/agent/{name}", headers=agent, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def _start(client: TestClient, actor: Actor, jobs: list[dict[str, Any]], name: str = "p") -> str:
    body = {"name": name, "folder": "ops", "jobs": jobs}
    created = client.post("/api/v1/plans", headers=actor.headers, json=body)
    assert created.status_code == 201, created.text
    started = client.post(
        f"/api/v1/plans/{created.json()['id']}/runs", headers=actor.headers, json={}
    )
    assert started.status_code == 201, started.text
    run_id: str = started.json()["run"]["id"]
    return run_id


def _claim(client: TestClient, agent: dict[str, str], free: int = 4) -> dict[str, Any]:
    """Claim until something is assigned (the run may open a moment after its start)."""
    return wait_for(
        lambda: (lambda answer: answer if answer["assignments"] else None)(
            _call(client, agent, "claim", {"free": free, "wait_seconds": 1})
        ),
        what="an assignment",
    )


def _job(client: TestClient, actor: Actor, run_id: str, name: str) -> dict[str, Any]:
    return job_of(run_detail(client, actor, run_id), name)


def test_a_job_naming_an_agent_runs_there_and_its_result_is_recorded(
    client: TestClient, root: Actor
) -> None:
    agent = _agent(client, root, "edge-1")
    hello = _call(client, agent, "hello", HELLO)
    assert hello["name"] == "edge-1" and hello["tenant"] == "default" and hello["drop"] == []
    run_id = _start(
        client,
        root,
        [
            {"name": "remote", "kind": "command", "command": "echo hi", "agent": "edge-1"},
            {"name": "after", "kind": "command", "command": "true", "depends_on": "remote"},
        ],
    )
    claim = _claim(client, agent)
    [assignment] = claim["assignments"]
    assert assignment["job_name"] == "remote" and assignment["kind"] == "command"
    assert assignment["job"]["command"] == "echo hi" and assignment["attempt"] == 1
    assert assignment["environment"]["JOBPLAN_PLAN_RUN_ID"] == run_id
    job = _job(client, root, run_id, "remote")
    assert job["status"] == "RUNNING"
    listed = client.get("/api/v1/agents/edge-1", headers=root.headers).json()
    assert listed["running_job_runs"] == 1 and listed["state"] == "online"
    assert listed["host"] == "edge-host"

    chunk = {"job_run_id": assignment["job_run_id"], "attempt": 1, "seq": 0, "text": "hi\n"}
    assert _call(client, agent, "output", {"chunks": [chunk, chunk]})["accepted"] == 2
    result = {"job_run_id": assignment["job_run_id"], "attempt": 1, "succeeded": True}
    answer = _call(client, agent, "results", {"results": [result]})
    assert answer["results"] == [
        {"job_run_id": assignment["job_run_id"], "outcome": "recorded", "reason": None}
    ]
    again = _call(client, agent, "results", {"results": [result]})["results"][0]
    assert again["outcome"] == "refused" and "already ended (COMPLETE)" in again["reason"]
    wait_for(
        lambda: run_detail(client, root, run_id)["status"] == "COMPLETE" or None,
        what="the run to complete",
    )
    logs = client.get(f"/api/v1/job-runs/{assignment['job_run_id']}/output", headers=root.headers)
    assert logs.status_code == 200 and logs.text.count("hi") == 1, logs.text
