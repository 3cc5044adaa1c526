"""A backfill started, previewed and cancelled from the plan page in headless Debian
Chromium against a real server: the preview lists the fire times and opens nothing, the
backfill shows its progress, and a cancel while its first run waits on a file leaves it the
only run. The engine's and API's behaviour is tested on both stores in tests/integration."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from support.api import wait_for
from support.server import ServerProcess

CHROMIUM = "/usr/bin/chromium"
ADMIN = ("root", "root-password-123")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(
        home=tmp_path / "home",
        env={"JOBPLAN_ADMIN_USER": ADMIN[0], "JOBPLAN_ADMIN_PASSWORD": ADMIN[1]},
    )
    try:
        process.start()
        yield process
    finally:
        process.stop()


@pytest.fixture
def page(server: ServerProcess) -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(base_url=server.url)
        context.set_default_timeout(15_000)
        yield context.new_page()
        browser.close()


def test_preview_start_and_cancel_a_backfill_from_the_plan_page(
    server: ServerProcess, page: Page, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    plan = {
        "name": "hourly",
        "folder": "etl",
        "jobs": [
            {
                "name": "load",
                "kind": "command",
                "command": f"while [ ! -f {go} ]; do sleep 0.05; done",
            }
        ],
        # fires in 2025 only: none of its own while the test runs
        "window": {"cron": "0 0 * * * ? 2025", "timezone": "Europe/Paris"},
    }
    with httpx.Client(base_url=server.url, auth=ADMIN, timeout=30) as api:
        created = api.post("/api/v1/plans", json=plan)
        assert created.status_code == 201, created.text
        plan_id = created.json()["id"]

        page.goto(f"/signin?next=/plans/{plan_id}")
        page.get_by_label("User name").fill(ADMIN[0])
        page.get_by_label("Password").fill(ADMIN[1])
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("etl/hourly")
        expect(page.get_by_text("No backfills yet.")).to_be_visible()

        form = page.get_by_role("form", name="Start a backfill")
        form.get_by_label("From (included)").fill("2025-06-01T06:00:00")
        form.get_by_label("To (excluded)").fill("2025-06-01T09:00:00")
        form.get_by_role("button", name="Preview fire times").click()
        preview = page.locator("#backfill-preview")
        expect(preview.get_by_role("heading")).to_have_text("3 fire times in Europe/Paris")
        expect(preview.get_by_role("listitem")).to_have_text(
            [f"2025-06-01 0{hour}:00:00 CEST" for hour in (6, 7, 8)]
        )
        assert api.get("/api/v1/backfills").json() == [], "a preview opens nothing"

        # a refusal is shown as a message
        form.get_by_label("To (excluded)").fill("2025-06-01T05:00:00")
        form.get_by_role("button", name="Start backfill").click()
        expect(page.get_by_role("alert")).to_contain_text("must be after start")
        form.get_by_label("To (excluded)").fill("2025-06-01T09:00:00")

        form.get_by_role("button", name="Start backfill").click()
        row = page.get_by_role("table", name="Backfills").get_by_role("row").nth(1)
        expect(row).to_contain_text("running")
        expect(row).to_contain_text("1 of 3 opened, 1 open, 0 done")
        (backfill,) = api.get("/api/v1/backfills").json()

        page.once("dialog", lambda dialog: dialog.accept())
        row.get_by_role("button", name="Cancel backfill").click()
        expect(row).to_contain_text(re.compile(r"cancelled — cancelled by root"))
        expect(row.get_by_role("button", name="Cancel backfill")).to_have_count(0)

        go.touch()
        ended = wait_for(
            lambda: (lambda b: b if b["done"] == 1 else None)(
                api.get(f"/api/v1/backfills/{backfill['id']}").json()
            ),
            60,
            "the cancelled backfill's run to end",
        )
        assert (ended["state"], ended["opened"], ended["total"]) == ("cancelled", 1, 3)
        runs = api.get("/api/v1/runs", params={"plan": plan_id}).json()
        assert [(r["trigger"], r["scheduled_for"]) for r in runs] == [
            ("backfill", "2025-06-01T04:00:00Z")
        ]
