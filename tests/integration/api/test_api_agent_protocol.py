"""``/api/v1/agent/*``: the agent protocol, spoken over HTTP as an agent would (issue #14).

A job naming an agent waits for it (never run by the server); the agent claims it, reports
output and its result; leases, refusals and revocation. On SQLite and PostgreSQL (the
``database`` fixture) where state changes."""

from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from jobplan.api import create_app
from jobplan.service.container import Services
from jobplan.settings import Settings
from jobplan.store.tables import agents, job_runs
from support.api import (
    ROOT_PASSWORD,
    ROOT_USER,
    Actor,
    job_of,
    login,
    make_tenant,
    run_detail,
    wait_for,
)

#: Tests of paths the two stores do not tell apart run on SQLite only (the suite's budget).
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
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


def hello_id(services: Services, name: str) -> str:
    """The id of the agent of that name (what its job runs' owner is)."""
    with services.database.read() as conn:
        agent_id: str = conn.execute(select(agents.c.id).where(agents.c.name == name)).scalar_one()
    return agent_id


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
    metrics = client.get("/metrics", headers=root.headers).text  # its start delay counted
    assert "jobplan_job_start_delay_seconds_count 1.0" in metrics
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
    assert logs.status_code == 200 and logs.json()["text"] == "hi\n", logs.text


def test_labels_route_to_any_agent_carrying_them_and_unknown_names_run_on_the_server(
    client: TestClient, root: Actor
) -> None:
    linux = _agent(client, root, "edge-1", "linux")
    other = _agent(client, root, "edge-2", "windows")
    run_id = _start(
        client,
        root,
        [
            {"name": "any-linux", "kind": "command", "command": "true", "agent": "label:linux"},
            # an Ikasan agent name nobody registered: the server runs it (the default)
            {"name": "ikasan", "kind": "command", "command": "echo here", "agent": "old-host"},
            {"name": "nowhere", "kind": "command", "command": "true", "agent": "label:gpu"},
        ],
    )
    assert _call(client, other, "claim", {"free": 4, "wait_seconds": 0})["assignments"] == []
    [assignment] = _claim(client, linux)["assignments"]
    assert assignment["job_name"] == "any-linux"
    _call(
        client,
        linux,
        "results",
        {"results": [{"job_run_id": assignment["job_run_id"], "attempt": 1, "succeeded": True}]},
    )
    wait_for(
        lambda: _job(client, root, run_id, "ikasan")["status"] == "COMPLETE" or None,
        what="the server to run the job naming an unknown agent",
    )
    # a label no agent carries never falls back to the server: it waits, and says so
    waiting = wait_for(
        lambda: (lambda j: j if j["reason"] else None)(_job(client, root, run_id, "nowhere")),
        what="the waiting reason",
    )
    assert waiting["status"] == "WAITING"
    assert waiting["reason"] == "waiting for an agent labelled gpu"
    # the job run says where it runs: its target, or None for the server's nodes
    assert waiting["agent"] == "label:gpu"
    assert _job(client, root, run_id, "ikasan")["agent"] == "old-host"
    assert _call(client, other, "claim", {"free": 4, "wait_seconds": 0})["assignments"] == []


def test_leases_heartbeats_and_what_an_agent_must_drop(
    client: TestClient, root: Actor, services: Services
) -> None:
    agent = _agent(client, root, "edge-1")
    _start(client, root, [{"name": "a", "kind": "command", "command": "x", "agent": "edge-1"}])
    [assignment] = _claim(client, agent)["assignments"]
    job_run_id = assignment["job_run_id"]
    with services.database.read() as conn:
        before = conn.execute(select(job_runs.c.lease_until, job_runs.c.owner_node)).one()
    holding = [
        {"job_run_id": job_run_id, "attempt": 1},
        {"job_run_id": job_run_id + "x", "attempt": 1},  # unknown: drop it
    ]
    beat = _call(client, agent, "heartbeat", {"holding": holding})
    assert beat["drop"] == [job_run_id + "x"] and beat["stop"] == []
    with services.database.read() as conn:
        after = conn.execute(select(job_runs.c.lease_until, job_runs.c.owner_node)).one()
    assert after.lease_until >= before.lease_until and after.owner_node == before.owner_node
    assert datetime.fromisoformat(beat["lease_until"]) >= after.lease_until.replace(tzinfo=UTC)
    # a held attempt that is not the current one is dropped too
    stale = _call(client, agent, "hello", {**HELLO, "holding": [{**holding[0], "attempt": 2}]})
    assert stale["drop"] == [job_run_id]


def test_a_stop_reaches_a_waiting_claim_and_the_result_is_killed(
    client: TestClient, root: Actor, services: Services
) -> None:
    agent = _agent(client, root, "edge-1")
    run_id = _start(
        client, root, [{"name": "a", "kind": "command", "command": "x", "agent": "edge-1"}]
    )
    [assignment] = _claim(client, agent)["assignments"]
    job_run_id = assignment["job_run_id"]
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(_call, client, agent, "claim", {"free": 3, "wait_seconds": 25})
        killed = client.post(f"/api/v1/job-runs/{job_run_id}/kill", headers=root.headers)
        assert killed.status_code == 200, killed.text
        assert waiting.result()["stop"] == [job_run_id]
    # heartbeats carry it too, and the result of the cancelled attempt ends it KILLED
    assert _call(client, agent, "heartbeat", {})["stop"] == [job_run_id]
    result = {"job_run_id": job_run_id, "attempt": 1, "reason": "stopped", "exit_code": -15}
    _call(client, agent, "results", {"results": [result]})
    job = _job(client, root, run_id, "a")
    assert job["status"] == "KILLED" and job["reason"] == "stopped by an operator"


@SQLITE_ONLY
def test_a_stop_recorded_by_another_node_reaches_a_waiting_claim(
    client: TestClient, root: Actor, services: Services
) -> None:
    """Nothing in this process wakes the claim: it finds the request by reading again."""
    agent = _agent(client, root, "edge-1")
    _start(client, root, [{"name": "a", "kind": "command", "command": "x", "agent": "edge-1"}])
    [assignment] = _claim(client, agent)["assignments"]
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(_call, client, agent, "claim", {"free": 3, "wait_seconds": 25})
        with services.database.transaction() as conn:
            conn.execute(update(job_runs).values(stop_requested=True))
        assert waiting.result()["stop"] == [assignment["job_run_id"]]


def test_output_is_idempotent_capped_and_refused_for_job_runs_not_held(
    client: TestClient, root: Actor, services: Services
) -> None:
    agent = _agent(client, root, "edge-1")
    intruder = _agent(client, root, "edge-2")
    _start(client, root, [{"name": "a", "kind": "command", "command": "x", "agent": "edge-1"}])
    [assignment] = _claim(client, agent)["assignments"]
    job_run_id = assignment["job_run_id"]
    cap = services.settings.output_limit_bytes
    big = "x" * (cap * 3 // 5)

    def chunk(seq: int, text: str, attempt: int = 1) -> dict[str, Any]:
        return {"job_run_id": job_run_id, "attempt": attempt, "seq": seq, "text": text}

    first = _call(client, agent, "output", {"chunks": [chunk(0, "head\n"), chunk(1, big)]})
    assert first == {"accepted": 2, "refused": []}
    # seq 1 again is ignored; seq 2 is cut at the cap; seq 3 is past it
    _call(client, agent, "output", {"chunks": [chunk(1, big), chunk(2, big), chunk(3, "tail")]})
    wrong = _call(client, agent, "output", {"chunks": [chunk(4, "later", attempt=2)]})
    assert wrong["accepted"] == 0
    assert wrong["refused"] == [
        {
            "job_run_id": job_run_id,
            "reason": "not held by this agent: the job run is at attempt 1, not 2",
        }
    ]
    theirs = _call(client, intruder, "output", {"chunks": [chunk(4, "mine")]})
    assert theirs["refused"][0]["reason"] == "not held by this agent: another agent or node runs it"
    output = client.get(f"/api/v1/job-runs/{job_run_id}/output", headers=root.headers).json()
    text = output["text"]
    assert text.startswith("head\nxxx") and len(text.encode()) == cap
    assert "tail" not in text and "mine" not in text


def test_the_output_cap_counts_bytes_not_characters(
    client: TestClient, root: Actor, services: Services
) -> None:
    # two chunks of two-byte characters, each 3/5 of the cap in bytes: the second is cut
    # (counting the first one's characters, the old cap let both in whole: 6/5 of the cap)
    agent = _agent(client, root, "edge-1")
    _start(client, root, [{"name": "a", "kind": "command", "command": "x", "agent": "edge-1"}])
    [assignment] = _claim(client, agent)["assignments"]
    job_run_id = assignment["job_run_id"]
    cap = services.settings.output_limit_bytes
    wide = "é" * (cap * 3 // 10)
    for seq in (0, 1):
        chunk = {"job_run_id": job_run_id, "attempt": 1, "seq": seq, "text": wide}
        assert _call(client, agent, "output", {"chunks": [chunk]})["accepted"] == 1
    output = client.get(f"/api/v1/job-runs/{job_run_id}/output", headers=root.headers).json()
    assert cap - 1 <= len(output["text"].encode()) <= cap


def test_results_are_refused_for_job_runs_the_agent_does_not_hold(
    client: TestClient, root: Actor
) -> None:
    owner = _agent(client, root, "edge-1")
    other = _agent(client, root, "edge-2")
    acme = make_tenant(client, root, "acme")
    stranger = _agent(client, acme, "edge-1")  # same name, another tenant
    run_id = _start(
        client, root, [{"name": "a", "kind": "command", "command": "x", "agent": "edge-1"}]
    )
    [assignment] = _claim(client, owner)["assignments"]
    result = {"job_run_id": assignment["job_run_id"], "attempt": 1, "succeeded": True}
    assert _call(client, stranger, "claim", {"free": 1, "wait_seconds": 0})["assignments"] == []
    refusals = {
        "edge-2": _call(client, other, "results", {"results": [result]})["results"][0],
        "acme": _call(client, stranger, "results", {"results": [result]})["results"][0],
        "attempt": _call(client, owner, "results", {"results": [{**result, "attempt": 3}]})[
            "results"
        ][0],
        "file": _call(client, owner, "results", {"results": [{**result, "file_found": True}]})[
            "results"
        ][0],
    }
    assert {name: r["outcome"] for name, r in refusals.items()} == dict.fromkeys(
        refusals, "refused"
    )
    assert refusals["edge-2"]["reason"] == "not held by this agent: another agent or node runs it"
    assert refusals["acme"]["reason"] == "not held by this agent: no such job run"
    assert "at attempt 1, not 3" in refusals["attempt"]["reason"]
    assert "this is a command job" in refusals["file"]["reason"]
    assert _job(client, root, run_id, "a")["status"] == "RUNNING"
    recorded = _call(client, owner, "results", {"results": [result]})["results"][0]
    assert recorded["outcome"] == "recorded"


@SQLITE_ONLY
def test_a_file_job_is_polled_by_its_agent(client: TestClient, root: Actor) -> None:
    agent = _agent(client, root, "edge-1")
    watch = {
        "name": "watch",
        "kind": "file",
        "path": "/data/in",
        "patterns": ["*.csv"],
        "poll_cron": "0/1 * * * * ?",
        "agent": "edge-1",
    }
    run_id = _start(client, root, [watch])
    [poll] = _claim(client, agent)["assignments"]
    assert poll["kind"] == "file" and poll["job"]["path"] == "/data/in" and poll["attempt"] == 1
    missing = {"job_run_id": poll["job_run_id"], "attempt": 1, "file_found": False}
    assert _call(client, agent, "results", {"results": [missing]})["results"][0]["outcome"] == (
        "recorded"
    )
    assert _job(client, root, run_id, "watch")["status"] == "WAITING"
    [again] = _claim(client, agent)["assignments"]  # at its next poll time
    found = {**missing, "file_found": True, "reason": "found /data/in/a.csv"}
    assert again["job_run_id"] == poll["job_run_id"]
    _call(client, agent, "results", {"results": [found]})
    job = _job(client, root, run_id, "watch")
    assert job["status"] == "COMPLETE" and job["reason"] == "found /data/in/a.csv"


def test_revoking_an_agent_refuses_it_and_settles_its_job_runs(
    client: TestClient, root: Actor
) -> None:
    agent = _agent(client, root, "edge-1")
    run_id = _start(
        client, root, [{"name": "a", "kind": "command", "command": "x", "agent": "edge-1"}]
    )
    [assignment] = _claim(client, agent)["assignments"]
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(
            client.post,
            "/api/v1/agent/claim",
            headers=agent,
            json={"free": 3, "wait_seconds": 25},
        )
        revoked = client.delete("/api/v1/agents/edge-1", headers=root.headers)
        assert revoked.status_code == 200 and revoked.json()["running_job_runs"] == 0
        answer = waiting.result()
    assert answer.status_code == 401, answer.text
    assert answer.json()["detail"] == "agent 'edge-1' has been revoked"
    for name, body in (("heartbeat", {}), ("hello", HELLO)):
        refused = client.post(f"/api/v1/agent/{name}", headers=agent, json=body)
        assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    job = _job(client, root, run_id, "a")
    assert job["status"] == "ERROR" and job["reason"] == "agent edge-1 revoked"
    result = {"job_run_id": assignment["job_run_id"], "attempt": 1, "succeeded": True}
    late = client.post("/api/v1/agent/results", headers=agent, json={"results": [result]})
    assert late.status_code == 401


@SQLITE_ONLY
def test_only_agent_keys_open_the_protocol_and_bad_bodies_are_422(
    client: TestClient, root: Actor
) -> None:
    agent = _agent(client, root, "edge-1")
    key = client.post("/api/v1/api-keys", headers=root.headers, json={"name": "ci"}).json()
    users = {
        "token": root.headers,
        "api key": {"X-API-Key": key["key"]},
        "api key as bearer": {"Authorization": f"Bearer {key['key']}"},
        "basic": {"Authorization": "Basic " + base64.b64encode(b"root:x").decode()},
    }
    for name, headers in users.items():
        for call in ("hello", "claim", "heartbeat", "output", "results"):
            refused = client.post(f"/api/v1/agent/{call}", headers=headers, json={})
            assert refused.status_code == 403, (name, call, refused.text)
            assert "only an agent's key" in refused.json()["detail"]
    missing = client.post("/api/v1/agent/claim", json={"free": 1})
    assert missing.status_code == 401 and "agent key is required" in missing.json()["detail"]
    forged = agent["Authorization"][:-4] + "AAAA"
    bad = client.post("/api/v1/agent/claim", headers={"Authorization": forged}, json={"free": 1})
    assert bad.status_code == 401 and bad.json()["detail"] == "agent key is invalid"
    # and the agent's key opens nothing else
    assert client.get("/api/v1/agents", headers=agent).status_code == 403
    # bad bodies: 422 naming the field
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("claim", {"free": 1, "wait": 3}, "wait"),
        ("claim", {"free": -1}, "free"),
        ("claim", {"free": 1, "wait_seconds": 31}, "wait_seconds"),
        ("hello", {**HELLO, "slots": 1001}, "slots"),
        ("hello", {**HELLO, "protocol": "one"}, "protocol"),
        ("output", {"chunks": [{"job_run_id": "x", "attempt": 0, "seq": 0, "text": ""}]}, "chunks"),
        ("results", {"results": [{"job_run_id": "", "attempt": 1}]}, "results"),
        ("results", {}, "results"),
    ]
    for call, body, field in cases:
        refused = client.post(f"/api/v1/agent/{call}", headers=agent, json=body)
        assert refused.status_code == 422, (call, body, refused.text)
        fields = [e["field"] for e in refused.json()["errors"]]
        assert any(f.startswith(field) for f in fields), (call, body, refused.json())
    old = client.post("/api/v1/agent/hello", headers=agent, json={**HELLO, "protocol": 2})
    assert old.status_code == 409 and "speaks agent protocol 1" in old.json()["detail"]


def test_a_server_restart_leaves_agent_held_job_runs_to_their_agent(
    api_settings: Settings, services: Services
) -> None:
    """The server is down longer than the lease while the agent runs a job: at start the
    server neither recovers the agent's job run (SQLite) nor counts it lost, and the result
    the agent sends on reconnecting is recorded, once."""
    with TestClient(create_app(api_settings, services)) as first:
        root = login(first, ROOT_USER, ROOT_PASSWORD)
        agent = _agent(first, root, "edge-1")
        run_id = _start(
            first, root, [{"name": "a", "kind": "command", "command": "x", "agent": "edge-1"}]
        )
        [assignment] = _claim(first, agent)["assignments"]
        assert _call(first, agent, "claim", {"free": 1, "wait_seconds": 0.2})["assignments"] == []
    with services.database.transaction() as conn:  # the downtime outlasted the lease
        conn.execute(update(job_runs).values(lease_until=datetime(2000, 1, 1, tzinfo=UTC)))
    restarted = datetime.now(UTC)
    with TestClient(create_app(api_settings, services)) as second:
        with services.database.read() as conn:
            row = conn.execute(select(job_runs)).one()
        assert row.status == "RUNNING" and row.owner_node == hello_id(services, "edge-1")
        assert row.lease_until.replace(tzinfo=UTC) >= restarted
        hello = _call(
            second,
            agent,
            "hello",
            {**HELLO, "holding": [{"job_run_id": assignment["job_run_id"], "attempt": 1}]},
        )
        assert hello["drop"] == []
        # a claim waits in the new application's event loop (nothing is due)
        assert _call(second, agent, "claim", {"free": 1, "wait_seconds": 0.2})["assignments"] == []
        result = {"job_run_id": assignment["job_run_id"], "attempt": 1, "succeeded": True}
        outcomes = [
            _call(second, agent, "results", {"results": [result]})["results"][0]["outcome"]
            for _ in range(2)
        ]
        assert outcomes == ["recorded", "refused"]
        assert run_detail(second, root, run_id)["status"] == "COMPLETE"
