"""The issue's "done when" for the audit log, against a real ``jobplan serve``: change a plan
with the CLI, then read who changed what with ``jobplan audit list -o json`` and export the
log as JSON Lines."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from support.server import ServerProcess, jobplan_cli


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(home=tmp_path / "home")
    process.start()
    yield process
    process.stop()


def test_who_changed_what_is_listed_and_exported(server: ServerProcess, tmp_path: Path) -> None:
    match = re.search(r"password: (\S+)", server.output())
    assert match, server.output()
    env = {"JOBPLAN_URL": server.url, "JOBPLAN_USER": "admin", "JOBPLAN_PASSWORD": match[1]}
    plan = {
        "name": "nightly",
        "folder": "ops",
        "jobs": [{"name": "gate", "kind": "time", "cron": "0 0 1 * * ?", "timezone": "UTC"}],
    }
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(plan))
    assert jobplan_cli("apply", "-f", str(path), env=env).returncode == 0
    plan["jobs"][0]["cron"] = "0 30 2 * * ?"  # type: ignore[index]
    path.write_text(yaml.safe_dump(plan))
    applied = jobplan_cli("apply", "-f", str(path), env=env)
    assert applied.returncode == 0, applied.stderr

    listed = jobplan_cli("audit", "list", "--action", "plan.apply", "-o", "json", env=env)
    assert listed.returncode == 0, listed.stderr
    records = json.loads(listed.stdout)
    assert [r["target"]["path"] for r in records] == ["ops/nightly", "ops/nightly"]
    newest = records[0]
    assert newest["actor"]["name"] == "admin" and newest["auth_method"] == "basic"
    assert newest["source"] == "127.0.0.1" and newest["user_agent"].startswith("jobplan-cli/")
    assert {
        "kind": "changed",
        "path": "jobs.gate.cron",
        "before": "0 0 1 * * ?",
        "after": "0 30 2 * * ?",
    } in newest["changes"]

    # the request id (on the request's log lines too) finds the record again
    assert newest["request_id"]
    joined = jobplan_cli(
        "audit", "list", "--request-id", newest["request_id"], "-o", "json", env=env
    )
    assert joined.returncode == 0, joined.stderr
    assert [r["id"] for r in json.loads(joined.stdout)] == [newest["id"]]

    table = jobplan_cli("audit", "list", "--target", "ops/nightly", env=env)
    assert table.returncode == 0, table.stderr
    assert "~ jobs.gate.cron: 0 0 1 * * ? -> 0 30 2 * * ?" in table.stdout

    exported = jobplan_cli("audit", "export", "--action", "plan.", env=env)
    assert exported.returncode == 0, exported.stderr
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [r["id"] for r in lines] == [r["id"] for r in reversed(records)]

    wrong = jobplan_cli("audit", "list", "--outcome", "maybe", env=env)
    assert wrong.returncode == 1 and "outcome" in wrong.stderr
