"""A failed import's reason stays short, however large the text a bundle quotes: the reason is
stored and returned by every status call (issue #11, item 5)."""

from __future__ import annotations

import io
import random
import string
from typing import Any

import pytest
from fastapi.testclient import TestClient

from jobplan.bundle import BundlePlan, write_bundle
from jobplan.model import PlanDocument
from support.api import Actor, sample_plan, wait_for
from support.zips import make_zip

FINISHED = {"completed", "failed", "cancelled", "closed_by_timeout"}
MAX_REASON_BYTES = 2048


def _text(size: int, seed: int = 1) -> str:
    """Incompressible enough (random letters and digits) to pass the ratio checks."""
    rng = random.Random(seed)
    return "".join(rng.choices(string.ascii_letters + string.digits, k=size))


def _job(name: str, **extra: Any) -> dict[str, Any]:
    return {"agentName": "h", "jobName": name, "identifier": f"h-{name}", **extra}


def _plan(jobs: list[dict[str, Any]], **context: Any) -> dict[str, Any]:
    entries: dict[str, Any] = {
        "context/p.json": {
            "name": "p",
            "scheduledJobs": [
                {"agentName": "h", "jobName": job["jobName"], "identifier": job["identifier"]}
                for job in jobs
            ],
            **context,
        }
    }
    for index, job in enumerate(jobs):
        entries[f"jobs/internal/j{index}.json"] = {"commandLine": "true", **job}
    return entries


HUGE = _text(4 * 1024 * 1024)
CASES = {
    # a 4 MB job name in a job entry whose identifier the context gives another job
    "huge-job-name": {
        **_plan([_job("a")]),
        "jobs/internal/j0.json": {**_job("a"), "jobName": HUGE, "commandLine": "true"},
    },
    # a 4 MB job name throughout: refused by the model
    "huge-job-name-everywhere": _plan([_job(HUGE)]),
    # a 4 MB dependency on a job that does not exist
    "huge-unknown-dependency": _plan(
        [_job("a")],
        jobDependencies=[
            {"jobIdentifier": "h-a", "logicalGrouping": {"and": [{"identifier": HUGE}]}}
        ],
    ),
    # a 4 MB value of an Ikasan enumeration
    "huge-startup-value": _plan([_job("a", startupControlType=HUGE)]),
    # 300 problems, each quoting 1,000 characters
    "many-long-problems": _plan(
        [_job(f"j{index}", startupControlType=_text(1000, index)) for index in range(300)]
    ),
    # 300 placeholders without values, with names of 90 characters
    "many-unresolved-tokens": _plan(
        [_job(f"j{index}", commandLine=f"run [[t{_text(90, index)}]]") for index in range(300)]
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_failed_imports_reason_stays_under_2_kib(
    client: TestClient, root: Actor, case: str
) -> None:
    response = client.post(
        "/api/v1/imports",
        headers=root.headers,
        files={"file": ("plans.zip", make_zip(CASES[case]), "application/zip")},
    )
    assert response.status_code == 202, response.text
    url = response.json()["status_url"]

    def probe() -> dict[str, Any] | None:
        body: dict[str, Any] = client.get(url, headers=root.headers).json()
        return body if body["status"] in FINISHED else None

    job = wait_for(probe, what="the import to finish")
    assert job["status"] == "failed", job
    reason = job["reason"]
    assert 0 < len(reason.encode()) < MAX_REASON_BYTES, (len(reason), reason[:300])
    listed = client.get("/api/v1/imports", headers=root.headers).json()
    (mine,) = [item for item in listed if item["id"] == job["id"]]
    assert len(str(mine).encode()) < 4 * MAX_REASON_BYTES


def test_a_conflict_naming_many_plans_stays_under_2_kib(client: TestClient, root: Actor) -> None:
    names = [f"p{index:02d}-{'x' * 95}" for index in range(30)]
    documents = [
        PlanDocument.model_validate(sample_plan(name=name, folder="conflicts")) for name in names
    ]
    bundle = io.BytesIO()
    write_bundle([BundlePlan(document) for document in documents], bundle, source_tenant="a")
    for name in names:
        body = sample_plan(name=name, folder="conflicts", description="differs")
        response = client.post("/api/v1/plans", headers=root.headers, json=body)
        assert response.status_code == 201, response.text
    response = client.post(
        "/api/v1/imports",
        headers=root.headers,
        files={"file": ("plans.zip", bundle.getvalue(), "application/zip")},
    )
    assert response.status_code == 202, response.text
    url = response.json()["status_url"]
    job = wait_for(
        lambda: (
            (body := client.get(url, headers=root.headers).json())["status"] in FINISHED and body
        ),
        what="the import to finish",
    )
    assert job["status"] == "failed" and "conflicts/p00-" in job["reason"], job
    assert len(job["reason"].encode()) < MAX_REASON_BYTES
