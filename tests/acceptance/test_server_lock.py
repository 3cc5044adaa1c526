"""One server per SQLite data folder, with real ``jobplan serve`` processes: a second one is
refused before it touches the first one's jobs, a ``kill -9`` frees the folder, and offline
admin commands keep working next to a running server."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx

from support.api import wait_for
from support.server import ServerProcess, _base_env, free_port, jobplan_cli

ENV_ADMIN = {"JOBPLAN_ADMIN_USER": "root", "JOBPLAN_ADMIN_PASSWORD": "root-password-123"}
PLAN = """\
name: long
jobs:
  - name: sleeper
    kind: command
    command: sleep 120
"""


def _serve(home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jobplan", "serve", "--port", str(free_port()), "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=60,
        env=_base_env(ENV_ADMIN),
    )


def test_second_server_on_a_folder_is_refused_and_kill_9_frees_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = ServerProcess(home=home, env=ENV_ADMIN)
    first.start()
    try:
        env = {"JOBPLAN_URL": first.url, "JOBPLAN_USER": "root"}
        env["JOBPLAN_PASSWORD"] = "root-password-123"
        plan = tmp_path / "long.yaml"
        plan.write_text(PLAN)
        assert jobplan_cli("apply", "-f", str(plan), env=env).returncode == 0
        started = jobplan_cli("runs", "start", "long", env=env)
        assert started.returncode == 0, started.stderr
        run_id = re.findall(r"run (\S+) of", started.stdout)[0]

        def sleeper_running() -> bool:
            return "RUNNING" in jobplan_cli("runs", "status", run_id, env=env).stdout

        wait_for(sleeper_running, 30, "the job to run")

        second = _serve(home)
        assert second.returncode == 1, second.stderr
        _assert_names_holder(second.stderr, home, first)
        assert "Traceback" not in second.stderr
        # the first server's job was left alone (not recovered as interrupted)
        status = jobplan_cli("runs", "status", run_id, env=env).stdout
        assert re.search(r"sleeper\s+command\s+RUNNING", status), status
        assert httpx.get(f"{first.url}/healthz").status_code == 200

        # offline administration still works, and says where it worked
        reset = jobplan_cli(
            "users",
            "reset-password",
            "root",
            "--password-stdin",
            "--home",
            str(home),
            stdin="new-root-password-456\n",
        )
        assert reset.returncode == 0, reset.stderr
        assert f"data folder {home.resolve()}" in reset.stderr.replace("\n", "")
        token = httpx.post(
            f"{first.url}/oauth/token",
            data={
                "grant_type": "password",
                "username": "root",
                "password": "new-root-password-456",
            },
        )
        assert token.status_code == 200, token.text
    finally:
        first.kill()  # kill -9: the kernel drops the lock with the process

    again = ServerProcess(home=home, env=ENV_ADMIN)
    again.start()
    again.stop()


def _assert_names_holder(message: str, home: Path, holder: ServerProcess) -> None:
    flat = " ".join(message.split())
    assert f"data folder {home.resolve()} is in use" in flat, flat
    assert holder.process is not None
    assert f"pid {holder.process.pid} " in flat, flat


def test_a_server_lock_is_only_taken_for_sqlite(tmp_path: Path) -> None:
    """Services on PostgreSQL take no folder lock (their nodes share one database)."""
    from jobplan.service.server_lock import ServerLock
    from jobplan.settings import Settings

    settings = Settings(
        home=tmp_path / "home",  # type: ignore[arg-type]
        database_url="postgresql+psycopg://u@127.0.0.1:1/db",
    )
    assert ServerLock.acquire(settings) is None
    sqlite = Settings(home=tmp_path / "home")  # type: ignore[arg-type]
    held = ServerLock.acquire(sqlite)
    assert held is not None and held.folder == (tmp_path / "home").resolve()
    held.release()
    ServerLock.acquire(sqlite).release()  # type: ignore[union-attr]
