"""Take the README's console screenshots (docs/images/console-*-{light,dark}.png).

Starts a throwaway ``jobplan serve`` on a free port, applies the documentation's example
plans, runs one, and photographs the main pages in light and dark mode with headless
Chromium (Debian's ``chromium``, driven by pip ``playwright``). Run: ``make screenshots``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
USER, PASSWORD = "admin", "screenshot-password-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main() -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    home = Path(tempfile.mkdtemp(prefix="jobplan-shots-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBPLAN_")}
    env.update(JOBPLAN_ADMIN_USER=USER, JOBPLAN_ADMIN_PASSWORD=PASSWORD)
    server = subprocess.Popen(
        [sys.executable, "-m", "jobplan", "serve", "--port", str(port), "--home", str(home)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        api = httpx.Client(base_url=base, auth=(USER, PASSWORD), timeout=30)
        for name in ("hello.yaml", "nightly.yaml", "walkthrough.yaml", "my-first-job-plan.yaml"):
            document = yaml.safe_load((ROOT / "docs" / "examples" / name).read_text())
            body = json.loads(json.dumps(document, default=str))  # YAML dates as text
            api.post("/api/v1/plans/apply", json=body).raise_for_status()
        plan = api.get("/api/v1/plans", params={"name": "walkthrough"}).json()[0]
        for _ in range(3):
            api.post(f"/api/v1/plans/{plan['id']}/runs", json={"force": True}).raise_for_status()
        time.sleep(12)  # the gate opens, `work` runs and prints
        run = api.get("/api/v1/runs", params={"plan": plan["id"]}).json()[0]
        job_runs = api.get(f"/api/v1/runs/{run['id']}").json()["jobs"]
        work = next(job for job in job_runs if job["job_name"] == "work")
        IMAGES.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--no-sandbox"]
            )
            for scheme in ("light", "dark"):
                context = browser.new_context(
                    base_url=base,
                    color_scheme=scheme,
                    viewport={"width": 1280, "height": 800},
                    timezone_id="Europe/London",
                )
                page = context.new_page()
                page.goto("/signin")
                page.get_by_label("User name").fill(USER)
                page.get_by_label("Password").fill(PASSWORD)
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_url("**/plans")
                pages = {
                    "plans": "/plans",
                    "plan": f"/plans/{plan['id']}",
                    "run": f"/runs/{run['id']}",
                    "grid": f"/plans/{plan['id']}/grid",
                    "output": f"/job-runs/{work['id']}",
                    "cron": "/cron?expression=0+15+10+%3F+*+6%233&tz=Europe%2FLondon",
                    "upcoming": "/upcoming?hours=24",
                    "transfers": "/transfers",
                    "admin": "/admin/keys",
                }
                for name, url in pages.items():
                    page.goto(url)
                    page.wait_for_load_state("networkidle")
                    page.screenshot(path=str(IMAGES / f"console-{name}-{scheme}.png"))
                context.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"screenshots written to {IMAGES}")


if __name__ == "__main__":
    main()
