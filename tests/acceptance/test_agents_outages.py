"""An agent outlives its server: the network cut (the server killed with -9 and restarted
while the agent's job ends: the result still arrives, once) and two server nodes on
PostgreSQL sharing an agent (a kill given to the other node reaches it; when its node dies
it fails over to the other and reports there, once); and a graceful stop (SIGTERM) answers
an open claim at once and leaves the agent's job run alone. Elsewhere servers are killed
rather than stopped: a crash is the harder case."""

from __future__ import annotations

import signal
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.agent import AgentProcess, register_agent
from support.api import wait_for
from support.postgres import PostgresCluster
from support.server import ServerProcess

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc, signals")

PASSWORD = "root-password-123"
SERVER_ENV = {
    "JOBPLAN_ADMIN_USER": "root",
    "JOBPLAN_ADMIN_PASSWORD": PASSWORD,
    # long enough for a loaded machine to stop and start a server within one lease: nothing
    # here waits for a lease to run out
    "JOBPLAN_LEASE_SECONDS": "10",
}


def api(server: ServerProcess) -> httpx.Client:
    return httpx.Client(base_url=server.url, auth=("root", PASSWORD), timeout=30)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def start_plan(client: httpx.Client, name: str, jobs: list[dict[str, Any]]) -> str:
    created = client.post("/api/v1/plans", json={"name": name, "jobs": jobs})
    assert created.status_code == 201, created.text
    started = client.post(f"/api/v1/plans/{created.json()['id']}/runs", json={})
    assert started.status_code == 201, started.text
    run_id: str = started.json()["run"]["id"]
    return run_id


def job_run(client: httpx.Client, run_id: str, job: str) -> dict[str, Any]:
    detail = client.get(f"/api/v1/runs/{run_id}")
    assert detail.status_code == 200, detail.text
    found: dict[str, Any] = next(j for j in detail.json()["jobs"] if j["job_name"] == job)
    return found


def ended(client: httpx.Client, run_id: str, job: str) -> dict[str, Any] | None:
    found = job_run(client, run_id, job)
    return found if found["status"] in ("COMPLETE", "ERROR", "KILLED") else None


def output(client: httpx.Client, job_run_id: str) -> str:
    answer = client.get(f"/api/v1/job-runs/{job_run_id}/output")
    assert answer.status_code == 200, answer.text
    text: str = answer.json()["text"]
    return text


def gated(folder: Path) -> str:
    """Prints, records its pid, waits for ``folder/go``, prints again and ends."""
    return (
        f"d={folder}; echo started; echo $$ > $d/pid.tmp && mv $d/pid.tmp $d/pid; "
        "while [ ! -e $d/go ]; do sleep 0.05; done; echo finished"
    )


def pid_in(folder: Path) -> int | None:
    try:
        return int((folder / "pid").read_text())
    except (OSError, ValueError):
        return None


def test_the_result_arrives_once_across_a_server_restart(tmp_path: Path) -> None:
    server = ServerProcess(home=tmp_path / "home", env=SERVER_ENV)
    server.start()
    agent: AgentProcess | None = None
    folder = tmp_path / "job"
    folder.mkdir()
    try:
        with api(server) as client:
            key = register_agent(client, "roamer")
            agent = AgentProcess([server.url], key, tmp_path / "roamer").start(connected=False)
            run_id = start_plan(
                client,
                "cut",
                [{"name": "j", "kind": "command", "agent": "roamer", "command": gated(folder)}],
            )
            pid = wait_for(lambda: pid_in(folder), 30, "the job to start")
        server.kill()  # the network is cut (the server dies): the agent cannot reach it
        (folder / "go").touch()
        wait_for(lambda: not alive(pid), 30, "the job to end while the server is away")
        wait_for(lambda: '"agent.disconnected"' in agent.output(), 30, "the agent to notice")
        server.start()
        with api(server) as client:
            done = wait_for(lambda: ended(client, run_id, "j"), 30, "the result to arrive")
            assert (done["status"], done["attempt"]) == ("COMPLETE", 1), done["reason"]
            assert output(client, done["id"]) == "started\nfinished\n"
    finally:
        if agent is not None:
            agent.stop()
        server.stop()


def test_a_graceful_stop_answers_open_claims_and_leaves_agents_job_runs_alone(
    tmp_path: Path,
) -> None:
    """SIGTERM to a server while an agent (spoken to directly) holds a job run and waits in
    a claim: the claim answers at once, empty — uvicorn waits for open requests before the
    application stops — and the stopping node does not resolve the job run as lost while
    nobody can renew its lease; after a restart the agent's result is recorded."""
    server = ServerProcess(home=tmp_path / "home", env=SERVER_ENV | {"JOBPLAN_LEASE_SECONDS": "4"})
    server.start()
    with api(server) as client:
        key = register_agent(client, "edge")
    agent = httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=60)

    def call(name: str, body: dict[str, Any]) -> Any:
        answer = agent.post(f"{server.url}/api/v1/agent/{name}", json=body)
        assert answer.status_code == 200, answer.text
        return answer.json()

    try:
        with api(server) as client:
            hello = {"protocol": 1, "host": "h", "version": "v", "slots": 1}
            call("hello", hello)
            run_id = start_plan(
                client, "stop", [{"name": "j", "kind": "command", "agent": "edge", "command": "x"}]
            )
            claimed = wait_for(
                lambda: call("claim", {"free": 1, "wait_seconds": 1})["assignments"], 30, "work"
            )
            holding = [{"job_run_id": claimed[0]["job_run_id"], "attempt": 1}]
            call("heartbeat", {"holding": holding})
            seen = client.get("/api/v1/agents/edge").json()["last_heartbeat"]
            with ThreadPoolExecutor(1) as pool:
                waiting = pool.submit(call, "claim", {"free": 1, "wait_seconds": 25})
                wait_for(  # the claim has reached the server (it records the contact)
                    lambda: client.get("/api/v1/agents/edge").json()["last_heartbeat"] != seen,
                    30,
                    "the claim to be waiting",
                )
                assert server.process is not None
                server.process.send_signal(signal.SIGTERM)
                assert waiting.result() == {"assignments": [], "stop": []}
            server.process.wait(30)
            server.stop()
            assert "Finished server process" in server.output()
        server.start()
        with api(server) as client:
            assert call("hello", {**hello, "holding": holding})["drop"] == []
            result = {"job_run_id": holding[0]["job_run_id"], "attempt": 1, "succeeded": True}
            [outcome] = call("results", {"results": [result]})["results"]
            assert outcome["outcome"] == "recorded", outcome
            done = wait_for(lambda: ended(client, run_id, "j"), 30, "the run to end")
            assert (done["status"], done["attempt"]) == ("COMPLETE", 1), done["reason"]
    finally:
        agent.close()
        server.stop()


@pytest.fixture
def pg(postgres_cluster: PostgresCluster) -> Iterator[str]:
    name = f"a_{uuid.uuid4().hex[:16]}"
    postgres_cluster.execute(f"CREATE DATABASE {name} TEMPLATE jobplan_template")
    try:
        yield postgres_cluster.url(name)
    finally:
        postgres_cluster.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.mark.postgres
def test_two_nodes_share_an_agent_that_fails_over_between_them(pg: str, tmp_path: Path) -> None:
    env = SERVER_ENV | {"JOBPLAN_DATABASE_URL": pg, "JOBPLAN_SECRET_KEY": "s" * 40}
    first = ServerProcess(home=tmp_path / "a", env=env)
    second = ServerProcess(home=tmp_path / "b", env=env)
    # one after the other: two first starts on one empty database race to create the
    # default tenant and the administrator, and the second exits
    first.start()
    second.start()
    agent: AgentProcess | None = None
    try:
        with api(first) as one, api(second) as two:
            key = register_agent(one, "shared")
            agent = AgentProcess([first.url, second.url], key, tmp_path / "agent-home")
            agent.start(connected=False)
            # a kill given to the node the agent does not talk to reaches it
            doomed = tmp_path / "doomed"
            doomed.mkdir()
            run_id = start_plan(
                two,
                "cross",
                [{"name": "j", "kind": "command", "agent": "shared", "command": gated(doomed)}],
            )
            pid = wait_for(lambda: pid_in(doomed), 30, "the job to start")
            jr = job_run(two, run_id, "j")
            assert two.post(f"/api/v1/job-runs/{jr['id']}/kill").status_code == 200
            wait_for(lambda: not alive(pid), 30, "the kill to reach the job")
            killed = wait_for(lambda: ended(two, run_id, "j"), 30, "the job run to end")
            assert killed["status"] == "KILLED", killed

            # its node stops while the job runs: the agent reports through the other one
            folder = tmp_path / "job"
            folder.mkdir()
            run_id = start_plan(
                one,
                "failover",
                [{"name": "j", "kind": "command", "agent": "shared", "command": gated(folder)}],
            )
            wait_for(lambda: pid_in(folder), 30, "the job to start")
        first.kill()  # the agent's node dies while the job runs
        (folder / "go").touch()
        with api(second) as two:
            done = wait_for(lambda: ended(two, run_id, "j"), 30, "the result, through node b")
            assert (done["status"], done["attempt"]) == ("COMPLETE", 1), done
            assert output(two, done["id"]) == "started\nfinished\n"
        hellos = [line for line in agent.output().splitlines() if '"agent.connected"' in line]
        assert second.url in hellos[-1]
    finally:
        if agent is not None:
            agent.stop()
        first.stop()
        second.stop()
