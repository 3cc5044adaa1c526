"""What the CLI prints against a real server: server and user text literally (brackets are not
Rich markup), jobs that never ran, kills, and the server found from JOBPLAN_HOST/PORT."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.api import wait_for
from support.server import ServerProcess, jobplan_cli
from support.zips import make_zip

ENV_ADMIN = {"JOBPLAN_ADMIN_USER": "root", "JOBPLAN_ADMIN_PASSWORD": "root-password-123"}
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

PLAN = """\
name: brackets
folder: demo
description: {description}
jobs:
  - name: sleeper
    kind: command
    agent: agent-prod
    command: echo "[bold]x[/] [[agent.name]]"; sleep 60
  - name: after
    kind: command
    command: echo done
    depends_on: sleeper
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(home=tmp_path_factory.mktemp("cli-text") / "home", env=ENV_ADMIN)
    process.start()
    yield process
    process.stop()


@pytest.fixture
def env(server: ServerProcess, tmp_path: Path) -> dict[str, str]:
    return {
        "JOBPLAN_URL": server.url,
        "JOBPLAN_USER": "root",
        "JOBPLAN_PASSWORD": "root-password-123",
        "JOBPLAN_CONFIG": str(tmp_path / "no-cli.toml"),
    }


def test_bracketed_server_text_is_printed_literally(env: dict[str, str], tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN.format(description="plain"))
    assert jobplan_cli("apply", "-f", str(plan), env=env).returncode == 0
    plan.write_text(PLAN.format(description="'uses [[agent.name]] on [/x] and [bold]y'"))
    changed = jobplan_cli("apply", "-f", str(plan), env=env)
    assert changed.returncode == 0, changed.stderr
    assert "[[agent.name]] on [/x] and [bold]y" in changed.stdout, changed.stdout

    # the job's agent becomes the token [[agent.name]]; importing without its value is refused
    # with a message that names the token as it is written
    bundle = tmp_path / "plans.zip"
    exported = jobplan_cli("export", "demo/brackets", "-o", str(bundle), "--tokens", env=env)
    assert exported.returncode == 0, exported.stderr
    refused = jobplan_cli("import", str(bundle), "--dry-run", env=env)
    assert refused.returncode == 1, refused.stdout
    assert "[[agent.name]]" in refused.stderr and "Traceback" not in refused.stderr

    # an entry whose name is a closing Rich tag used to crash with MarkupError
    with zipfile.ZipFile(bundle) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    odd = tmp_path / "odd.zip"
    odd.write_bytes(make_zip({**entries, "profiles/[/x].json": b"{}"}))
    imported = jobplan_cli("import", str(odd), "-t", "agent.name=a", "--dry-run", env=env)
    output = imported.stdout + imported.stderr
    assert "Traceback" not in output and "MarkupError" not in output, output
    assert "[/x]" in output, output


def test_logs_of_a_job_that_never_ran_and_kill_report(env: dict[str, str], tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN.format(description="logs"))
    assert jobplan_cli("apply", "-f", str(plan), env=env).returncode == 0
    started = jobplan_cli("runs", "start", "demo/brackets", "--force", env=env)
    assert started.returncode == 0, started.stderr
    run_id = re.findall(UUID, started.stdout)[0]

    def job_run(name: str, status: str) -> str | None:
        listing = jobplan_cli("runs", "status", run_id, env=env).stdout
        for row in listing.splitlines():
            if row.split()[:1] == [name] and status in row.split():
                return re.findall(UUID, row)[-1]
        return None

    sleeper = wait_for(lambda: job_run("sleeper", "RUNNING"), 30, "sleeper running")
    after = job_run("after", "WAITING")
    assert after is not None

    logs = jobplan_cli("runs", "logs", after, env=env)
    assert logs.returncode == 1
    assert f"job run {after} (after) has not run (it is WAITING)" in logs.stderr, logs.stderr

    output = wait_for(
        lambda: jobplan_cli("runs", "logs", sleeper, env=env).stdout or None, 30, "output"
    )
    assert "[bold]x[/] [[agent.name]]" in output

    killed = jobplan_cli("runs", "job", "kill", sleeper, env=env)
    assert killed.returncode == 0, killed.stderr
    assert f"kill job run {sleeper} (sleeper): done; it ended KILLED" in killed.stdout, (
        killed.stdout
    )
    assert "is now RUNNING" not in killed.stdout


def test_server_found_from_jobplan_host_and_port(server: ServerProcess, tmp_path: Path) -> None:
    env = {
        "JOBPLAN_HOST": "127.0.0.1",
        "JOBPLAN_PORT": str(server.port),
        "JOBPLAN_USER": "root",
        "JOBPLAN_PASSWORD": "root-password-123",
        "JOBPLAN_CONFIG": str(tmp_path / "no-cli.toml"),
    }
    listed = jobplan_cli("plans", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    wildcard = jobplan_cli("plans", "list", env={**env, "JOBPLAN_HOST": "0.0.0.0"})
    assert wildcard.returncode == 0, wildcard.stderr
    bad = jobplan_cli("plans", "list", env={**env, "JOBPLAN_PORT": "http"})
    assert bad.returncode == 2
    assert "JOBPLAN_PORT must be a port number" in bad.stderr


def test_ids_from_the_command_line_stay_one_path_segment(env: dict[str, str]) -> None:
    """``../plans`` as a run id must not reach /api/v1/plans (whose list the CLI would then
    read as a run and crash on)."""
    for args in (
        ("runs", "status", "../plans"),
        ("runs", "logs", "x/../../plans"),
        ("runs", "job", "kill", "../../plans/x"),
    ):
        result = jobplan_cli(*args, env=env)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr and "HTTP 404" in result.stderr, result.stderr
    dots = jobplan_cli("runs", "status", "..", env=env)
    assert dots.returncode == 2 and "run id must not be empty, '.' or '..'" in dots.stderr


def test_first_start_banner_is_not_folded(tmp_path: Path) -> None:
    """Written to a log file, the banner keeps each line whole: a URL or the reset command
    cut at 80 columns cannot be copied."""
    process = ServerProcess(home=tmp_path / "home")
    process.start()
    try:
        output = process.output()
    finally:
        process.stop()
    url = process.url
    assert f"serving on {url} (console at {url}/, API docs at {url}/docs)\n" in output
    user = re.search(r"  user: +(\S+)\n  password: \S{16,}\n", output)
    assert user, output
    assert f"(reset with: jobplan users reset-password {user[1]}).\n" in output
