"""The Volt MX seed's requests against a real ``jobplan serve``, with the service registry set
up through the CLI and a real HTTP service behind it."""

from __future__ import annotations

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

JOB = {
    "jobName": "weather",
    "jobFrequency": "0 0 3 * * ? *",
    "jobServiceInfo": {
        "version": "1.0",
        "serviceType": "intSer",
        "serviceName": "openweather",
        "objectName": "",
        "operationName": "getWeather",
        "requestheaderMap": {},
        "serviceExecutionType": "SERVER_URL",
        "postData": '{"cityName":"Oslo"}',
        "operationSecurityLevel": "public",
    },
    "jobStatus": "Active",
    "historyStrategy": "FULL",
    "retentionPeriod": "30",
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(home=tmp_path / "home")
    process.start()
    yield process
    process.stop()


@pytest.fixture
def weather() -> Iterator[tuple[str, list[str]]]:
    paths: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            paths.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"sky": "clear"}')

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", paths
    httpd.shutdown()
    httpd.server_close()


def finished_run(url: str, headers: dict[str, str], runs: int) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        history = httpx.get(f"{url}/admin/api/jobs/history/1", headers=headers).json()
        if len(history) == runs and history[0]["jobEndTime"]:
            entry: dict[str, Any] = history[0]
            return entry
        time.sleep(0.1)
    raise AssertionError("the run did not end")


def test_volt_mx_job_through_registry_and_cli(
    server: ServerProcess, weather: tuple[str, list[str]]
) -> None:
    match = re.search(r"password: (\S+)", server.output())
    assert match, server.output()
    cli_env = {"JOBPLAN_URL": server.url, "JOBPLAN_USER": "admin", "JOBPLAN_PASSWORD": match[1]}
    base, paths = weather

    registered = jobplan_cli(
        "services", "register", "openweather", f"{base}/services/openweather", env=cli_env
    )
    assert registered.returncode == 0, registered.stderr
    listed = jobplan_cli("services", "list", env=cli_env)
    assert "openweather" in listed.stdout and base in listed.stdout

    # the seed's login call, as curl sends it
    login = httpx.post(
        f"{server.url}/authService/accounts/login",
        content=f"userid=admin&password={match[1]}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert login.status_code == 200, login.text
    headers = {
        "X-VoltMX-Authorization": login.json()["claims_token"]["value"],
        "Content-Type": "application/json",
    }
    created = httpx.post(f"{server.url}/admin/api/jobs/job", headers=headers, json=JOB)
    assert created.json() == {"status": "SUCCESS", "result": None, "message": None, "token": None}
    assert httpx.post(f"{server.url}/admin/api/jobs/job/run/1", headers=headers).json()[
        "status"
    ] == ("SUCCESS")
    first = finished_run(server.url, headers, 1)
    assert first["executionStatus"] == "Success", first
    assert paths == ["/services/openweather/getWeather"]

    # unregistered: the next run fails, saying why; the server carries on
    removed = jobplan_cli("services", "remove", "openweather", env=cli_env)
    assert removed.returncode == 0, removed.stderr
    assert "openweather" not in jobplan_cli("services", "list", env=cli_env).stdout
    httpx.post(f"{server.url}/admin/api/jobs/job/run/1", headers=headers)
    second = finished_run(server.url, headers, 2)
    assert second["executionStatus"] == "Fail"
    assert "not registered" in second["message"]
    listing = httpx.get(f"{server.url}/admin/api/jobs/job", headers=headers).json()
    assert listing[0]["jobLastRunStatus"] == "Fail"
    # the plan is an ordinary plan for the native CLI too
    shown = jobplan_cli("plans", "show", "voltmx/weather", env=cli_env)
    assert shown.returncode == 0, shown.stderr
    assert "service: openweather" in shown.stdout
    missing = jobplan_cli("services", "remove", "openweather", env=cli_env)
    assert missing.returncode == 1 and "not found" in missing.stderr
