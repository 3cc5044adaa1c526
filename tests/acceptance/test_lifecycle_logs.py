"""Lifecycle logs of a real ``jobplan serve`` with ``JOBPLAN_LOG_FORMAT=json``: every line on
its standard error is one JSON object (the start banner and uvicorn's lines included); runs,
job runs, operator actions, failed sign-ins and the node's start and stop are logged under
stable event names; every answer carries an ``X-Request-ID`` that the request's log lines
carry too.

One server for the module, started without an administrator password: in JSON mode the
generated one goes to a private file, named by an ``admin.created`` event, never to the log.
The last test stops the server with SIGTERM and checks the whole log.
"""

from __future__ import annotations

import json
import signal
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.api import wait_for
from support.server import ServerProcess

WRONG_PASSWORD = "Wrong-Horse-Battery-7781"

pytestmark = pytest.mark.slow


class Served:
    def __init__(self, server: ServerProcess, password: str) -> None:
        self.server = server
        self.password = password

    def client(self, **headers: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.server.url,
            auth=("admin", self.password),
            timeout=30,
            headers=headers,
        )

    def records(self) -> list[dict[str, Any]]:
        """Every line of the server's output, parsed as JSON (a line that is not fails)."""
        lines = [line for line in self.server.output().splitlines() if line.strip()]
        parsed = []
        for line in lines:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                raise AssertionError(f"not a JSON line: {line!r}") from None
            assert isinstance(record, dict), line
            parsed.append(record)
        return parsed

    def events(self, name: str, **match: Any) -> list[dict[str, Any]]:
        return [
            r
            for r in self.records()
            if r.get("event") == name and all(r.get(k) == v for k, v in match.items())
        ]

    def wait_event(self, name: str, **match: Any) -> dict[str, Any]:
        found = wait_for(lambda: self.events(name, **match), what=f"{name} {match}")
        return found[0]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("logs") / "home"
    server = ServerProcess(home=home, env={"JOBPLAN_LOG_FORMAT": "json"})
    server.start()
    try:
        password_file = home / "initial-admin-password"
        yield Served(server, password_file.read_text().strip())
    finally:
        server.stop()


def test_first_start_names_the_password_file_and_logs_no_password(served: Served) -> None:
    created = served.wait_event("admin.created")
    path = Path(created["password_file"])
    assert created["user"] == "admin" and path.name == "initial-admin-password"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert served.password and served.password not in served.server.output()
    with served.client() as client:
        assert client.get("/api/v1/plans").status_code == 200


def test_runs_and_job_runs_are_logged_from_open_to_end(served: Served) -> None:
    with served.client() as client:
        for name, command in (("hello", "echo hi"), ("broken", "exit 3")):
            created = client.post(
                "/api/v1/plans",
                json={
                    "name": name,
                    "jobs": [{"name": "only", "kind": "command", "command": command}],
                },
            )
            assert created.status_code == 201, created.text
        started = client.post(
            "/api/v1/plans/hello/runs", json={}, headers={"X-Request-ID": "start-hello-1"}
        )
        assert started.status_code == 201, started.text
        run_id = started.json()["run"]["id"]
        failing = client.post("/api/v1/plans/broken/runs", json={})
        failing_id = failing.json()["run"]["id"]
    node = served.wait_event("node.started")

    opened = served.wait_event("plan_run.opened", plan_run=run_id)
    assert opened["plan"] == "hello" and opened["trigger"] == "manual"
    assert opened["created_by"] == "admin" and opened["fire_time"] is None
    # opened by an API request: the line carries that request's id
    assert opened["request_id"] == "start-hello-1"
    job_started = served.wait_event("job_run.started", plan_run=run_id)
    assert job_started["kind"] == "command" and job_started["job"] == "only"
    assert job_started["attempt"] == 1 and job_started["node_id"] == node["node_id"]
    job_ended = served.wait_event("job_run.ended", plan_run=run_id)
    assert job_ended["job_run"] == job_started["job_run"]
    assert (job_ended["status"], job_ended["exit_code"]) == ("COMPLETE", 0)
    assert job_ended["duration_seconds"] >= 0 and job_ended["level"] == "info"
    ended = served.wait_event("plan_run.ended", plan_run=run_id)
    assert ended["status"] == "COMPLETE" and ended["duration_seconds"] >= 0

    failed_job = served.wait_event("job_run.ended", plan_run=failing_id)
    assert (failed_job["status"], failed_job["exit_code"]) == ("ERROR", 3)
    assert failed_job["level"] == "warning" and "exit code 3" in failed_job["reason"]

    action = served.wait_event("operator.action", action="run.start", plan_run=run_id)
    assert action["actor"] == "admin" and action["plan"] == "hello"
    assert action["request_id"] == "start-hello-1"
    # the order of a run's story
    names = [
        r["event"]
        for r in served.records()
        if r.get("plan_run") == run_id and r["event"] != "operator.action"
    ]
    assert names == ["plan_run.opened", "job_run.started", "job_run.ended", "plan_run.ended"]


def test_operator_actions_name_the_actor_and_the_target(served: Served) -> None:
    with served.client() as client:
        created = client.post(
            "/api/v1/plans",
            json={
                "name": "fails",
                "jobs": [{"name": "only", "kind": "command", "command": "false"}],
            },
        )
        assert created.status_code == 201, created.text
        run_id = client.post("/api/v1/plans/fails/runs", json={}).json()["run"]["id"]

        def failed_job() -> dict[str, Any] | None:
            jobs = client.get(f"/api/v1/runs/{run_id}").json()["jobs"]
            return jobs[0] if jobs[0]["status"] == "ERROR" else None

        job_run = wait_for(failed_job, what="the job to fail")
        skipped = client.post(
            f"/api/v1/job-runs/{job_run['id']}/skip", headers={"X-Request-ID": "skip-it"}
        )
        assert skipped.status_code == 200, skipped.text
        disabled = client.post("/api/v1/plans/fails/disable")
        assert disabled.status_code == 200, disabled.text
    skip = served.wait_event("operator.action", action="job_run.skip")
    assert skip["job_run"] == job_run["id"] and skip["plan_run"] == run_id
    assert skip["actor"] == "admin" and skip["request_id"] == "skip-it"
    disable = served.wait_event("operator.action", action="plan.disable")
    assert disable["plan"] == "fails" and disable["tenant"] == "default"


def test_failed_sign_ins_are_logged_without_the_password(served: Served) -> None:
    url = served.server.url
    basic = httpx.get(f"{url}/api/v1/plans", auth=("admin", WRONG_PASSWORD))
    assert basic.status_code == 401
    grant = httpx.post(
        f"{url}/oauth/token",
        data={"grant_type": "password", "username": "nobody", "password": WRONG_PASSWORD},
    )
    assert grant.status_code in (400, 401), grant.text
    console = httpx.post(
        f"{url}/signin",
        data={"username": "admin", "password": WRONG_PASSWORD, "tenant": "elsewhere"},
    )
    assert console.status_code == 401
    key = httpx.get(
        f"{url}/api/v1/plans", headers={"Authorization": f"Bearer jp_nokey_{WRONG_PASSWORD}"}
    )
    assert key.status_code == 401

    by_method = {
        method: served.wait_event("login.failed", method=method)
        for method in ("basic", "password", "console", "api_key")
    }
    assert by_method["basic"]["user"] == "admin"
    assert by_method["basic"]["client"] == "127.0.0.1"
    assert by_method["basic"]["request_id"] == basic.headers["X-Request-ID"]
    assert by_method["password"]["user"] == "nobody"
    assert by_method["console"]["tenant"] == "elsewhere"
    assert by_method["api_key"]["key_id"] == "nokey"
    assert all(r["level"] == "warning" and r["reason"] for r in by_method.values())
    assert WRONG_PASSWORD not in served.server.output()


def test_every_answer_carries_a_request_id(served: Served) -> None:
    with served.client() as client:
        answers = {
            "ok": client.get("/api/v1/plans"),
            "not found": client.get("/api/v1/runs/no-such-run"),
            "invalid": client.get("/api/v1/runs", params={"limit": "many"}),
            "console page": client.get("/signin"),
            "unknown path": client.get("/no/such/page"),
        }
    assert [a.status_code for a in answers.values()] == [200, 404, 422, 200, 404]
    ids = [a.headers.get("X-Request-ID") for a in answers.values()]
    assert all(ids) and len(set(ids)) == len(ids)
    # the access line of each request, with its route template
    access = served.wait_event("http.request", request_id=ids[1])
    assert access["route"] == "/api/v1/runs/{run_id}" and access["status"] == 404
    assert access["method"] == "GET" and access["duration_ms"] >= 0
    assert served.wait_event("http.request", request_id=ids[4])["route"] == "unmatched"


def test_a_good_incoming_request_id_is_kept_and_a_bad_one_replaced(served: Served) -> None:
    good = "0f8fad5b-d9cb-469f-a165-70867728950e"
    bad = ["x" * 129, "has space", "semi;colon", "<script>"]
    with served.client() as client:
        kept = client.get("/api/v1/runs/missing", headers={"X-Request-ID": good})
        replaced = [client.get("/api/v1/plans", headers={"X-Request-ID": b}) for b in bad]
    assert kept.headers["X-Request-ID"] == good
    lines = served.wait_event("http.request", request_id=good)
    assert lines["status"] == 404
    for sent, answer in zip(bad, replaced, strict=True):
        returned = answer.headers["X-Request-ID"]
        assert returned != sent and 1 <= len(returned) <= 128 and returned.isalnum()
    assert not any(r.get("request_id") in bad for r in served.records())


def test_sigterm_logs_node_stopped_and_every_line_is_json(served: Served) -> None:
    served.server.stop(signal.SIGTERM)
    records = served.records()  # fails on any line that is not JSON
    events = [r.get("event") for r in records]
    banner = next(r for r in records if r.get("event") == "server.starting")
    assert banner["url"] == served.server.url and banner["version"]
    started = next(r for r in records if r.get("event") == "node.started")
    stopped = next(r for r in records if r.get("event") == "node.stopped")
    assert stopped["node_id"] == started["node_id"] and stopped["pid"] == started["pid"]
    assert set(started["loops"]) >= {"scheduler", "dispatcher"}
    assert events.index("server.starting") < events.index("node.started")
    assert events.index("node.started") < events.index("node.stopped")
    # uvicorn's own lines are JSON too, and its access log is not doubled with ours
    assert any(r.get("logger") == "uvicorn.error" for r in records)
    assert not any(r.get("logger") == "uvicorn.access" for r in records)
    assert all({"timestamp", "level", "event"} <= r.keys() for r in records)


def test_a_server_without_engine_logs_its_node_too(tmp_path: Path) -> None:
    server = ServerProcess(
        home=tmp_path / "home",
        env={
            "JOBPLAN_LOG_FORMAT": "json",
            "JOBPLAN_ENGINE_ENABLED": "false",
            "JOBPLAN_ADMIN_USER": "root",
            "JOBPLAN_ADMIN_PASSWORD": "root-password-123",
        },
    )
    server.start()
    served = Served(server, "root-password-123")
    started = served.wait_event("node.started")
    server.stop(signal.SIGTERM)
    stopped = served.events("node.stopped")
    assert started["loops"] == ["transfers"]
    assert [s["node_id"] for s in stopped] == [started["node_id"]]
