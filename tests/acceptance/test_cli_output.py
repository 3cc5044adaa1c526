"""The CLI in scripts, against one real ``jobplan serve``: ``-o json`` and ``-o yaml`` print
the API's own answer, ``--exit-code`` exits as ``git diff --exit-code``, ``runs status
--status/--wait``, users managed through the API, and tables piped whole."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from support.api import wait_for
from support.server import ServerProcess, jobplan_cli

PASSWORD = "root-password-123"
ENV_ADMIN = {"JOBPLAN_ADMIN_USER": "root", "JOBPLAN_ADMIN_PASSWORD": PASSWORD}
LONG_FOLDER = "reporting/end-of-day/settlement-and-reconciliation-for-every-region"
LONG_COMMENT = "nightly settlement, reconciled against the ledger of every region " * 2


@dataclass
class World:
    server: ServerProcess
    env: dict[str, str]
    api: httpx.Client
    plan_id: str
    run_id: str
    failed_run_id: str
    user_id: str
    tmp: Path
    first: str = ""
    second: str = ""

    def cli(self, *args: str, stdin: str | None = None) -> Any:
        return jobplan_cli(*args, env=self.env, stdin=stdin)

    def get(self, path: str, **params: Any) -> Any:
        response = self.api.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()


def _plan(command: str, *, folder: str, name: str, description: str = "") -> str:
    return yaml.safe_dump(
        {
            "name": name,
            "folder": folder,
            "description": description,
            "jobs": [{"name": "work", "kind": "command", "command": command}],
        }
    )


@pytest.fixture(scope="module")
def hook() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/hook"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, hook: str) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("cli-output")
    server = ServerProcess(home=tmp / "home", env=ENV_ADMIN)
    server.start()
    env = {
        "JOBPLAN_URL": server.url,
        "JOBPLAN_USER": "root",
        "JOBPLAN_PASSWORD": PASSWORD,
        "JOBPLAN_CONFIG": str(tmp / "no-cli.toml"),
    }
    api = httpx.Client(base_url=server.url, auth=("root", PASSWORD), timeout=30)
    try:
        plan = tmp / "plan.yaml"
        plan.write_text(_plan("echo one", folder=LONG_FOLDER, name="settle"))
        assert jobplan_cli("apply", "-f", str(plan), env=env).returncode == 0
        plan.write_text(_plan("echo two", folder=LONG_FOLDER, name="settle"))
        applied = jobplan_cli("apply", "-f", str(plan), "--comment", LONG_COMMENT, env=env)
        assert applied.returncode == 0, applied.stderr
        failing = {
            "name": "broken",
            "folder": "ops",
            "jobs": [{"name": "load", "kind": "command", "command": "exit 3"}],
            "notifications": {"on_failure": [hook]},
        }
        assert api.post("/api/v1/plans", json=failing).status_code == 201
        assert api.put("/api/v1/services/ledger", json={"base_url": hook}).is_success
        key = jobplan_cli("keys", "create", "ci", "--scope", "plans:read", env=env)
        assert key.returncode == 0, key.stderr
        user = api.post(
            "/api/v1/users",
            json={"username": "viewer1", "password": "viewer-password-1", "role": "viewer"},
        )
        assert user.status_code == 201, user.text

        started = jobplan_cli("runs", "start", f"{LONG_FOLDER}/settle", "-o", "json", env=env)
        assert started.returncode == 0, started.stderr
        run_id = json.loads(started.stdout)["run"]["id"]
        plan_id = json.loads(started.stdout)["run"]["plan_id"]
        failed = jobplan_cli("runs", "start", "ops/broken", "-o", "json", env=env)
        failed_run_id = json.loads(failed.stdout)["run"]["id"]

        def settled() -> bool:
            runs = api.get("/api/v1/runs").json()
            sent = api.get("/api/v1/notifications", params={"status": "sent"}).json()
            return all(run["status"] not in ("QUEUED", "RUNNING") for run in runs) and bool(sent)

        wait_for(settled, 60, "both runs ended and the failure told")
        versions = api.get(f"/api/v1/plans/{plan_id}/versions").json()
        second, first = (item["version"] for item in versions)  # newest first
        yield World(
            server,
            env,
            api,
            plan_id,
            run_id,
            failed_run_id,
            user.json()["id"],
            tmp,
            first,
            second,
        )
    finally:
        api.close()
        server.stop()


# (command line, API path, API query): each list and show command and the request it makes
COMMANDS: list[tuple[tuple[str, ...], str, dict[str, Any]]] = [
    (("plans", "list"), "/api/v1/plans", {"limit": 100, "recursive": False}),
    (("plans", "list", "--folder", "ops"), "/api/v1/plans", {"folder": "ops", "limit": 100}),
    (("plans", "show", "{plan}"), "/api/v1/plans/{plan_id}", {}),
    (
        ("plans", "show", "{plan}", "--version", "{first}"),
        "/api/v1/plans/{plan_id}/versions/{first}",
        {},
    ),
    (("plans", "versions", "{plan}"), "/api/v1/plans/{plan_id}/versions", {}),
    (("keys", "list"), "/api/v1/api-keys", {}),
    (("runs", "status"), "/api/v1/runs", {"limit": 20}),
    (("runs", "status", "{run}"), "/api/v1/runs/{run}", {}),
    (("services", "list"), "/api/v1/services", {"limit": 500}),
    (("notifications", "list"), "/api/v1/notifications", {"limit": 50}),
    (("users", "list"), "/api/v1/users", {"limit": 100, "offset": 0}),
    (("users", "show", "viewer1"), "/api/v1/users/{user}", {}),
]


def _fill(world: World, text: str) -> str:
    return text.format(
        plan=f"{LONG_FOLDER}/settle",
        plan_id=world.plan_id,
        run=world.run_id,
        user=world.user_id,
        first=world.first,
    )


@pytest.mark.parametrize(
    ("args", "path", "params"), COMMANDS, ids=[" ".join(c[0][:2]) for c in COMMANDS]
)
def test_json_is_the_api_answer(
    world: World, args: tuple[str, ...], path: str, params: dict[str, Any]
) -> None:
    result = world.cli(*(_fill(world, a) for a in args), "-o", "json")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed == world.get(_fill(world, path), **params)
    assert printed  # something to compare: every listing here has items


@pytest.mark.parametrize(
    ("args", "path", "params"),
    [COMMANDS[0], COMMANDS[2], COMMANDS[7]],
    ids=["plans list", "plans show", "runs status RUN"],
)
def test_yaml_is_the_same_data(
    world: World, args: tuple[str, ...], path: str, params: dict[str, Any]
) -> None:
    result = world.cli(*(_fill(world, a) for a in args), "--output", "yaml")
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout) == world.get(_fill(world, path), **params)


def test_piped_tables_keep_whole_values(world: World) -> None:
    """Standard output is a pipe and COLUMNS=80: every row is still one line, every value
    whole (Rich used to fold the path and comment columns at 80)."""
    listed = world.cli("plans", "list")
    row = next(line for line in listed.stdout.splitlines() if "settle" in line)
    assert f"{LONG_FOLDER}/settle" in row and world.plan_id in row
    versions = world.cli("plans", "versions", f"{LONG_FOLDER}/settle")
    lines = versions.stdout.splitlines()
    assert len(lines) == 3, versions.stdout  # the header and one line per version
    assert LONG_COMMENT.strip() in lines[1]


def test_apply_prints_the_api_answer(world: World) -> None:
    same = world.tmp / "again.yaml"
    same.write_text(_plan("echo two", folder=LONG_FOLDER, name="settle"))
    applied = world.cli("apply", "-f", str(same), "-o", "json")
    assert applied.returncode == 0, applied.stderr
    result = json.loads(applied.stdout)
    assert (result["created"], result["changed"], result["changes"]) == (False, False, [])
    assert result["plan"] == world.get(f"/api/v1/plans/{world.plan_id}")


def test_plans_diff_exit_code(world: World) -> None:
    plan = f"{LONG_FOLDER}/settle"
    same = world.tmp / "same.yaml"
    same.write_text(_plan("echo two", folder=LONG_FOLDER, name="settle"))
    assert world.cli("plans", "diff", plan, "-f", str(same), "--exit-code").returncode == 0
    versions = ("--from", world.first, "--to", world.second)
    differs = world.cli("plans", "diff", plan, *versions, "--exit-code")
    assert differs.returncode == 1, differs.stderr
    assert "echo one" in differs.stdout and "echo two" in differs.stdout
    # without --exit-code differences are a success, as before
    assert world.cli("plans", "diff", plan, *versions).returncode == 0
    # errors never exit 1 under --exit-code: 2 bad input, 3 refused by the server
    assert world.cli("plans", "diff", plan, "--exit-code").returncode == 2
    missing = world.cli(
        "plans", "diff", plan, "--from", "9.9.9", "--to", world.second, "--exit-code"
    )
    assert missing.returncode == 3 and "HTTP 404" in missing.stderr
    assert world.cli("plans", "diff", "no/such", "--to", "1.0.0", "--exit-code").returncode == 3
    assert world.cli("plans", "diff", "no/such", "--to", "1.0.0").returncode == 1


def test_import_dry_run_exit_code(world: World) -> None:
    bundle = world.tmp / "ops.zip"
    exported = world.cli("export", "ops/broken", "-o", str(bundle))
    assert exported.returncode == 0, exported.stderr
    unchanged = world.cli("import", str(bundle), "--dry-run", "--exit-code", "-o", "json")
    assert unchanged.returncode == 0, unchanged.stderr
    job = json.loads(unchanged.stdout)
    assert job["status"] == "completed" and job["unchanged"] and not job["changed"]
    assert job == world.get(f"/api/v1/imports/{job['id']}")

    changed = {
        "name": "broken",
        "folder": "ops",
        "jobs": [{"name": "load", "kind": "command", "command": "exit 4"}],
    }
    assert world.api.post("/api/v1/plans/apply", json=changed).status_code == 200
    conflict = world.cli("import", str(bundle), "--dry-run", "--exit-code")
    assert conflict.returncode == 1, conflict.stderr
    assert "conflict" in conflict.stdout
    assert world.cli("import", str(bundle), "--dry-run").returncode == 0
    assert world.cli("import", str(bundle), "--exit-code").returncode == 2
    assert (
        world.cli("import", str(world.tmp / "none.zip"), "--dry-run", "--exit-code").returncode == 2
    )
    not_a_zip = world.tmp / "bad.zip"
    not_a_zip.write_text("not a zip")
    refused = world.cli("import", str(not_a_zip), "--dry-run", "--exit-code")
    assert refused.returncode == 3, (refused.stdout, refused.stderr)


def test_runs_status_word_and_wait(world: World) -> None:
    word = world.cli("runs", "status", world.run_id, "--status")
    assert (word.returncode, word.stdout) == (0, "COMPLETE\n"), word.stderr
    failed = world.cli("runs", "status", world.failed_run_id, "--status", "--wait")
    assert (failed.returncode, failed.stdout) == (1, "ERROR\n"), failed.stderr

    started = world.cli("runs", "start", f"{LONG_FOLDER}/settle", "-o", "json")
    run_id = json.loads(started.stdout)["run"]["id"]
    waited = world.cli("runs", "status", run_id, "--wait", "-o", "json")
    assert waited.returncode == 0, waited.stderr
    assert json.loads(waited.stdout) == world.get(f"/api/v1/runs/{run_id}")
    assert json.loads(waited.stdout)["status"] == "COMPLETE"

    assert world.cli("runs", "status", "--status").returncode == 2
    assert world.cli("runs", "status", run_id, "--status", "-o", "json").returncode == 2


def test_users_managed_through_the_api(world: World) -> None:
    secret = "ops-password-123"
    created = world.cli(
        "users",
        "create",
        "ops1",
        "--role",
        "operator",
        "--password-stdin",
        "-o",
        "json",
        stdin=f"{secret}\n",
    )
    assert created.returncode == 0, created.stderr
    user = json.loads(created.stdout)
    assert user["username"] == "ops1" and user["role"] == "operator"
    assert secret not in created.stdout + created.stderr
    assert httpx.get(f"{world.server.url}/api/v1/users/me", auth=("ops1", secret)).is_success

    role = world.cli("users", "role", "ops1", "viewer")
    assert role.returncode == 0, role.stderr
    assert "user 'ops1' now: viewer" in role.stdout
    disabled = world.cli("users", "disable", user["id"], "-o", "json")
    assert json.loads(disabled.stdout) == world.get(f"/api/v1/users/{user['id']}")
    assert json.loads(disabled.stdout)["disabled"] is True
    denied = httpx.get(f"{world.server.url}/api/v1/users/me", auth=("ops1", secret))
    assert denied.status_code == 401
    assert world.cli("users", "enable", "ops1").returncode == 0
    assert httpx.get(f"{world.server.url}/api/v1/users/me", auth=("ops1", secret)).is_success

    listed = world.cli("users", "list")
    assert "ops1" in listed.stdout and "viewer1" in listed.stdout
    assert world.cli("users", "role", "ghost", "admin").returncode == 1
    assert world.cli("users", "role", "ops1", "king").returncode == 2
    offline_only = world.cli(
        "users", "create", "x", "--tenant", "t", "--password-stdin", stdin="p\n"
    )
    assert offline_only.returncode == 2 and "--offline" in offline_only.stderr
    weak = world.cli("users", "create", "ops2", "--password-stdin", stdin="short\n")
    assert weak.returncode == 1 and "at least 10" in weak.stderr, weak.stderr
