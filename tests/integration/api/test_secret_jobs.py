"""Secrets in running jobs, end to end on the real engine (both stores): a job gets the value
(a command compares its hash and exits 0; a real local HTTP server receives it in a header and
a JSON body) while no surface shows it: captured output (the value written in two pieces, so
it straddles chunks), the echoing server's response body, failure reasons, the run's page,
notification bodies, audit records, the log, and an exported bundle (which carries the
reference). A job referring to a missing secret fails without running, saying which."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from jobplan.service.container import Services
from support.api import Actor, wait_for

VALUE = "Tr0ub4dor-&-3-correct-horse"
DIGEST = hashlib.sha256(VALUE.encode()).hexdigest()


class Echo:
    """An HTTP server on 127.0.0.1 answering each request with its headers and body (as an
    API echoing a credential back would); ``/hook`` records notification bodies."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        echo = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                echo.received.append((self.path, dict(self.headers), body))
                answer = json.dumps({"headers": dict(self.headers), "body": body.decode()})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(answer.encode())

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def echo() -> Iterator[Echo]:
    server = Echo()
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def _plan(echo: Echo) -> dict[str, Any]:
    check = f'[ "$(printf %s "$PGPASSWORD" | sha256sum | cut -c1-64)" = "{DIGEST}" ]'
    return {
        "name": "uses-secret",
        "folder": "ops",
        "parameters": [{"name": "PGPASSWORD", "default": "${secret:DB_PASSWORD}"}],
        "jobs": [
            {
                "name": "use",
                "kind": "command",
                # the value in one line, then in two writes a moment apart (two chunks)
                "command": f'{check} || exit 9\necho "password is $PGPASSWORD."\n'
                'printf %s "$PGPASSWORD" | head -c 7; sleep 0.3; '
                'printf "%s\\n" "$PGPASSWORD" | tail -c +8',
            },
            {
                "name": "call",
                "kind": "http",
                "method": "POST",
                "url": f"{echo.url}/login",
                "headers": {"Authorization": "Bearer ${secret:DB_PASSWORD}"},
                "body": {"user": "loader", "password": "${secret:DB_PASSWORD}"},
            },
            {
                "name": "missing",
                "kind": "command",
                "depends_on": {"and": ["use", "call"]},
                "environment": {"TOKEN": "${secret:NOT_SET}"},
                "command": "echo should not run",
            },
        ],
        "policies": {"on_error": "end"},
        "notifications": {"on_failure": [f"{echo.url}/hook"]},
    }


def _text(client: TestClient, actor: Actor, url: str) -> str:
    response = client.get(url, headers=actor.headers)
    assert response.status_code == 200, response.text
    return response.text


def test_a_secret_reaches_the_job_and_no_surface_shows_it(
    client: TestClient, root: Actor, echo: Echo, capfd: pytest.CaptureFixture[str]
) -> None:
    h = root.headers
    assert client.put("/api/v1/secrets/DB_PASSWORD", headers=h, json={"value": VALUE}).status_code
    created = client.post("/api/v1/plans", headers=h, json=_plan(echo))
    assert created.status_code == 201, created.text
    plan_id = created.json()["id"]
    started = client.post(f"/api/v1/plans/{plan_id}/runs", headers=h, json={})
    assert started.status_code == 201, started.text
    run_id = started.json()["run"]["id"]

    def ended() -> dict[str, Any] | None:
        jobs = client.get("/api/v1/job-runs", headers=h, params={"run": run_id}).json()
        done = {j["job_name"]: j for j in jobs if j["status"] in ("COMPLETE", "ERROR")}
        return done if len(done) == 3 else None

    jobs = wait_for(ended, timeout=60, what="the three jobs to end")
    hook = wait_for(lambda: [r for r in echo.received if r[0] == "/hook"], what="the hook")

    # present in the process: the command's check passed, the server received the value
    assert jobs["use"]["status"] == "COMPLETE", jobs["use"]
    assert jobs["call"]["status"] == "COMPLETE", jobs["call"]
    (login,) = [r for r in echo.received if r[0] == "/login"]
    assert login[1]["Authorization"] == f"Bearer {VALUE}"
    assert json.loads(login[2]) == {"user": "loader", "password": VALUE}

    # a missing secret: the job failed without running, saying which
    missing = jobs["missing"]
    assert missing["status"] == "ERROR"
    assert "no secret named 'NOT_SET'" in missing["reason"], missing
    assert "environment variable 'TOKEN'" in missing["reason"]

    # masked wherever it would have shown
    use_output = _text(client, root, f"/api/v1/job-runs/{jobs['use']['id']}/output")
    assert "password is ***." in use_output and use_output.count("***") == 2, use_output
    call_output = _text(client, root, f"/api/v1/job-runs/{jobs['call']['id']}/output")
    assert "Bearer ***" in call_output and "***" in call_output.split("body")[-1]
    surfaces = {
        "use output": use_output,
        "call output": call_output,
        "job runs": _text(client, root, f"/api/v1/job-runs?run={run_id}"),
        "run": _text(client, root, f"/api/v1/runs/{run_id}"),
        "hook": hook[0][2].decode(),
        "notifications": _text(client, root, "/api/v1/notifications"),
        "audit": _text(client, root, "/api/v1/audit?limit=500"),
        "plan": _text(client, root, f"/api/v1/plans/{plan_id}"),
    }
    export = client.post("/api/v1/exports", headers=h, json={"plans": ["ops/uses-secret"]})
    assert export.status_code == 202, export.text
    job = wait_for(
        lambda: (
            (body := client.get(export.json()["status_url"], headers=h).json())["status"]
            in ("completed", "failed", "cancelled", "closed_by_timeout")
            and body
        ),
        what="the export",
    )
    assert job["status"] == "completed", job
    bundle = client.get(job["file"]["url"], headers=h).content
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        texts = [archive.read(name).decode(errors="replace") for name in archive.namelist()]
    surfaces["bundle"] = "\n".join(texts)
    assert "${secret:DB_PASSWORD}" in surfaces["bundle"]  # the reference travels
    captured = capfd.readouterr()
    surfaces["log"] = captured.out + captured.err
    assert "job_run" in surfaces["log"]
    for name, text in surfaces.items():
        assert VALUE not in text, f"the value shows in {name}"
        assert json.dumps(VALUE)[1:-1] not in text, f"the value shows in {name}"


def test_an_agent_gets_the_value_and_what_it_sends_back_is_masked(
    client: TestClient, root: Actor, services: Services
) -> None:
    """The assignment carries the value in the environment and in ``mask`` (the agent masks
    its own output); the server masks output chunks and results on receipt anyway, also on
    a node that did not hand the attempt out (its cache empty: the value resolved again)."""
    h = root.headers
    assert client.put("/api/v1/secrets/DB_PASSWORD", headers=h, json={"value": VALUE}).status_code
    key = client.post("/api/v1/agents", headers=h, json={"name": "edge-1"}).json()["key"]
    agent = {"Authorization": f"Bearer {key}"}
    hello = {"protocol": 1, "host": "edge-host", "version": "test", "slots": 2}
    assert client.post("/api/v1/agent/hello", headers=agent, json=hello).status_code == 200
    job = {
        "name": "remote",
        "kind": "command",
        "agent": "edge-1",
        "environment": {"PGPASSWORD": "${secret:DB_PASSWORD}"},
        "command": "echo $PGPASSWORD",
    }
    plan = {"name": "remote-secret", "folder": "ops", "jobs": [job]}
    plan_id = client.post("/api/v1/plans", headers=h, json=plan).json()["id"]
    run_id = client.post(f"/api/v1/plans/{plan_id}/runs", headers=h, json={}).json()["run"]["id"]

    def claimed() -> dict[str, Any] | None:
        answer = client.post(
            "/api/v1/agent/claim", headers=agent, json={"free": 1, "wait_seconds": 1}
        ).json()
        return answer["assignments"][0] if answer["assignments"] else None

    assignment = wait_for(claimed, what="an assignment")
    assert assignment["environment"]["PGPASSWORD"] == VALUE
    assert assignment["mask"] == [VALUE]
    job_run_id = assignment["job_run_id"]
    services.agent_protocol._masks.clear()  # as on another node: resolved again
    chunks = [
        {"job_run_id": job_run_id, "attempt": 1, "seq": 0, "text": f"got {VALUE}\n"},
        {"job_run_id": job_run_id, "attempt": 1, "seq": 1, "text": json.dumps(VALUE) + "\n"},
    ]
    sent = client.post("/api/v1/agent/output", headers=agent, json={"chunks": chunks})
    assert sent.status_code == 200 and sent.json()["accepted"] == 2, sent.text
    result = {
        "job_run_id": job_run_id,
        "attempt": 1,
        "succeeded": False,
        "reason": f"exit code 1 near {VALUE}",
        "exit_code": 1,
        "output": f"head {VALUE} tail",
        "output_truncated": True,
    }
    recorded = client.post("/api/v1/agent/results", headers=agent, json={"results": [result]})
    assert recorded.json()["results"][0]["outcome"] == "recorded", recorded.text
    output = _text(client, root, f"/api/v1/job-runs/{job_run_id}/output")
    assert "head *** tail" in output
    runs = _text(client, root, f"/api/v1/job-runs?run={run_id}")
    assert "exit code 1 near ***" in runs
    for text in (output, runs, _text(client, root, f"/api/v1/runs/{run_id}")):
        assert VALUE not in text
