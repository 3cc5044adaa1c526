"""Real ``jobplan agent`` processes against one real ``jobplan serve`` (SQLite) on loopback:
routing by name and by label (each job runs in its agent's folder), output read through the
API while the job still runs, an operator's kill and a plan run's stop reaching the job's
process group, an agent killed with -9 mid-job (its job dies with it and is retried on the
other agent of the label), a revoked agent disconnected (it kills its job and exits), an agent
stopped with SIGTERM (kills and reports its job, exits 0) and a plan for an offline agent
waiting, visibly (reason and agent_offline flag), without running until the agent comes."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.agent import AgentProcess, register_agent
from support.api import wait_for
from support.server import ServerProcess

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc, signals")

PASSWORD = "root-password-123"
SERVER_ENV = {
    "JOBPLAN_ADMIN_USER": "root",
    "JOBPLAN_ADMIN_PASSWORD": PASSWORD,
    # short, so a killed agent's job is retried soon; not shorter: on a loaded machine a
    # heartbeat answer may take seconds, and a lease must not run out while the agent lives
    "JOBPLAN_LEASE_SECONDS": "6",
    "JOBPLAN_AGENT_GRACE_SECONDS": "1",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    home = tmp_path_factory.mktemp("agents-e2e") / "home"
    process = ServerProcess(home=home, env=SERVER_ENV)
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def api(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, auth=("root", PASSWORD), timeout=30) as client:
        yield client


@pytest.fixture
def agents(server: ServerProcess, api: httpx.Client, tmp_path: Path) -> Iterator[Any]:
    """Registers and starts agents (``agents(name, *labels)``), without waiting for them to
    connect (a job routed to an agent waits for it anyway); stops them all at the end."""
    started: list[AgentProcess] = []

    def start(name: str, *labels: str) -> AgentProcess:
        key = register_agent(api, name, *labels)
        agent = AgentProcess([server.url], key, tmp_path / name)
        started.append(agent.start(connected=False))
        return agent

    yield start
    for agent in started:
        agent.stop()


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def start_plan(client: httpx.Client, name: str, jobs: list[dict[str, Any]], **policies: Any) -> str:
    created = client.post("/api/v1/plans", json={"name": name, "policies": policies, "jobs": jobs})
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


def read_pids(folder: Path, *names: str) -> list[int] | None:
    try:
        return [int((folder / name).read_text()) for name in names]
    except (OSError, ValueError):
        return None


def family(folder: Path) -> str:
    """A command that records its shell's and a child's pid, then waits for the child."""
    return (
        f"d={folder}; echo $$ > $d/shell.tmp && mv $d/shell.tmp $d/shell; "
        "sleep 300 & echo $! > $d/child.tmp && mv $d/child.tmp $d/child; wait"
    )


def test_jobs_run_on_the_agent_they_name_and_stream_their_output(
    api: httpx.Client, agents: Any, tmp_path: Path
) -> None:
    edge1 = agents("edge-1", "linux")
    edge2 = agents("edge-2", "linux", "gpu")
    go = tmp_path / "go"
    run_id = start_plan(
        api,
        "routed",
        [
            {
                "name": "by-name",
                "kind": "command",
                "agent": "edge-1",
                "command": f"pwd; echo first; while [ ! -e {go} ]; do sleep 0.05; done; "
                "echo second",
            },
            {"name": "by-label", "kind": "command", "agent": "label:gpu", "command": "pwd"},
        ],
    )
    by_name = wait_for(
        lambda: (jr := job_run(api, run_id, "by-name"))["status"] == "RUNNING" and jr,
        30,
        "the job to run on edge-1",
    )
    # the job cannot end before `go` exists: this output is read while it runs
    live = wait_for(lambda: "first" in (t := output(api, by_name["id"])) and t, 30, "live output")
    assert live.splitlines()[:2] == [str(edge1.workdir), "first"]
    assert job_run(api, run_id, "by-name")["status"] == "RUNNING"
    go.touch()
    done = wait_for(lambda: ended(api, run_id, "by-name"), 30, "the job to end")
    assert done["status"] == "COMPLETE", done
    assert output(api, done["id"]).splitlines() == [str(edge1.workdir), "first", "second"]
    labelled = wait_for(lambda: ended(api, run_id, "by-label"), 30, "the labelled job")
    assert labelled["status"] == "COMPLETE", labelled
    assert output(api, labelled["id"]).strip() == str(edge2.workdir)


def test_kill_and_stop_reach_the_jobs_process_group(
    api: httpx.Client, agents: Any, tmp_path: Path
) -> None:
    agents("edge-k", "linux")
    kill_or_stop(api, tmp_path / "kill", "kill")
    kill_or_stop(api, tmp_path / "stop", "stop")


def kill_or_stop(api: httpx.Client, folder: Path, how: str) -> None:
    folder.mkdir()
    job = {"name": "sleeper", "kind": "command", "agent": "edge-k", "command": family(folder)}
    run_id = start_plan(api, f"{how}-me", [job])
    pids = wait_for(lambda: read_pids(folder, "shell", "child"), 30, "the job to start")
    assert all(alive(pid) for pid in pids)
    if how == "kill":
        acted = api.post(f"/api/v1/job-runs/{job_run(api, run_id, 'sleeper')['id']}/kill")
    else:
        acted = api.post(f"/api/v1/runs/{run_id}/stop")
    assert acted.status_code == 200, acted.text
    wait_for(lambda: not any(alive(pid) for pid in pids), 30, "the process group to go")
    killed = wait_for(lambda: ended(api, run_id, "sleeper"), 30, "the job run to end")
    assert killed["status"] == "KILLED", killed


def test_an_agent_killed_with_minus_9_loses_its_job_to_another_agent_of_the_label(
    api: httpx.Client, agents: Any, tmp_path: Path
) -> None:
    pool = [agents("pool-1", "pool"), agents("pool-2", "pool")]
    folder = tmp_path / "runs"
    folder.mkdir()
    command = (
        f"d={folder}; a=$JOBPLAN_ATTEMPT; pwd > $d/where.$a; echo $$ > $d/tmp.$a; "
        "mv $d/tmp.$a $d/pid.$a; if [ $a = 1 ]; then exec sleep 300; fi"
    )
    run_id = start_plan(
        api,
        "pooled",
        [{"name": "work", "kind": "command", "agent": "label:pool", "command": command}],
        max_retries=1,
        retry_backoff_seconds=0,
    )
    (pid,) = wait_for(lambda: read_pids(folder, "pid.1"), 30, "the first attempt to start")
    first = next(a for a in pool if str(a.workdir) == (folder / "where.1").read_text().strip())
    other = next(a for a in pool if a is not first)
    first.signal(signal.SIGKILL)
    first.wait()
    wait_for(lambda: not alive(pid), 30, "the dead agent's job to die with it")
    done = wait_for(lambda: ended(api, run_id, "work"), 60, "the retry to end")
    assert (done["status"], done["attempt"]) == ("COMPLETE", 2), done
    assert (folder / "where.2").read_text().strip() == str(other.workdir)


def test_a_revoked_agent_kills_its_job_and_exits(
    api: httpx.Client, agents: Any, tmp_path: Path
) -> None:
    doomed = agents("doomed", "linux")
    folder = tmp_path / "pids"
    folder.mkdir()
    run_id = start_plan(
        api,
        "revoked",
        [{"name": "j", "kind": "command", "agent": "doomed", "command": family(folder)}],
    )
    pids = wait_for(lambda: read_pids(folder, "shell", "child"), 30, "the job to start")
    assert api.delete("/api/v1/agents/doomed").status_code == 200
    assert doomed.wait() == 3
    assert "the server refused the agent's key" in doomed.output()
    assert not any(alive(pid) for pid in pids)
    resolved = wait_for(lambda: ended(api, run_id, "j"), 30, "the job run to be resolved")
    assert resolved["status"] == "ERROR" and "revoked" in (resolved["reason"] or ""), resolved


def test_sigterm_kills_and_reports_the_running_job_then_exits_0(
    api: httpx.Client, agents: Any, tmp_path: Path
) -> None:
    leaving = agents("leaving", "linux")
    folder = tmp_path / "pids"
    folder.mkdir()
    run_id = start_plan(
        api,
        "graceful",
        [{"name": "j", "kind": "command", "agent": "leaving", "command": family(folder)}],
    )
    pids = wait_for(lambda: read_pids(folder, "shell", "child"), 30, "the job to start")
    leaving.signal(signal.SIGTERM)
    assert leaving.wait() == 0, leaving.output()
    assert not any(alive(pid) for pid in pids)
    # reported before the agent exited: no lease had to run out
    reported = ended(api, run_id, "j")
    assert reported is not None and reported["status"] == "ERROR", reported
    assert reported["reason"] == "the agent shut down while it ran"


def test_a_plan_for_an_offline_agent_waits_visibly_until_the_agent_comes(
    server: ServerProcess, api: httpx.Client, tmp_path: Path
) -> None:
    key = register_agent(api, "edge-off", "linux")
    marker = tmp_path / "ran"
    run_id = start_plan(
        api,
        "offline",
        [{"name": "j", "kind": "command", "agent": "edge-off", "command": f"pwd > {marker}"}],
    )
    waiting = wait_for(
        lambda: "agent_offline" in (jr := job_run(api, run_id, "j"))["flags"] and jr,
        30,
        "the job run to be flagged agent_offline",
    )
    assert waiting["status"] == "WAITING"
    assert waiting["reason"].startswith("waiting for agent edge-off"), waiting["reason"]
    assert not marker.exists()
    agent = AgentProcess([server.url], key, tmp_path / "edge-off").start()
    try:
        done = wait_for(lambda: ended(api, run_id, "j"), 30, "the job to run once it came")
        assert done["status"] == "COMPLETE", done
        assert marker.read_text().strip() == str(agent.workdir)
    finally:
        agent.stop()
