"""Runs through the API with the real engine: commands, HTTP, files, gates, operator actions."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from support.api import Actor, job_of, make_tenant, run_detail, wait_for

FINAL = {"COMPLETE", "ERROR", "ENDED"}


def plan(name: str, jobs: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"name": name, "folder": "ops", "jobs": jobs, **extra}


def create(client: TestClient, actor: Actor, body: dict[str, Any]) -> str:
    response = client.post("/api/v1/plans", headers=actor.headers, json=body)
    assert response.status_code == 201, response.text
    plan_id: str = response.json()["id"]
    return plan_id


def start(client: TestClient, actor: Actor, plan_id: str, **body: Any) -> str:
    response = client.post(f"/api/v1/plans/{plan_id}/runs", headers=actor.headers, json=body)
    assert response.status_code == 201, response.text
    run_id: str = response.json()["run"]["id"]
    return run_id


def until_status(
    client: TestClient, actor: Actor, run_id: str, statuses: set[str], timeout: float = 20
) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        run = run_detail(client, actor, run_id)
        return (
            run
            if run["status"] in statuses
            and (run["ended_at"] or "RUNNING" in statuses or "ERROR" in statuses)
            else None
        )

    return wait_for(probe, timeout, f"run {run_id} to reach {statuses}")


def until_job(
    client: TestClient, actor: Actor, run_id: str, job: str, status: str, timeout: float = 20
) -> dict[str, Any]:
    return wait_for(
        lambda: (lambda j: j if j["status"] == status else None)(
            job_of(run_detail(client, actor, run_id), job)
        ),
        timeout,
        f"job {job} to be {status}",
    )


def test_command_job_runs_with_parameters_as_environment(client: TestClient, root: Actor) -> None:
    plan_id = create(
        client,
        root,
        plan(
            "env",
            [
                {"name": "say", "kind": "command", "command": 'echo "hello $WHO"; echo oops >&2'},
            ],
            parameters=[{"name": "WHO", "default": "world"}],
        ),
    )
    hostile = "$(touch /tmp/jobplan-pwned); `id`"
    run_id = start(client, root, plan_id, parameters={"WHO": hostile})
    run = until_status(client, root, run_id, {"COMPLETE"})
    say = job_of(run, "say")
    assert (say["status"], say["exit_code"], say["attempt"]) == ("COMPLETE", 0, 1)
    output = client.get(f"/api/v1/job-runs/{say['id']}/output", headers=root.headers).json()
    assert output["text"] == f"hello {hostile}\noops\n"
    assert output["complete"] is True
    assert not Path("/tmp/jobplan-pwned").exists()
    tail = client.get(
        f"/api/v1/job-runs/{say['id']}/output", headers=root.headers, params={"tail": 5}
    ).json()
    assert tail["text"] == "oops\n"
    stats = client.get(f"/api/v1/plans/{plan_id}/stats", headers=root.headers).json()
    assert (stats["total"], stats["succeeded"], stats["success_percent"]) == (1, 1, 100.0)
    assert stats["last_status"] == "COMPLETE"


def test_a_bad_reference_in_run_values_is_refused(client: TestClient, root: Actor) -> None:
    document = plan("p", [{"name": "a", "kind": "command", "command": "true"}])
    document["parameters"] = [{"name": "day"}]
    plan_id = create(client, root, document)
    response = client.post(
        f"/api/v1/plans/{plan_id}/runs",
        headers=root.headers,
        json={"parameters": {"day": "${scheduled_for:%Y-%m-%d"}},
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["errors"][0]["field"] == "parameters.day"
    assert "unterminated reference '${scheduled_for:%Y-%m-%d'" in problem["detail"]
    assert client.get("/api/v1/runs", headers=root.headers).json() == []


def test_unknown_parameter_is_refused(client: TestClient, root: Actor) -> None:
    plan_id = create(client, root, plan("p", [{"name": "a", "kind": "command", "command": "true"}]))
    response = client.post(
        f"/api/v1/plans/{plan_id}/runs", headers=root.headers, json={"parameters": {"NOPE": "1"}}
    )
    assert response.status_code == 422
    assert "NOPE" in response.json()["detail"]
    assert client.get("/api/v1/runs", headers=root.headers).json() == []


def test_failed_command_is_error_and_reset_reruns_it(
    client: TestClient, root: Actor, tmp_path: Path
) -> None:
    flag = tmp_path / "ok"
    plan_id = create(
        client,
        root,
        plan(
            "fail",
            [
                {"name": "check", "kind": "command", "command": f"test -f {flag}"},
                {
                    "name": "after",
                    "kind": "command",
                    "command": "echo after",
                    "depends_on": "check",
                },
            ],
        ),
    )
    run_id = start(client, root, plan_id)
    check = until_job(client, root, run_id, "check", "ERROR")
    assert check["exit_code"] == 1 and "exit code 1" in check["reason"]
    run = until_status(client, root, run_id, {"ERROR"})
    assert job_of(run, "after")["status"] == "WAITING"
    ack = client.post(f"/api/v1/job-runs/{check['id']}/acknowledge", headers=root.headers)
    assert ack.status_code == 200 and ack.json()["acknowledged"] is True
    flag.write_text("now it passes")
    reset = client.post(f"/api/v1/job-runs/{check['id']}/reset", headers=root.headers)
    assert reset.status_code == 200, reset.text
    run = until_status(client, root, run_id, {"COMPLETE"})
    assert job_of(run, "check")["attempt"] == 2
    assert job_of(run, "after")["status"] == "COMPLETE"


def test_stop_kills_the_running_command(client: TestClient, root: Actor, tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    plan_id = create(
        client,
        root,
        plan(
            "long",
            [
                {
                    "name": "sleeper",
                    "kind": "command",
                    "command": f"sleep 300 & echo $! > {pid_file}; wait",
                },
            ],
        ),
    )
    run_id = start(client, root, plan_id)
    until_job(client, root, run_id, "sleeper", "RUNNING")
    wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), what="pid file")
    child = int(pid_file.read_text())
    stopped = client.post(f"/api/v1/runs/{run_id}/stop", headers=root.headers)
    assert stopped.status_code == 200
    assert stopped.json()["status"] == "ENDED"
    job = until_job(client, root, run_id, "sleeper", "KILLED")
    assert "stopped" in job["reason"]
    wait_for(
        lambda: (
            not Path(f"/proc/{child}").exists()
            or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]
        ),
        what="child gone",
    )
    again = client.post(f"/api/v1/runs/{run_id}/stop", headers=root.headers)
    assert again.status_code == 409 and "already ended" in again.json()["detail"]


def test_hold_release_and_refusals(client: TestClient, root: Actor, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    plan_id = create(
        client,
        root,
        plan(
            "held",
            [
                {
                    "name": "first",
                    "kind": "command",
                    "command": f"while [ ! -f {gate} ]; do sleep 0.1; done",
                },
                {
                    "name": "second",
                    "kind": "command",
                    "command": "echo second",
                    "depends_on": "first",
                },
                {
                    "name": "manual",
                    "kind": "command",
                    "command": "echo manual",
                    "startup": "manual",
                },
            ],
        ),
    )
    run_id = start(client, root, plan_id)
    run = run_detail(client, root, run_id)
    second, manual = job_of(run, "second"), job_of(run, "manual")
    assert manual["status"] == "ON_HOLD"
    held = client.post(f"/api/v1/job-runs/{second['id']}/hold", headers=root.headers)
    assert held.status_code == 200 and held.json()["status"] == "ON_HOLD"
    gate.write_text("go")
    until_job(client, root, run_id, "first", "COMPLETE")
    assert job_of(run_detail(client, root, run_id), "second")["status"] == "ON_HOLD"
    # refusals name the state
    refused = client.post(
        f"/api/v1/job-runs/{job_of(run, 'first')['id']}/hold", headers=root.headers
    )
    assert refused.status_code == 409
    assert "COMPLETE" in refused.json()["detail"] and "first" in refused.json()["detail"]
    assert (
        client.post(f"/api/v1/job-runs/{second['id']}/unskip", headers=root.headers).status_code
        == 409
    )
    assert (
        client.post(f"/api/v1/job-runs/{second['id']}/explode", headers=root.headers).status_code
        == 422
    )
    for job in (second, manual):
        released = client.post(f"/api/v1/job-runs/{job['id']}/release", headers=root.headers)
        assert released.status_code == 200
    run = until_status(client, root, run_id, {"COMPLETE"})
    assert {j["job_name"]: j["status"] for j in run["jobs"]} == {
        "first": "COMPLETE",
        "second": "COMPLETE",
        "manual": "COMPLETE",
    }


def test_skip_lets_dependents_run(client: TestClient, root: Actor) -> None:
    plan_id = create(
        client,
        root,
        plan(
            "skip",
            [
                {"name": "never", "kind": "command", "command": "exit 3", "startup": "manual"},
                {"name": "then", "kind": "command", "command": "echo then", "depends_on": "never"},
            ],
        ),
    )
    run_id = start(client, root, plan_id)
    never = job_of(run_detail(client, root, run_id), "never")
    assert (
        client.post(f"/api/v1/job-runs/{never['id']}/skip", headers=root.headers).json()["status"]
        == "SKIPPED"
    )
    run = until_status(client, root, run_id, {"COMPLETE"})
    assert job_of(run, "then")["status"] == "COMPLETE"


@pytest.fixture
def http_server() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            status = 500 if b"fail" in body else 200
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"echo": ' + body + b"}")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_jobs_record_status_and_body(
    client: TestClient, root: Actor, http_server: str
) -> None:
    plan_id = create(
        client,
        root,
        plan(
            "http",
            [
                {
                    "name": "ok",
                    "kind": "http",
                    "method": "POST",
                    "url": f"{http_server}/x",
                    "body": {"n": 1},
                },
                {
                    "name": "bad",
                    "kind": "http",
                    "method": "POST",
                    "url": f"{http_server}/y",
                    "body": '"fail"',
                },
            ],
        ),
    )
    run_id = start(client, root, plan_id)
    run = until_status(client, root, run_id, {"ERROR"})
    ok, bad = job_of(run, "ok"), job_of(run, "bad")
    assert (ok["status"], ok["http_status"]) == ("COMPLETE", 200)
    assert (bad["status"], bad["http_status"]) == ("ERROR", 500)
    body = client.get(f"/api/v1/job-runs/{ok['id']}/output", headers=root.headers).json()
    assert body["text"] == '{"echo": {"n":1}}' or '"n"' in body["text"]


def test_file_job_completes_when_the_file_arrives(
    client: TestClient, root: Actor, tmp_path: Path
) -> None:
    inbox, done = tmp_path / "inbox", tmp_path / "done"
    inbox.mkdir()
    plan_id = create(
        client,
        root,
        plan(
            "files",
            [
                {
                    "name": "watch",
                    "kind": "file",
                    "path": str(inbox),
                    "patterns": ["*.csv"],
                    "poll_cron": "* * * * * ?",
                    "move_to": str(done),
                },
                {"name": "load", "kind": "command", "command": f"ls {done}", "depends_on": "watch"},
            ],
        ),
    )
    run_id = start(client, root, plan_id)
    (inbox / "ignored.txt").write_text("x")
    watch = until_job(client, root, run_id, "watch", "WAITING")
    assert watch["status"] == "WAITING"
    (inbox / "data.csv").write_text("a,b\n")
    run = until_status(client, root, run_id, {"COMPLETE"})
    assert (done / "data.csv").exists() and (inbox / "ignored.txt").exists()
    load = job_of(run, "load")
    assert (
        client.get(f"/api/v1/job-runs/{load['id']}/output", headers=root.headers).json()["text"]
        == "data.csv\n"
    )


def test_events_release_waiting_event_jobs(client: TestClient, root: Actor) -> None:
    waiter = create(
        client,
        root,
        plan(
            "waiter",
            [
                {"name": "wait", "kind": "event", "event": "data-ready"},
                {"name": "go", "kind": "command", "command": "echo go", "depends_on": "wait"},
            ],
        ),
    )
    run_id = start(client, root, waiter)
    assert until_job(client, root, run_id, "wait", "WAITING")
    raised = client.post("/api/v1/events", headers=root.headers, json={"name": "data-ready"})
    assert raised.json()["completed_jobs"] == 1
    run = until_status(client, root, run_id, {"COMPLETE"})
    assert job_of(run, "go")["status"] == "COMPLETE"


def test_overlap_skip_refuses_a_second_start_unless_forced(
    client: TestClient, root: Actor, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    plan_id = create(
        client,
        root,
        plan(
            "once",
            [
                {
                    "name": "wait",
                    "kind": "command",
                    "command": f"while [ ! -f {gate} ]; do sleep 0.1; done",
                },
            ],
        ),
    )
    first = start(client, root, plan_id)
    refused = client.post(f"/api/v1/plans/{plan_id}/runs", headers=root.headers, json={})
    assert refused.status_code == 409 and "force" in refused.json()["detail"]
    assert "runs start --force" in refused.json()["detail"]  # what a CLI user types
    second = start(client, root, plan_id, force=True)
    gate.write_text("go")
    for run_id in (first, second):
        until_status(client, root, run_id, {"COMPLETE"})
    listed = client.get("/api/v1/runs", headers=root.headers, params={"plan": plan_id}).json()
    assert {r["id"] for r in listed} == {first, second}


def test_runs_are_tenant_scoped(client: TestClient, root: Actor) -> None:
    plan_id = create(
        client, root, plan("mine", [{"name": "a", "kind": "command", "command": "true"}])
    )
    run_id = start(client, root, plan_id)
    run = until_status(client, root, run_id, {"COMPLETE"})
    job_id = run["jobs"][0]["id"]
    other = make_tenant(client, root, "other")
    for method, path in [
        ("GET", f"/api/v1/runs/{run_id}"),
        ("POST", f"/api/v1/runs/{run_id}/stop"),
        ("GET", f"/api/v1/job-runs/{job_id}"),
        ("POST", f"/api/v1/job-runs/{job_id}/reset"),
        ("GET", f"/api/v1/job-runs/{job_id}/output"),
        ("POST", f"/api/v1/plans/{plan_id}/runs"),
        ("GET", f"/api/v1/plans/{plan_id}/stats"),
    ]:
        assert client.request(method, path, headers=other.headers).status_code == 404, path
    assert client.get("/api/v1/runs", headers=other.headers).json() == []
    assert client.get("/api/v1/job-runs", headers=other.headers).json() == []


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("GET", "/api/v1/runs?status=BOGUS", None, "status"),
        ("GET", "/api/v1/runs?since=yesterday", None, "since"),
        ("GET", "/api/v1/runs?since=2026-01-01T00:00:00", None, "since"),
        ("GET", "/api/v1/job-runs?status=NOPE", None, "status"),
        ("POST", "/api/v1/events", {}, "name"),
        ("POST", "/api/v1/events", {"name": ""}, "name"),
    ],
)
def test_bad_run_queries_are_422(
    client: TestClient, root: Actor, method: str, path: str, body: object, field: str
) -> None:
    response = client.request(method, path, headers=root.headers, json=body)
    assert response.status_code == 422, response.text
    assert any(e["field"].endswith(field) for e in response.json()["errors"])


def test_bad_start_bodies_are_422(client: TestClient, root: Actor) -> None:
    plan_id = create(client, root, plan("p", [{"name": "a", "kind": "command", "command": "true"}]))
    for body in (
        {"parameters": "x"},
        {"force": "maybe"},
        {"surprise": 1},
        {"parameters": {"a": 1}},
    ):
        response = client.post(f"/api/v1/plans/{plan_id}/runs", headers=root.headers, json=body)
        assert response.status_code == 422, (body, response.text)


def test_a_job_running_past_its_maximum_is_flagged_while_it_runs(
    client: TestClient, root: Actor, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    plan_id = create(
        client,
        root,
        plan(
            "slow",
            [
                {
                    "name": "slow",
                    "kind": "command",
                    "max_execution_seconds": 0.5,
                    "command": f"while [ ! -f {gate} ]; do sleep 0.1; done",
                },
            ],
        ),
    )
    run_id = start(client, root, plan_id)
    flagged = wait_for(
        lambda: (lambda j: j if "overdue" in j["flags"] else None)(
            job_of(run_detail(client, root, run_id), "slow")
        ),
        what="the overdue flag",
    )
    assert flagged["status"] == "RUNNING"  # flagged, not killed
    gate.write_text("go")
    run = until_status(client, root, run_id, {"COMPLETE"})
    assert job_of(run, "slow")["flags"] == ["overdue"]


def test_disabling_one_job_passes_it_over_in_later_runs(client: TestClient, root: Actor) -> None:
    plan_id = create(
        client,
        root,
        plan(
            "switch",
            [
                {"name": "gate", "kind": "time", "cron": "0 0 0 1 1 ? 2099"},
                {"name": "after", "kind": "command", "command": "true", "depends_on": "gate"},
            ],
        ),
    )
    off = client.post(f"/api/v1/plans/{plan_id}/jobs/gate/disable", headers=root.headers)
    assert off.status_code == 200 and off.json() == {"disabled_jobs": ["gate"]}
    run = until_status(client, root, start(client, root, plan_id), {"COMPLETE"})
    assert {j["job_name"]: j["status"] for j in run["jobs"]} == {
        "gate": "DISABLED",
        "after": "COMPLETE",
    }
    on = client.post(f"/api/v1/plans/{plan_id}/jobs/gate/enable", headers=root.headers)
    assert on.json() == {"disabled_jobs": []}
    unknown = client.post(f"/api/v1/plans/{plan_id}/jobs/ghost/disable", headers=root.headers)
    assert unknown.status_code == 404 and "ghost" in unknown.json()["detail"]
    bad = client.post(f"/api/v1/plans/{plan_id}/jobs/gate/maybe", headers=root.headers)
    assert bad.status_code == 422
