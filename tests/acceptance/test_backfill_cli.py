"""``jobplan runs backfill|backfills|backfill-cancel`` against a real ``jobplan serve`` on
SQLite and on PostgreSQL: the newcomer's "backfill last week of an hourly plan" in small —
a dry run lists the fire times and opens nothing, the backfill's runs each print their own
fire time, progress in table/JSON/YAML, cancel, and refusals with their messages."""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
import yaml

from support.api import wait_for
from support.server import ServerProcess, jobplan_cli

PASSWORD = "root-password-123"
#: each CLI call is a Python start-up: on a loaded machine the test needs more than the
#: suite's default 120 s
pytestmark = pytest.mark.timeout(300)


def test_backfill_from_the_cli(tmp_path: Path, database_url: str) -> None:
    env = {"JOBPLAN_ADMIN_USER": "root", "JOBPLAN_ADMIN_PASSWORD": PASSWORD}
    if database_url.startswith("postgresql"):
        env |= {"JOBPLAN_DATABASE_URL": database_url, "JOBPLAN_SECRET_KEY": "s" * 40}
    server = ServerProcess(home=tmp_path / "home", env=env)
    server.start()
    cli_env = {
        "JOBPLAN_URL": server.url,
        "JOBPLAN_USER": "root",
        "JOBPLAN_PASSWORD": PASSWORD,
        "JOBPLAN_CONFIG": str(tmp_path / "no-cli.toml"),
    }

    def cli(*args: str) -> str:
        done = jobplan_cli(*args, env=cli_env)
        assert done.returncode == 0, done.stderr
        return done.stdout

    stack = ExitStack()
    try:
        api = stack.enter_context(
            httpx.Client(base_url=server.url, auth=("root", PASSWORD), timeout=30)
        )
        created = api.post(
            "/api/v1/plans",
            json={
                "name": "hourly",
                "folder": "etl",
                "jobs": [
                    {
                        "name": "load",
                        "kind": "command",
                        "command": 'echo "loading $JOBPLAN_SCHEDULED_FOR"',
                    }
                ],
                "window": {"cron": "0 0 * * * ?", "timezone": "Europe/Paris"},
            },
        )
        assert created.status_code == 201, created.text
        # local times in the window's zone: 06:00-09:00 Paris is 05:00-08:00 UTC
        dry = cli(
            "runs",
            "backfill",
            "etl/hourly",
            "--from",
            "2026-11-02T06:00",
            "--to",
            "2026-11-02T09:00",
            "--dry-run",
        )
        assert "3 fire times (Europe/Paris); nothing opened" in dry
        assert "2026-11-02T06:00:00+01:00" in dry and "2026-11-02T08:00:00+01:00" in dry
        assert api.get("/api/v1/backfills").json() == []

        started = json.loads(
            cli(
                "runs",
                "backfill",
                "etl/hourly",
                "--from",
                "2026-11-02T06:00",
                "--to",
                "2026-11-02T09:00",
                "--max-active",
                "2",
                "-o",
                "json",
            )
        )
        backfill = started["backfill"]
        assert (backfill["total"], backfill["max_active"]) == (3, 2)

        def complete() -> bool:
            shown = api.get(f"/api/v1/backfills/{backfill['id']}").json()
            return bool(shown["state"] == "complete")

        wait_for(complete, 60, "the backfill to complete")
        done = yaml.safe_load(cli("runs", "backfills", backfill["id"], "-o", "yaml"))
        assert (done["opened"], done["done"], done["failed"]) == (3, 3, 0)
        table = cli("runs", "backfills", "--plan", "etl/hourly")
        assert backfill["id"] in table and "complete" in table

        # each run printed its own fire time (in the window's zone)
        runs = api.get("/api/v1/runs", params={"plan": backfill["plan_id"]}).json()
        printed = set()
        # (the window may also have fired on its own meanwhile: those are not the backfill's)
        for run in [r for r in runs if r["trigger"] == "backfill"]:
            job = api.get(f"/api/v1/runs/{run['id']}").json()["jobs"][0]
            printed.add(api.get(f"/api/v1/job-runs/{job['id']}/output").json()["text"].strip())
        assert printed == {f"loading 2026-11-02T0{hour}:00:00+01:00" for hour in (6, 7, 8)}

        # a backfill cancelled while its first run waits for a file: no other run opens
        go = tmp_path / "go"
        created = api.post(
            "/api/v1/plans",
            json={
                "name": "held",
                "folder": "etl",
                "jobs": [
                    {
                        "name": "wait",
                        "kind": "command",
                        "command": f"while [ ! -f {go} ]; do sleep 0.05; done",
                    }
                ],
                "window": {"cron": "0 0 * * * ?", "timezone": "Europe/Paris"},
            },
        )
        assert created.status_code == 201, created.text
        slow = json.loads(
            cli(
                "runs",
                "backfill",
                "etl/held",
                "--from",
                "2026-11-03",
                "--to",
                "2026-11-04",
                "-o",
                "json",
            )
        )["backfill"]
        cancelled = cli("runs", "backfill-cancel", slow["id"])
        assert f"backfill {slow['id']} cancelled: 1 of 24 fire times opened" in cancelled
        go.touch()
        ended = wait_for(
            lambda: (lambda b: b if b["done"] == 1 else None)(
                api.get(f"/api/v1/backfills/{slow['id']}").json()
            ),
            60,
            "the cancelled backfill's run to end",
        )
        assert (ended["state"], ended["opened"], ended["active"]) == ("cancelled", 1, 0)

        refused = jobplan_cli(
            "runs",
            "backfill",
            "etl/hourly",
            "--from",
            "2026-11-02",
            "--to",
            "2026-11-01",
            env=cli_env,
        )
        assert refused.returncode == 1 and "must be after start" in refused.stderr
        missing = jobplan_cli("runs", "backfill-cancel", "nope", env=cli_env)
        assert missing.returncode == 1 and "nope" in missing.stderr
    finally:
        stack.close()
        server.stop()
