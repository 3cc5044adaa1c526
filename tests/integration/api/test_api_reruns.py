"""Re-running a finished or stalled run in place (issue #15, item 2), with the real engine:
which jobs execute again is checked by what they leave behind (one line per execution in a
file), not by their status."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from support.api import (
    ROOT_PASSWORD,
    ROOT_USER,
    Actor,
    job_of,
    make_user,
    run_detail,
    wait_for,
)


def _plan(client: TestClient, actor: Actor, log: Path, check: str, **extra: Any) -> str:
    """extract -> load -> report, and audit beside them; load ends with ``check``."""

    def step(name: str, command: str = "", **fields: Any) -> dict[str, Any]:
        run = f"echo {name} >> {log}" + (f"; {command}" if command else "")
        return {"name": name, "kind": "command", "command": run, **fields}

    document = {
        "name": "nightly",
        "folder": "ops",
        "parameters": [{"name": "REGION", "default": "eu"}],
        "jobs": [
            step("extract"),
            step("load", f"echo loading $REGION; {check}", depends_on="extract"),
            step("report", depends_on="load"),
            step("audit"),
        ],
        **extra,
    }
    response = client.post("/api/v1/plans", headers=actor.headers, json=document)
    assert response.status_code == 201, response.text
    plan_id: str = response.json()["id"]
    return plan_id


def _executions(log: Path) -> Counter[str]:
    return Counter(log.read_text().split())


def _ended(client: TestClient, actor: Actor, run_id: str) -> dict[str, Any]:
    return wait_for(
        lambda: (lambda r: r if r["ended_at"] else None)(run_detail(client, actor, run_id)),
        what=f"run {run_id} to end",
    )


def _rerun(client: TestClient, actor: Actor, run_id: str, **body: Any) -> Any:
    return client.post(f"/api/v1/runs/{run_id}/rerun", headers=actor.headers, json=body)


def test_rerun_of_failed_jobs_runs_only_them_then_downstream_reaches_dependents(
    client: TestClient, root: Actor, tmp_path: Path
) -> None:
    log, flag = tmp_path / "log", tmp_path / "ok"
    plan_id = _plan(client, root, log, f"test -f {flag}", policies={"on_error": "end"})
    started = client.post(
        f"/api/v1/plans/{plan_id}/runs",
        headers=root.headers,
        json={"parameters": {"REGION": "us"}},
    )
    run_id = started.json()["run"]["id"]
    first = _ended(client, root, run_id)
    assert first["status"] == "ERROR"
    assert _executions(log) == {"extract": 1, "load": 1, "audit": 1}
    load = job_of(first, "load")

    flag.touch()  # the failure's cause is fixed
    answer = _rerun(client, root, run_id, jobs="failed")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["cleared"] == ["load"]
    assert body["run"]["status"] == "RUNNING" and body["run"]["ended_at"] is None
    assert body["rerun"]["number"] == 1
    assert body["rerun"]["previous_status"] == "ERROR"
    (before,) = body["rerun"]["jobs"]
    assert (before["job_name"], before["status"], before["attempt"]) == ("load", "ERROR", 1)
    assert before["exit_code"] == 1

    again = _ended(client, root, run_id)
    assert again["status"] == "COMPLETE", again
    # only the failed job and what could not run before executed: nothing ran twice but load
    assert _executions(log) == {"extract": 1, "load": 2, "report": 1, "audit": 1}
    # the run kept what it was opened with
    for key in ("version", "version_id", "parameters", "scheduled_for", "created_at", "trigger"):
        assert again[key] == first[key], key
    assert again["parameters"] == {"REGION": "us"}
    # every attempt stays readable, numbered
    assert job_of(again, "load")["attempt"] == 2
    assert job_of(again, "extract")["attempt"] == 1
    outputs = [
        client.get(
            f"/api/v1/job-runs/{load['id']}/output",
            headers=root.headers,
            params={"attempt": attempt},
        ).json()["text"]
        for attempt in (1, 2)
    ]
    assert outputs == ["loading us\n", "loading us\n"]
    # the plan's statistics count the run once, by its latest outcome
    stats = client.get(f"/api/v1/plans/{plan_id}/stats", headers=root.headers).json()
    assert (stats["total"], stats["succeeded"], stats["failed"]) == (1, 1, 0)

    # named job with downstream: load and report again, extract and audit keep their results
    answer = _rerun(client, root, run_id, jobs=["load"], downstream=True)
    assert answer.status_code == 200, answer.text
    assert answer.json()["cleared"] == ["load", "report"]
    assert _ended(client, root, run_id)["status"] == "COMPLETE"
    assert _executions(log) == {"extract": 1, "load": 3, "report": 2, "audit": 1}
    reruns = client.get(f"/api/v1/runs/{run_id}/reruns", headers=root.headers).json()
    assert [(r["number"], r["jobs_requested"], r["downstream"]) for r in reruns] == [
        (1, "failed", False),
        (2, ["load"], True),
    ]
    assert reruns[1]["previous_status"] == "COMPLETE"
    assert {j["job_name"]: j["attempt"] for j in reruns[1]["jobs"]} == {"load": 2, "report": 1}

    records = client.get(
        "/api/v1/audit", headers=root.headers, params={"action": "run.rerun"}
    ).json()
    assert [(r["target"]["id"], r["outcome"]) for r in records] == [(run_id, "done")] * 2
    jobs = [next(c["after"] for c in r["changes"] if c["path"] == "jobs") for r in records]
    assert sorted(jobs) == [["load"], ["load", "report"]]


def test_a_stalled_run_is_rerun_and_a_running_one_is_refused(
    client: TestClient, root: Actor, tmp_path: Path
) -> None:
    log, flag, go = tmp_path / "log", tmp_path / "ok", tmp_path / "go"
    go.touch()
    # load waits for `go`, then fails unless `ok` exists; on_error hold: the run stalls open
    waits = f"while [ ! -f {go} ]; do sleep 0.05; done; test -f {flag}"
    plan_id = _plan(client, root, log, waits)
    run_id = client.post(f"/api/v1/plans/{plan_id}/runs", headers=root.headers).json()["run"]["id"]
    stalled = wait_for(
        lambda: (lambda r: r if r["status"] == "ERROR" else None)(run_detail(client, root, run_id)),
        what="the run to stall in ERROR",
    )
    assert stalled["ended_at"] is None and job_of(stalled, "report")["status"] == "WAITING"

    go.unlink()
    flag.touch()
    answer = _rerun(client, root, run_id)  # jobs defaults to "failed"
    assert answer.status_code == 200, answer.text
    assert answer.json()["cleared"] == ["load"]
    wait_for(
        lambda: job_of(run_detail(client, root, run_id), "load")["status"] == "RUNNING",
        what="load to run again",
    )
    refused = _rerun(client, root, run_id, jobs="all")
    assert refused.status_code == 409, refused.text
    assert "still running" in refused.json()["detail"], refused.text
    assert "'load' is RUNNING" in refused.json()["detail"], refused.text

    go.touch()
    done = _ended(client, root, run_id)
    assert done["status"] == "COMPLETE"
    assert _executions(log) == {"extract": 1, "load": 2, "report": 1, "audit": 1}

    # refusals on a finished run: nothing failed, unknown or no names, a bad word
    nothing = _rerun(client, root, run_id, jobs="failed")
    assert nothing.status_code == 409 and "no failed job" in nothing.json()["detail"]
    unknown = _rerun(client, root, run_id, jobs=["load", "ghost", "nope"])
    assert unknown.status_code == 422
    assert "'ghost', 'nope'" in unknown.json()["detail"], unknown.text
    assert _rerun(client, root, run_id, jobs=[]).status_code == 422
    assert _rerun(client, root, run_id, jobs="some").status_code == 422
    assert _rerun(client, root, run_id, jobs="all", extra=1).status_code == 422
    missing = client.post("/api/v1/runs/nope/rerun", headers=root.headers, json={})
    assert missing.status_code == 404
    viewer = make_user(client, root, "vera", "viewer")
    assert _rerun(client, viewer, run_id, jobs="all").status_code == 403
    readable = client.get(f"/api/v1/runs/{run_id}/reruns", headers=viewer.headers).json()
    assert [r["number"] for r in readable] == [1], "viewers read the history"
    assert _executions(log) == {"extract": 1, "load": 2, "report": 1, "audit": 1}

    # an ended run reopened: the Ikasan dialect shows it as the running instance it now is
    go.unlink()
    assert _rerun(client, root, run_id, jobs=["load"]).status_code == 200
    wait_for(
        lambda: job_of(run_detail(client, root, run_id), "load")["status"] == "RUNNING",
        what="load to run a third time",
    )
    ikasan = "/rest/context/status/ops~nightly/nightly"
    assert client.get(ikasan, auth=(ROOT_USER, ROOT_PASSWORD)).text == "RUNNING"
    assert client.get(f"{ikasan}/load", auth=(ROOT_USER, ROOT_PASSWORD)).text == "RUNNING"
    assert client.get(f"{ikasan}/report", auth=(ROOT_USER, ROOT_PASSWORD)).text == "COMPLETE"
    instance = client.get(
        "/rest/context/status/json/ops~nightly/nightly", auth=(ROOT_USER, ROOT_PASSWORD)
    ).json()[run_id]
    assert instance["status"] == "RUNNING" and instance["endTime"] == 0
    go.touch()
    assert _ended(client, root, run_id)["status"] == "COMPLETE"
    assert client.get(ikasan, auth=(ROOT_USER, ROOT_PASSWORD)).text == "COMPLETE"
    assert _executions(log) == {"extract": 1, "load": 3, "report": 1, "audit": 1}
