"""Issue #5's newcomer flow against a real server: export a plan with tokens from the CLI,
import it into a second tenant with ``--token env.name=test --dry-run``, then for real, and
see it run there."""

from __future__ import annotations

import re
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support.server import ServerProcess, jobplan_cli

PLAN = """\
name: eod_PROD
folder: finance
description: end of day
jobs:
  - name: report
    kind: command
    command: echo "report for $REGION"
parameters:
  - name: REGION
    default: eu-prod
    per_environment: true
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(home=tmp_path / "home")
    process.start()
    yield process
    process.stop()


def test_export_with_tokens_then_dry_run_and_import_into_another_tenant(
    server: ServerProcess, tmp_path: Path
) -> None:
    match = re.search(r"password: (\S+)", server.output())
    assert match, server.output()
    prod = {"JOBPLAN_URL": server.url, "JOBPLAN_USER": "admin", "JOBPLAN_PASSWORD": match[1]}
    token = httpx.post(
        f"{server.url}/oauth/token",
        data={"grant_type": "password", "username": "admin", "password": match[1]},
    ).json()["access_token"]
    tenant = httpx.post(
        f"{server.url}/api/v1/tenants",
        headers={"Authorization": f"Bearer {token}"},
        json={"name": "test", "admin": {"username": "tester", "password": "tester-password-1"}},
    )
    assert tenant.status_code == 201, tenant.text
    test_env = {
        "JOBPLAN_URL": server.url,
        "JOBPLAN_USER": "tester",
        "JOBPLAN_PASSWORD": "tester-password-1",
        "JOBPLAN_TENANT": "test",  # a tenant's own user names its tenant to sign in
    }

    plan_file = tmp_path / "eod.yaml"
    plan_file.write_text(PLAN)
    assert jobplan_cli("apply", "-f", str(plan_file), env=prod).returncode == 0

    bundle = tmp_path / "plans.zip"
    exported = jobplan_cli(
        "export", "finance/eod_PROD", "-o", str(bundle), "--tokens", "--env-suffix", env=prod
    )
    assert exported.returncode == 0, exported.stderr
    assert "exported 1 plan(s)" in exported.stdout
    with zipfile.ZipFile(bundle) as archive:
        text = b"".join(
            archive.read(name) for name in archive.namelist() if name != "manifest.json"
        )
    assert b"[[env.name]]" in text and b"[[REGION]]" in text
    assert b"eu-prod" not in text and b"eod_PROD" not in text

    missing = jobplan_cli("import", str(bundle), "--token", "env.name=TEST", env=test_env)
    assert missing.returncode == 1
    assert "REGION" in missing.stderr and "Traceback" not in missing.stderr

    tokens = ["--token", "env.name=TEST", "--token", "REGION=eu-test"]
    dry = jobplan_cli("import", str(bundle), *tokens, "--dry-run", env=test_env)
    assert dry.returncode == 0, dry.stderr
    assert "finance/eod_TEST" in dry.stdout and "added" in dry.stdout
    assert "nothing was changed" in dry.stdout
    assert jobplan_cli("plans", "show", "finance/eod_TEST", env=test_env).returncode == 1

    real = jobplan_cli("import", str(bundle), *tokens, env=test_env)
    assert real.returncode == 0, real.stderr
    assert "imported: 1 added" in real.stdout
    shown = jobplan_cli("plans", "show", "finance/eod_TEST", env=test_env)
    assert shown.returncode == 0, shown.stderr
    assert "eu-test" in shown.stdout
    assert jobplan_cli("plans", "show", "finance/eod_TEST", env=prod).returncode == 1

    started = jobplan_cli("runs", "start", "finance/eod_TEST", env=test_env)
    assert started.returncode == 0, started.stderr
    run_id = re.search(r"run (\S+) of", started.stdout)
    assert run_id, started.stdout
    deadline = time.monotonic() + 30
    while True:
        status = jobplan_cli("runs", "status", run_id[1], env=test_env)
        if "COMPLETE" in status.stdout.split("\n", 1)[0] or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert "COMPLETE" in status.stdout, status.stdout
    job_run = re.search(r"report\s+command\s+COMPLETE\s+\d+\s+0\s+(\S+)", status.stdout)
    assert job_run, status.stdout
    logs = jobplan_cli("runs", "logs", job_run[1], env=test_env)
    assert "report for eu-test" in logs.stdout


def test_cli_refuses_bad_arguments_before_calling_a_server(tmp_path: Path) -> None:
    offline = {"JOBPLAN_URL": "http://127.0.0.1:9"}
    bundle = tmp_path / "b.zip"
    bundle.write_bytes(b"PK")
    cases = [
        (("import", str(tmp_path / "missing.zip")), "is not a file"),
        (("import", str(bundle), "--token", "novalue"), "NAME=VALUE"),
        (("import", str(bundle), "--on-conflict", "merge"), "abort, replace or add_version"),
        (("export", "a/b", "-o", str(bundle)), "pass --force"),
        (("export", "a/b", "-o", str(tmp_path / "no" / "x.zip")), "does not exist"),
    ]
    for args, words in cases:
        result = jobplan_cli(*args, env=offline)
        assert result.returncode == 2, (args, result.stderr)
        assert words in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    unreachable = jobplan_cli("import", str(bundle), env=offline)
    assert unreachable.returncode == 1
    assert "cannot reach" in unreachable.stderr
