"""Notifications against a real ``jobplan serve``: a failing run posts to a real webhook, and
``jobplan notifications list`` shows the delivery."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.server import ServerProcess, jobplan_cli


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(home=tmp_path / "home")
    process.start()
    yield process
    process.stop()


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/hook", received
    httpd.shutdown()
    httpd.server_close()


def test_a_failed_run_is_told_and_listed_by_the_cli(
    server: ServerProcess, webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    match = re.search(r"password: (\S+)", server.output())
    assert match, server.output()
    env = {"JOBPLAN_URL": server.url, "JOBPLAN_USER": "admin", "JOBPLAN_PASSWORD": match[1]}
    url, received = webhook
    token = httpx.post(
        f"{server.url}/oauth/token",
        data={"grant_type": "password", "username": "admin", "password": match[1]},
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    plan = {
        "name": "nightly",
        "folder": "ops",
        "jobs": [{"name": "load", "kind": "command", "command": "echo loading; exit 2"}],
        "notifications": {"on_failure": [url]},
    }
    created = httpx.post(f"{server.url}/api/v1/plans", headers=headers, json=plan)
    assert created.status_code == 201, created.text
    started = jobplan_cli("runs", "start", "ops/nightly", env=env)
    assert started.returncode == 0, started.stderr

    deadline = time.monotonic() + 30
    while not received and time.monotonic() < deadline:
        time.sleep(0.1)
    assert received, "the webhook was not called"
    assert received[0]["event"] == "run_failed" and received[0]["plan"] == "ops/nightly"
    assert received[0]["failed_jobs"] == ["load"]

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        listed = jobplan_cli("notifications", "list", "--status", "sent", env=env)
        if "run_failed" in listed.stdout:
            break
        time.sleep(0.2)
    assert listed.returncode == 0, listed.stderr
    assert "run_failed" in listed.stdout and "ops/nightly" in listed.stdout
    assert "/hook" in listed.stdout

    wrong = jobplan_cli("notifications", "list", "--status", "lost", env=env)
    assert wrong.returncode != 0
    assert "status" in wrong.stderr and "pending, sent, failed" in wrong.stderr
