"""A job process never outlives its node: ``kill -9`` a real ``jobplan serve`` while a command
job runs a child and a grandchild, and every one of those processes goes too — so a node that
retries the job (PostgreSQL) never overlaps an orphan of the dead one."""

from __future__ import annotations

import os
import signal
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.api import wait_for
from support.postgres import PostgresCluster
from support.server import ServerProcess

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc, signals")

ADMIN = {
    "JOBPLAN_ADMIN_USER": "root",
    "JOBPLAN_ADMIN_PASSWORD": "root-password-123",
    "JOBPLAN_LEASE_SECONDS": "2",
}


def api(server: ServerProcess) -> httpx.Client:
    return httpx.Client(base_url=server.url, auth=("root", "root-password-123"), timeout=10)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def family_command(folder: Path) -> str:
    """A shell that starts a child shell that starts a grandchild; each writes its pid, then
    they all sleep. Each attempt writes into its own numbered files."""
    return (
        f'n=$JOBPLAN_ATTEMPT; d={folder}; echo "$$" > $d/shell.$n; '
        f"sh -c 'echo $$ > {folder}/child.'$n'; "
        f"sh -c \"echo \\$\\$ > {folder}/grandchild.'$n'; exec sleep 300\" & "
        "wait' & wait"
    )


def pids(folder: Path, attempt: int) -> list[int] | None:
    names = [f"{kind}.{attempt}" for kind in ("shell", "child", "grandchild")]
    try:
        found = [int((folder / name).read_text()) for name in names]
    except (OSError, ValueError):
        return None
    return found


def start_family(client: httpx.Client, folder: Path, **policies: Any) -> str:
    plan = {
        "name": "family",
        "policies": policies,
        "jobs": [{"name": "family", "kind": "command", "command": family_command(folder)}],
    }
    created = client.post("/api/v1/plans", json=plan)
    assert created.status_code == 201, created.text
    started = client.post(f"/api/v1/plans/{created.json()['id']}/runs", json={})
    assert started.status_code == 201, started.text
    run_id: str = started.json()["run"]["id"]
    return run_id


def test_kill_9_of_the_node_kills_its_jobs_children_and_grandchildren(tmp_path: Path) -> None:
    folder = tmp_path / "pids"
    folder.mkdir()
    server = ServerProcess(home=tmp_path / "home", env=ADMIN)
    server.start()
    try:
        with api(server) as client:
            start_family(client, folder)
            family = wait_for(lambda: pids(folder, 1), 30, "the job's processes to start")
        assert all(alive(pid) for pid in family)
        assert server.process is not None
        os.kill(server.process.pid, signal.SIGKILL)  # the node only, as the OOM killer would
        server.process.wait()
        wait_for(lambda: not any(alive(pid) for pid in family), 20, "the job's processes to die")
    finally:
        server.stop()
        for pid in pids(folder, 1) or []:  # never leave sleepers behind, even on failure
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def pg(postgres_cluster: PostgresCluster) -> Iterator[str]:
    name = f"k_{uuid.uuid4().hex[:16]}"
    postgres_cluster.execute(f"CREATE DATABASE {name} TEMPLATE jobplan_template")
    try:
        yield postgres_cluster.url(name)
    finally:
        postgres_cluster.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.mark.postgres
def test_a_retry_on_another_node_never_overlaps_the_dead_nodes_job(pg: str, tmp_path: Path) -> None:
    folder = tmp_path / "pids"
    folder.mkdir()
    env = ADMIN | {"JOBPLAN_DATABASE_URL": pg, "JOBPLAN_SECRET_KEY": "s" * 40}
    first = ServerProcess(home=tmp_path / "a", env=env)
    first.start()
    second: ServerProcess | None = None
    try:
        with api(first) as client:
            run_id = start_family(client, folder, max_retries=1, retry_backoff_seconds=0)
            family = wait_for(lambda: pids(folder, 1), 30, "the first attempt to start")
        assert first.process is not None
        os.kill(first.process.pid, signal.SIGKILL)
        first.process.wait()
        second = ServerProcess(home=tmp_path / "b", env=env)
        second.start()
        wait_for(lambda: pids(folder, 2), 60, "the retry to start on the second node")
        # the retry's shell writes its pid first: by then the first attempt must be gone
        assert not any(alive(pid) for pid in family), "the retry overlaps the dead node's job"
        with api(second) as client:
            run = client.get(f"/api/v1/runs/{run_id}").json()
        job = run["jobs"][0]
        assert job["status"] == "RUNNING" and job["attempt"] == 2, job
    finally:
        for server in (first, second):
            if server is not None:
                server.stop()
        for attempt in (1, 2):
            for pid in pids(folder, attempt) or []:
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)
