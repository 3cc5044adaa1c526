"""kill -9 the server mid-work, restart it, and check nothing is lost, doubled or left hanging."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from support.api import wait_for
from support.server import ServerProcess

ADMIN = {
    "JOBPLAN_ADMIN_USER": "root",
    "JOBPLAN_ADMIN_PASSWORD": "root-password-123",
    # fires more than a second late count as missed, so a short outage is a misfire
    "JOBPLAN_MISFIRE_THRESHOLD_SECONDS": "1",
    "JOBPLAN_LEASE_SECONDS": "3",
}


def api(server: ServerProcess) -> httpx.Client:
    return httpx.Client(base_url=server.url, auth=("root", "root-password-123"), timeout=10)


def runs_of(client: httpx.Client, plan_id: str) -> list[dict[str, Any]]:
    response = client.get("/api/v1/runs", params={"plan": plan_id, "limit": 500})
    assert response.status_code == 200, response.text
    runs: list[dict[str, Any]] = response.json()
    return runs


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"


def test_kill_9_then_restart_recovers(tmp_path: Path) -> None:
    home = tmp_path / "home"
    pid_file = tmp_path / "child.pid"
    server = ServerProcess(home=home, env=ADMIN)
    server.start()
    try:
        with api(server) as client:
            ticker = client.post(
                "/api/v1/plans",
                json={
                    "name": "ticker",
                    "window": {"cron": "* * * * * ?"},
                    "policies": {"overlap": "allow", "misfire": "run_once"},
                    "jobs": [{"name": "tick", "kind": "command", "command": "true"}],
                },
            )
            assert ticker.status_code == 201, ticker.text
            ticker_id = ticker.json()["id"]
            long = client.post(
                "/api/v1/plans",
                json={
                    "name": "long",
                    "jobs": [
                        {
                            "name": "sleeper",
                            "kind": "command",
                            "command": f"echo $$ > {pid_file}; exec sleep 300",
                        }
                    ],
                },
            )
            long_id = long.json()["id"]
            started = client.post(f"/api/v1/plans/{long_id}/runs", json={})
            assert started.status_code == 201
            long_run = started.json()["run"]["id"]
            wait_for(
                lambda: pid_file.exists() and pid_file.read_text().strip(),
                what="the long job to start",
            )
            child = int(pid_file.read_text())
            wait_for(lambda: len(runs_of(client, ticker_id)) >= 3, what="a few ticks")
        server.kill()
        wait_for(lambda: not alive(child), 20, "the job's process to die with its server")
        down_at = time.time()
        time.sleep(4)  # an outage longer than the misfire threshold

        restarted = ServerProcess(home=home, env=ADMIN, port=server.port)
        restarted.start()
        server = restarted
        with api(server) as client:

            def interrupted() -> dict[str, Any] | None:
                run = client.get(f"/api/v1/runs/{long_run}").json()
                job = run["jobs"][0]
                return run if job["status"] == "ERROR" else None

            run = wait_for(interrupted, 30, "the interrupted job to be marked")
            assert "interrupted" in run["jobs"][0]["reason"]
            assert run["status"] == "ERROR"

            restart_at = time.time()
            wait_for(
                lambda: any(
                    r["created_at"]
                    and r["trigger"] == "schedule"
                    and _epoch(r["created_at"]) > restart_at
                    for r in runs_of(client, ticker_id)
                ),
                20,
                "the schedule to continue after the restart",
            )
            runs = runs_of(client, ticker_id)
            fires = Counter(r["scheduled_for"] for r in runs)
            assert max(fires.values()) == 1, "a fire time was run twice"
            catchup = [r for r in runs if r["trigger"] == "catchup"]
            assert len(catchup) == 1, "misfire policy run_once: exactly one catch-up run"
            assert _epoch(catchup[0]["scheduled_for"]) >= down_at - 1
    finally:
        server.stop()


def _epoch(value: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(value).timestamp()
