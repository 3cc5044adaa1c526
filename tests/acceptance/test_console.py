"""The web console in real headless Chromium against a real ``jobplan serve``.

Playwright (pip) drives Debian's ``chromium`` (``scripts/install-system-deps.sh`` installs
it; ``playwright install`` cannot download here). One server and one browser per module;
each test signs in as a person would.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from support.server import ServerProcess

CHROMIUM = "/usr/bin/chromium"
ADMIN = ("root", "root-password-123")
expect.set_options(timeout=15_000)
VIEWER = ("watcher", "watcher-password-123")

# A plan the tests can start at will: `work` prints as it goes, `approve` waits for an
# operator (a manual job), as in the README walkthrough but without waiting for a window.
PLAN = {
    "name": "console-demo",
    "folder": "demo",
    "description": "Driven from the browser.",
    "parameters": [{"name": "REGION", "default": "emea"}],
    "policies": {"overlap": "skip"},
    "jobs": [
        {
            "name": "work",
            "kind": "command",
            "command": 'for i in 1 2 3 4 5 6; do echo "step $i of 6 in $REGION"; sleep 1; done',
        },
        {
            "name": "approve",
            "kind": "command",
            "startup": "manual",
            "depends_on": {"or": ["work", {"not": "work"}]},
            "command": "echo approved",
        },
    ],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    home = tmp_path_factory.mktemp("console") / "home"
    process = ServerProcess(
        home=home,
        env={"JOBPLAN_ADMIN_USER": ADMIN[0], "JOBPLAN_ADMIN_PASSWORD": ADMIN[1]},
    )
    process.start()
    with httpx.Client(base_url=process.url, auth=ADMIN, timeout=30) as api:
        assert api.post("/api/v1/plans/apply", json=PLAN).status_code == 200
        response = api.post(
            "/api/v1/users",
            json={"username": VIEWER[0], "password": VIEWER[1], "role": "viewer"},
        )
        assert response.status_code == 201, response.text
    yield process
    process.stop()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as instance:
        yield instance


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Browser, server: ServerProcess) -> Iterator[Page]:
    """A fresh browser context; every request it makes is recorded for the host check."""
    context = browser.new_context(base_url=server.url)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    requested: list[str] = []
    tab.on("request", lambda request: requested.append(request.url))
    tab.requested = requested  # type: ignore[attr-defined]
    yield tab
    hosts = {urlsplit(url).netloc for url in requested if not url.startswith("data:")}
    context.close()
    assert hosts <= {f"127.0.0.1:{server.port}"}, f"requests left the server: {hosts}"


def sign_in(page: Page, user: tuple[str, str], next_path: str = "/plans") -> None:
    page.goto(f"/signin?next={next_path}")
    page.get_by_label("User name").fill(user[0])
    page.get_by_label("Password").fill(user[1])
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(re.escape(next_path) + "$"))


def open_plan(page: Page) -> None:
    page.goto("/plans")
    page.get_by_role("link", name="demo/console-demo").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("demo/console-demo")


def test_wrong_password_shows_a_message_and_opens_no_session(page: Page) -> None:
    page.goto("/plans")
    expect(page).to_have_url(re.compile(r"/signin\?next=/plans$"))
    page.get_by_label("User name").fill(ADMIN[0])
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("user name or password is wrong")
    assert not [c for c in page.context.cookies() if c["name"] == "jobplan_session"]
    page.goto("/plans")
    expect(page).to_have_url(re.compile(r"/signin"))


def test_sign_in_sets_a_hardened_cookie_and_sign_out_ends_the_session(page: Page) -> None:
    sign_in(page, ADMIN)
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "jobplan_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    expect(page.get_by_role("heading", level=1)).to_have_text("Plans")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/signin$"))
    # the old cookie is revoked on the server, not merely forgotten by this browser
    page.context.add_cookies([cookie])
    page.goto("/plans")
    expect(page).to_have_url(re.compile(r"/signin"))


def test_plans_page_lists_the_plan_with_state_and_controls(page: Page) -> None:
    sign_in(page, ADMIN)
    row = page.get_by_role("row").filter(has_text="demo/console-demo")
    expect(row).to_contain_text("enabled")
    expect(row.get_by_role("button", name="Run now")).to_be_visible()
    page.get_by_label("Search").fill("no-such-plan")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No plans match")).to_be_visible()


def test_bulk_disable_and_enable(page: Page) -> None:
    sign_in(page, ADMIN)
    page.get_by_label("Select demo/console-demo").check()
    page.get_by_role("button", name="Disable selected").click()
    row = page.get_by_role("row").filter(has_text="demo/console-demo")
    expect(row).to_contain_text("disabled")
    page.get_by_label("Select demo/console-demo").check()
    page.get_by_role("button", name="Enable selected").click()
    expect(page.get_by_role("row").filter(has_text="demo/console-demo")).to_contain_text("enabled")


def test_plan_page_shows_graph_versions_and_the_run_form(page: Page) -> None:
    sign_in(page, ADMIN)
    open_plan(page)
    graph = page.locator("svg.graph")
    expect(graph.locator("g.node")).to_have_count(2)
    expect(graph.locator("path.edge-or")).to_have_count(1)
    expect(graph.locator("path.edge-not")).to_have_count(1)
    expect(page.get_by_label("REGION")).to_have_value("emea")
    expect(page.get_by_role("cell", name="1.0.0")).to_be_visible()
    expect(page.get_by_text("This plan has no window.")).to_be_visible()


def test_a_run_started_in_the_browser_updates_live_and_its_output_follows(page: Page) -> None:
    sign_in(page, ADMIN)
    open_plan(page)
    page.get_by_label("REGION").fill("apac")
    page.get_by_role("button", name="Run now", exact=True).click()
    expect(page).to_have_url(re.compile(r"/runs/[0-9a-f-]{36}$"))
    run_url = page.url
    work = page.locator('tr[data-job="work"]')
    # the state changes arrive over server-sent events: no reload in this test
    expect(work.locator("[data-status]")).to_have_attribute("data-status", "RUNNING")
    page.get_by_role("link", name="work").click()
    output = page.locator("#output")
    expect(output).to_contain_text("step 2 of 6 in apac")
    expect(output).to_contain_text("step 6 of 6 in apac", timeout=20_000)
    expect(page.locator("#follow-state")).to_have_text("finished")
    page.goto(run_url)
    approve = page.locator('tr[data-job="approve"]')
    expect(approve.locator("[data-status]")).to_have_attribute("data-status", "ON_HOLD")
    # actions shown are exactly those the state allows
    expect(approve.get_by_role("button", name="Release approve")).to_be_visible()
    expect(approve.get_by_role("button", name="Kill approve")).to_have_count(0)
    approve.get_by_role("button", name="Release approve").click()
    expect(approve.locator("[data-status]")).to_have_attribute("data-status", "COMPLETE")
    expect(page.locator("[data-run-status]")).to_have_attribute("data-run-status", "COMPLETE")
    expect(page.get_by_role("button", name="Stop run")).to_have_count(0)


def test_overlap_refusal_is_explained_and_force_starts_anyway(page: Page) -> None:
    sign_in(page, ADMIN)
    open_plan(page)
    page.get_by_role("button", name="Run now", exact=True).click()
    expect(page).to_have_url(re.compile(r"/runs/"))
    first_run = page.url
    open_plan(page)
    page.get_by_role("button", name="Run now", exact=True).click()
    expect(page.locator("#messages")).to_contain_text("overlap policy (skip)")
    page.get_by_label(re.compile("^Force")).check()
    page.get_by_role("button", name="Run now", exact=True).click()
    expect(page).to_have_url(re.compile(r"/runs/"))
    assert page.url != first_run
    # stop both so later tests start from quiet
    for url in (first_run, page.url):
        page.goto(url)
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Stop run").click()
        expect(page.get_by_role("button", name="Stop run")).to_have_count(0)


def test_a_refused_action_shows_the_service_message(page: Page) -> None:
    sign_in(page, ADMIN)
    open_plan(page)
    page.get_by_role("button", name="Run now", exact=True).click()
    expect(page).to_have_url(re.compile(r"/runs/"))
    approve_link = page.locator('tr[data-job="approve"] a')
    job_run = approve_link.get_attribute("href")
    assert job_run is not None
    token = page.evaluate("JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRF-Token']")
    answer = page.evaluate(
        """async ([url, token]) => {
            const r = await fetch(url, {method: 'POST', headers: {'X-CSRF-Token': token}});
            return [r.status, await r.text()];
        }""",
        [f"{job_run}/kill", token],
    )
    assert answer[0] == 409
    assert "cannot kill job run 'approve'" in html.unescape(answer[1])
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Stop run").click()
    expect(page.get_by_role("button", name="Stop run")).to_have_count(0)


def test_a_post_without_the_csrf_token_is_refused(page: Page, server: ServerProcess) -> None:
    sign_in(page, ADMIN)
    plan_link = page.get_by_role("link", name="demo/console-demo").get_attribute("href")
    status = page.evaluate(
        "async (url) => (await fetch(url, {method: 'POST'})).status", f"{plan_link}/run"
    )
    assert status == 403
    runs = httpx.get(f"{server.url}/api/v1/runs", auth=ADMIN, params={"status": "RUNNING"})
    assert runs.json() == []


def test_a_viewer_sees_no_controls_and_a_forged_action_is_refused(page: Page) -> None:
    sign_in(page, VIEWER)
    row = page.get_by_role("row").filter(has_text="demo/console-demo")
    expect(row).to_be_visible()
    expect(page.get_by_role("button", name="Run now")).to_have_count(0)
    expect(page.get_by_role("button", name="Disable selected")).to_have_count(0)
    open_plan(page)
    expect(page.get_by_role("button", name="Run now")).to_have_count(0)
    token = page.evaluate("JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRF-Token']")
    answer = page.evaluate(
        """async ([url, token]) => {
            const r = await fetch(url, {method: 'POST', headers: {'X-CSRF-Token': token}});
            return [r.status, await r.text()];
        }""",
        [page.url.split("?")[0] + "/run", token],
    )
    assert answer[0] == 403
    assert "does not allow 'runs:write'" in html.unescape(answer[1])


def test_cron_tool_explains_as_you_type(page: Page) -> None:
    sign_in(page, ADMIN, "/cron")
    expression = page.get_by_label("Expression")
    expression.fill("0 15 10 ? * 6#3")
    page.get_by_label("Time zone").fill("Europe/London")
    expect(page.locator("#cron-message")).to_contain_text("third Friday")
    expect(page.locator("#cron-fires li")).to_have_count(10)
    expression.fill("0 0 25 * * ?")
    expect(page.locator("#cron-message")).to_contain_text("hours '25': value must be 0-23")
    expect(page.locator("#cron-fires")).to_have_count(0)


def test_run_grid_and_job_run_page(page: Page) -> None:
    sign_in(page, ADMIN)
    open_plan(page)
    page.get_by_role("link", name="Run grid").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("run grid")
    expect(page.get_by_role("rowheader", name="work")).to_be_visible()
    cell = page.locator("table.run-grid tbody tr").first.locator("a.cell").first
    cell.click()
    expect(page).to_have_url(re.compile(r"/job-runs/[0-9a-f-]{36}$"))
    expect(page.get_by_role("link", name="Download the whole output")).to_be_visible()


def test_dark_mode_toggle_and_help_overlay(page: Page) -> None:
    sign_in(page, ADMIN)
    page.get_by_role("button", name="Switch light or dark theme").click()
    theme = page.evaluate("document.documentElement.dataset.theme")
    assert theme in ("dark", "light")
    page.reload()
    assert page.evaluate("document.documentElement.dataset.theme") == theme
    page.keyboard.press("?")
    expect(page.get_by_role("dialog")).to_be_visible()
    expect(page.get_by_role("dialog")).to_contain_text("Search plans")


def test_every_page_has_one_h1_and_labelled_controls(page: Page) -> None:
    sign_in(page, ADMIN)
    open_plan(page)
    plan_url = page.url
    pages = ("/plans", plan_url, f"{plan_url}/grid", "/cron", "/upcoming?hours=168", "/transfers")
    admin = ("/admin/keys", "/admin/users", "/admin/services", "/admin/notifications")
    for url in pages + admin:
        page.goto(url)
        assert page.locator("h1").count() == 1, url
        unlabelled = page.evaluate(
            """() => [...document.querySelectorAll('input:not([type=hidden]), select')]
                .filter(e => !e.labels.length && !e.getAttribute('aria-label'))
                .map(e => e.name)"""
        )
        assert unlabelled == [], (url, unlabelled)
        nameless = page.evaluate(
            """() => [...document.querySelectorAll('button, a')]
                .filter(e => !e.textContent.trim() && !e.getAttribute('aria-label'))
                .map(e => e.outerHTML)"""
        )
        assert nameless == [], (url, nameless)


def test_docs_images_exist_for_the_readme() -> None:
    images = Path(__file__).resolve().parents[2] / "docs" / "images"
    assert {"console-plans-light.png", "console-run-dark.png"} <= {
        p.name for p in images.glob("*.png")
    }


def test_admin_creates_a_key_shown_once_and_revokes_it(page: Page, server: ServerProcess) -> None:
    sign_in(page, ADMIN, "/admin/keys")
    page.get_by_label("Name").fill("browser-key")
    page.get_by_label("plans:read").check()
    page.get_by_role("button", name="Create key").click()
    key = page.locator("#new-key code").inner_text()
    assert key.startswith("jp_")
    assert httpx.get(f"{server.url}/api/v1/plans", headers={"X-API-Key": key}).status_code == 200
    page.goto("/admin/keys")
    expect(page.locator("#new-key")).to_have_count(0)  # shown once
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke key browser-key").click()
    expect(page.get_by_role("row").filter(has_text="browser-key")).to_contain_text("revoked")
    assert httpx.get(f"{server.url}/api/v1/plans", headers={"X-API-Key": key}).status_code == 401


def test_import_with_a_conflict_dry_run_then_replace(
    page: Page, server: ServerProcess, tmp_path: Path
) -> None:
    with httpx.Client(base_url=server.url, auth=ADMIN, timeout=30) as api:
        export = api.post("/api/v1/exports", json={"plans": ["demo/console-demo"]}).json()
        for _ in range(300):
            if api.get(export["status_url"]).json()["status"] == "completed":
                break
            page.wait_for_timeout(100)
        bundle = tmp_path / "console-demo.zip"
        bundle.write_bytes(api.get(f"/api/v1/exports/{export['id']}/file").content)
        changed = dict(PLAN, description="changed after the export")
        assert api.post("/api/v1/plans/apply", json=changed).status_code == 200
    sign_in(page, ADMIN, "/transfers")
    page.get_by_label("Bundle (.zip)").set_input_files(str(bundle))
    page.get_by_role("button", name="Dry run: show what would change").click()
    result = page.locator("#import-job")
    expect(result).to_contain_text("nothing was changed")
    expect(result.get_by_role("row").filter(has_text="demo/console-demo")).to_contain_text(
        "conflict"
    )
    page.get_by_label("When a plan exists and differs").select_option("replace")
    page.get_by_role("button", name="Import", exact=True).click()
    expect(result).to_contain_text("What the import did")
    expect(result.get_by_role("row").filter(has_text="demo/console-demo")).to_contain_text(
        "changed"
    )


def test_the_nodes_tab_shows_this_server_live(page: Page) -> None:
    sign_in(page, ADMIN, "/admin/keys")
    page.get_by_role("link", name="Nodes").click()
    expect(page.locator("h1")).to_have_text("Nodes")
    live = page.locator('tr[data-state="live"]')
    expect(live).to_have_count(1)
    expect(live).to_contain_text("scheduler")


def test_a_secret_is_set_in_the_browser_used_by_a_job_and_shown_nowhere(
    page: Page, server: ServerProcess
) -> None:
    value = "browser-s3cret-61c0"
    sign_in(page, ADMIN, "/admin/secrets")
    expect(page.get_by_label("Value")).to_have_attribute("type", "password")
    page.get_by_label("Name (letters, digits, _ . -)").fill("BROWSER_TOKEN")
    page.get_by_label("Value").fill(value)
    page.get_by_role("button", name="Store secret").click()
    expect(page.get_by_role("status")).to_contain_text("Secret BROWSER_TOKEN created")
    row = page.get_by_role("row").filter(has_text="BROWSER_TOKEN")
    expect(row).to_contain_text("${secret:BROWSER_TOKEN}")
    expect(row).to_contain_text("root")
    assert value not in page.content()
    plan = {
        "name": "secret-echo",
        "folder": "demo",
        "parameters": [{"name": "TOKEN", "default": "${secret:BROWSER_TOKEN}"}],
        "jobs": [{"name": "echo", "kind": "command", "command": 'echo "token=$TOKEN"'}],
    }
    with httpx.Client(base_url=server.url, auth=ADMIN, timeout=30) as api:
        applied = api.post("/api/v1/plans/apply", json=plan)
        assert applied.status_code == 200, applied.text
        started = api.post(f"/api/v1/plans/{applied.json()['plan']['id']}/runs", json={})
        assert started.status_code == 201, started.text
        run_id = started.json()["run"]["id"]
    page.goto(f"/runs/{run_id}")
    page.get_by_role("link", name="echo", exact=True).click()
    expect(page).to_have_url(re.compile(r"/job-runs/[0-9a-f-]{36}$"))
    expect(page.locator("body")).to_contain_text("token=***")
    assert value not in page.content()
    page.goto("/admin/secrets")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete secret BROWSER_TOKEN").click()
    expect(page.get_by_role("row").filter(has_text="BROWSER_TOKEN")).to_have_count(0)
