"""Re-running runs through the CLI (``jobplan runs rerun``) and the console's buttons (headless
Debian Chromium), against one real server: only the chosen jobs run again, counted by the
lines each execution appends to a file. Runs are started and awaited over HTTP (each CLI call
is a Python start-up); the store-level behaviour is tested on both stores in
tests/integration."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from support.api import wait_for
from support.server import ServerProcess, jobplan_cli

CHROMIUM = "/usr/bin/chromium"

ADMIN = {"JOBPLAN_ADMIN_USER": "root", "JOBPLAN_ADMIN_PASSWORD": "root-password-123"}


def _plan(log: Path, ok: Path, name: str = "nightly") -> dict[str, Any]:
    def step(name: str, then: str = "", **fields: Any) -> dict[str, Any]:
        return {"name": name, "kind": "command", "command": f"echo {name} >> {log}{then}"} | fields

    return {
        "name": name,
        "folder": "ops",
        "policies": {"on_error": "end"},
        "jobs": [
            step("extract"),
            step("load", f"; echo try $(grep -c load {log}); test -f {ok}", depends_on="extract"),
            step("report", depends_on="load"),
            step("audit"),
        ],
    }


def _ended(http: httpx.Client, run_id: str) -> str:
    def probe() -> str | None:
        run = http.get(f"/api/v1/runs/{run_id}").json()
        return str(run["status"]) if run["ended_at"] else None

    return wait_for(probe, 60, f"run {run_id} to end")


def _executions(log: Path) -> Counter[str]:
    return Counter(log.read_text().split())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(home=tmp_path_factory.mktemp("reruns") / "home", env=ADMIN)
    try:
        process.start()
        yield process
    finally:
        process.stop()


def test_rerun_failed_then_a_job_with_downstream(server: ServerProcess, tmp_path: Path) -> None:
    env = {
        "JOBPLAN_URL": server.url,
        "JOBPLAN_USER": "root",
        "JOBPLAN_PASSWORD": "root-password-123",
        "JOBPLAN_CONFIG": str(tmp_path / "no-cli.toml"),
    }
    log, ok = tmp_path / "log", tmp_path / "ok"
    http = httpx.Client(base_url=server.url, auth=("root", "root-password-123"), timeout=10)

    def cli(*args: str) -> tuple[int, str, str]:
        done = jobplan_cli(*args, env=env)
        return done.returncode, done.stdout, done.stderr

    def ended(run_id: str) -> str:
        return _ended(http, run_id)

    def executions() -> Counter[str]:
        return _executions(log)

    with http:
        plan = http.post("/api/v1/plans", json=_plan(log, ok)).json()
        run_id = http.post(f"/api/v1/plans/{plan['id']}/runs", json={}).json()["run"]["id"]
        assert ended(run_id) == "ERROR"
        assert executions() == {"extract": 1, "load": 1, "audit": 1}

        ok.touch()
        code, out, err = cli("runs", "rerun", run_id, "--failed")
        assert code == 0, err
        assert f"re-run 1 of run {run_id}" in out and "was ERROR): load run again" in out, out
        assert ended(run_id) == "COMPLETE"
        assert executions() == {"extract": 1, "load": 2, "report": 1, "audit": 1}

        code, out, err = cli("runs", "rerun", run_id, "--job", "load", "--downstream")
        assert code == 0, err
        assert "load, report run again" in out, out
        assert ended(run_id) == "COMPLETE"
        assert executions() == {"extract": 1, "load": 3, "report": 2, "audit": 1}

    code, out, _ = cli("runs", "reruns", run_id)
    assert code == 0 and "load 1: ERROR" in out and "load 2: COMPLETE" in out, out
    code, _, err = cli("runs", "rerun", run_id, "--job", "ghost", "--job", "load")
    assert code == 1 and "'ghost'" in err, err
    code, _, err = cli("runs", "rerun", run_id, "--all", "--job", "load")
    assert code == 2 and "choose one of" in err, err
    assert executions() == {"extract": 1, "load": 3, "report": 2, "audit": 1}


@pytest.fixture
def page(server: ServerProcess) -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(base_url=server.url)
        context.set_default_timeout(15_000)
        yield context.new_page()
        browser.close()


def test_console_buttons_rerun_failed_one_job_with_downstream_and_all(
    server: ServerProcess, page: Page, tmp_path: Path
) -> None:
    log, ok = tmp_path / "log", tmp_path / "ok"
    with httpx.Client(base_url=server.url, auth=("root", "root-password-123"), timeout=10) as http:
        plan = http.post("/api/v1/plans", json=_plan(log, ok, "console")).json()
        run_id = http.post(f"/api/v1/plans/{plan['id']}/runs", json={}).json()["run"]["id"]
        assert _ended(http, run_id) == "ERROR"

        page.goto(f"/signin?next=/runs/{run_id}")
        page.get_by_label("User name").fill("root")
        page.get_by_label("Password").fill("root-password-123")
        page.get_by_role("button", name="Sign in").click()
        state = page.locator("[data-run-status]")
        expect(state).to_have_attribute("data-run-status", "ERROR")
        expect(page.get_by_role("button", name="Re-run extract")).to_be_visible()

        ok.touch()
        page.get_by_role("button", name="Re-run failed").click()
        expect(state).to_have_attribute("data-run-status", "COMPLETE")
        assert _executions(log) == {"extract": 1, "load": 2, "report": 1, "audit": 1}
        expect(page.get_by_role("button", name="Re-run failed")).to_have_count(0)

        page.get_by_label("and the jobs that depend on them").check()
        page.get_by_role("button", name="Re-run load").click()
        wait_for(
            lambda: _executions(log)["report"] == 2, 60, "report to run again downstream of load"
        )
        assert _ended(http, run_id) == "COMPLETE"
        assert _executions(log) == {"extract": 1, "load": 3, "report": 2, "audit": 1}

        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Re-run all").click()
        wait_for(lambda: _executions(log)["extract"] == 2, 60, "every job to run again")
        assert _ended(http, run_id) == "COMPLETE"
        assert _executions(log) == {"extract": 2, "load": 4, "report": 3, "audit": 2}
        expect(state).to_have_attribute("data-run-status", "COMPLETE")
        # the history: each re-run, and every attempt's output, one click away
        expect(page.locator("[data-rerun]")).to_have_count(3)
        first = page.locator('[data-rerun="1"]')
        expect(first).to_contain_text("load attempt 1: ERROR")
        first.get_by_role("link", name="load attempt 1").click()
        expect(page.locator("#output")).to_have_text("try 1\n")
        page.get_by_role("link", name="attempt 3").click()
        expect(page.locator("#output")).to_have_text("try 3\n")
        reruns = http.get(f"/api/v1/runs/{run_id}/reruns").json()
        assert [(r["jobs_requested"], r["downstream"]) for r in reruns] == [
            ("failed", False),
            (["load"], True),
            ("all", False),
        ]
