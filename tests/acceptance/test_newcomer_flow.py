"""The README's next steps, as a newcomer runs them against a real server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support.server import ServerProcess, jobplan_cli

PLAN_V1 = """\
name: hello
folder: demo
description: says hello after a time gate
jobs:
  - name: gate
    kind: time
    cron: "0/10 * * * * ?"
  - name: greet
    kind: command
    command: echo "hello $WHO"
    depends_on: gate
parameters:
  - name: WHO
    default: world
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(home=tmp_path / "home")
    process.start()
    yield process
    process.stop()


def test_first_start_prints_a_working_admin_password(server: ServerProcess) -> None:
    match = re.search(r"password: (\S+)", server.output())
    assert match, server.output()
    password = match.group(1)
    token = httpx.post(
        f"{server.url}/oauth/token",
        data={"grant_type": "password", "username": "admin", "password": password},
    )
    assert token.status_code == 200, token.text
    # the password is not written anywhere in the data folder
    for path in server.home.rglob("*"):
        if path.is_file():
            assert password.encode() not in path.read_bytes(), path


def test_restart_does_not_print_or_change_the_password(server: ServerProcess) -> None:
    first = re.search(r"password: (\S+)", server.output())
    assert first
    server.stop()
    again = ServerProcess(home=server.home, port=server.port)
    again.start()
    try:
        assert "password:" not in again.output()
        token = httpx.post(
            f"{again.url}/oauth/token",
            data={"grant_type": "password", "username": "admin", "password": first.group(1)},
        )
        assert token.status_code == 200
    finally:
        again.stop()


def test_key_apply_change_and_versions_through_the_cli(
    server: ServerProcess, tmp_path: Path
) -> None:
    match = re.search(r"password: (\S+)", server.output())
    assert match
    basic = {"JOBPLAN_URL": server.url, "JOBPLAN_USER": "admin", "JOBPLAN_PASSWORD": match[1]}

    created = jobplan_cli("keys", "create", "laptop", env=basic)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("jp_")
    with_key = {"JOBPLAN_URL": server.url, "JOBPLAN_API_KEY": key}

    plan_file = tmp_path / "hello.yaml"
    plan_file.write_text(PLAN_V1)
    first = jobplan_cli("apply", "-f", str(plan_file), env=with_key)
    assert first.returncode == 0, first.stderr
    assert "created plan demo/hello version 1.0.0" in first.stdout

    plan_file.write_text(PLAN_V1.replace("hello $WHO", "hi $WHO"))
    second = jobplan_cli("apply", "-f", str(plan_file), env=with_key)
    assert second.returncode == 0, second.stderr
    assert "version 1.0.1" in second.stdout
    assert "greet" in second.stdout  # what changed is printed

    same = jobplan_cli("apply", "-f", str(plan_file), env=with_key)
    assert "unchanged" in same.stdout

    versions = jobplan_cli("plans", "versions", "demo/hello", env=with_key)
    assert versions.returncode == 0, versions.stderr
    assert versions.stdout.index("1.0.1") < versions.stdout.index("1.0.0")

    listed = jobplan_cli("plans", "list", env=with_key)
    assert "demo/hello" in listed.stdout

    diff = jobplan_cli(
        "plans", "diff", "demo/hello", "--from", "1.0.0", "--to", "1.0.1", env=with_key
    )
    assert diff.returncode == 0, diff.stderr
    assert "greet" in diff.stdout

    shown = jobplan_cli("plans", "show", "demo/hello", env=with_key)
    assert "hi $WHO" in shown.stdout


def test_cli_reports_bad_plan_files_and_bad_credentials(
    server: ServerProcess, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: x\njobs:\n  - name: a\n    kind: command\n    command: x\n    depends_on: ghost\n"
    )
    result = jobplan_cli("apply", "-f", str(bad), env={"JOBPLAN_URL": server.url})
    assert result.returncode == 2
    assert "ghost" in result.stderr and "Traceback" not in result.stderr

    denied = jobplan_cli(
        "plans", "list", env={"JOBPLAN_URL": server.url, "JOBPLAN_API_KEY": "jp_abc_def"}
    )
    assert denied.returncode == 1
    assert "401" in denied.stderr


def test_offline_user_creation_then_login(tmp_path: Path) -> None:
    home = tmp_path / "offline"
    made = jobplan_cli(
        "users",
        "create",
        "ops",
        "--role",
        "operator",
        "--tenant",
        "prod",
        "--password-stdin",
        "--home",
        str(home),
        stdin="ops-password-1\n",
    )
    assert made.returncode == 0, made.stderr
    server = ServerProcess(home=home)
    server.start()
    try:
        token = httpx.post(
            f"{server.url}/oauth/token",
            data={"grant_type": "password", "username": "ops", "password": "ops-password-1"},
        )
        assert token.status_code == 200, token.text
        assert token.json()["tenant"] == "prod"
        # an existing tenant means no generated admin
        assert "password:" not in server.output()
    finally:
        server.stop()
    weak = jobplan_cli(
        "users", "create", "x", "--password-stdin", "--home", str(home), stdin="short\n"
    )
    assert weak.returncode == 2 and "at least 10" in weak.stderr
