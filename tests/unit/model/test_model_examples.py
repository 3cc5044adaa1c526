"""The example plans in docs/examples load, validate and round-trip."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from jobplan.model import (
    CommandJob,
    EventJob,
    FileJob,
    HttpJob,
    JobKind,
    JobRef,
    PlanDocument,
    TimeJob,
)
from support.data import IKASAN_FIXTURES

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((ROOT / "docs" / "examples").glob("*.yaml"))
IKASAN_EXPORT = IKASAN_FIXTURES / "MyFirstJobPlan.zip"


def _load(path: Path) -> PlanDocument:
    return PlanDocument.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def test_examples_exist() -> None:
    assert {path.name for path in EXAMPLES} >= {"hello.yaml", "nightly.yaml"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_example_loads_and_round_trips(path: Path) -> None:
    plan = _load(path)
    assert PlanDocument.model_validate(plan.model_dump(mode="json")) == plan
    assert PlanDocument.model_validate_json(plan.model_dump_json()) == plan
    dumped = yaml.safe_dump(plan.model_dump(mode="json"), sort_keys=False)
    assert PlanDocument.model_validate(yaml.safe_load(dumped)) == plan


def test_hello() -> None:
    plan = _load(ROOT / "docs" / "examples" / "hello.yaml")
    assert plan.window is not None and plan.window.cron == "0/10 * * * * ?"
    tick, hello = plan.jobs
    assert isinstance(tick, TimeJob)
    assert isinstance(hello, CommandJob) and hello.depends_on == JobRef(job="tick")


def test_nightly_uses_every_kind_stages_and_locks() -> None:
    plan = _load(ROOT / "docs" / "examples" / "nightly.yaml")
    kinds = {job.kind for job in plan.all_jobs()}
    assert kinds == set(JobKind)
    assert any(stage.stages for stage in plan.stages)
    assert plan.locks and plan.parameters
    assert any(isinstance(job, HttpJob) and job.service for job in plan.all_jobs())
    assert plan.folder == "finance/eod" and plan.version == "1.0.0"


def _ikasan_export() -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The context document and the job documents (by job name) of the Ikasan sample."""
    assert IKASAN_EXPORT.exists(), f"missing fixture {IKASAN_EXPORT}"
    with zipfile.ZipFile(IKASAN_EXPORT) as archive:
        names = [n for n in archive.namelist() if n.endswith(".json")]
        (context,) = [n for n in names if "/context/" in n]
        jobs = [json.loads(archive.read(n)) for n in names if "/jobs/" in n]
        return json.loads(archive.read(context)), {job["jobName"]: job for job in jobs}


def _ikasan_dependencies(context: dict[str, Any], found: dict[str, set[str]]) -> None:
    names = {job["identifier"]: job["jobName"] for job in context["scheduledJobs"]}
    for dependency in context["jobDependencies"]:
        grouping = dependency.get("logicalGrouping") or {}
        found.setdefault(names[dependency["jobIdentifier"]], set()).update(
            names[item["identifier"]] for item in grouping.get("and", [])
        )
    for child in context["contexts"]:
        _ikasan_dependencies(child, found)


def test_ikasan_example_matches_the_export() -> None:
    export, ikasan_jobs = _ikasan_export()
    plan = _load(ROOT / "docs" / "examples" / "my-first-job-plan.yaml")
    assert plan.name == export["name"]
    assert plan.window is not None and plan.window.cron == export["timeWindowStart"]
    assert plan.window.ttl_seconds == export["contextTtlMilliseconds"] // 1000
    assert [stage.name for stage in plan.stages] == [c["name"] for c in export["contexts"]]

    expected: dict[str, set[str]] = {}
    _ikasan_dependencies(export, expected)
    actual = {
        job.name: (job.depends_on.job_names() if job.depends_on else set())
        for job in plan.all_jobs()
    }
    for name, names in expected.items():
        assert actual[name] == names, name

    jobs = plan.job_index()
    assert set(jobs) == set(ikasan_jobs)
    for name, source in ikasan_jobs.items():
        job = jobs[name]
        assert (job.description, job.agent) == (source["jobDescription"], source["agentName"])
        if isinstance(job, CommandJob):
            assert job.command == source["commandLine"]
            assert job.min_execution_seconds == source["minExecutionTime"]
            assert job.max_execution_seconds == source["maxExecutionTime"]
            assert [(p.name, p.default) for p in job.parameters] == [
                (p["name"], p["defaultValue"]) for p in source["contextParameters"]
            ]
        elif isinstance(job, FileJob):
            assert (job.path, job.patterns, job.min_age_seconds, job.depth, job.poll_cron) == (
                source["filePath"],
                source["filenames"],
                source["minFileAgeSeconds"],
                source["directoryDepth"],
                source["cronExpression"],
            )
        elif isinstance(job, TimeJob):
            assert job.cron == source["cronExpression"]
        else:
            assert isinstance(job, EventJob) and job.event == name
    (lock,) = plan.locks
    (ikasan_lock,) = export["jobLocks"]
    assert lock.name == ikasan_lock["name"] and lock.count == ikasan_lock["lockCount"]
    locked = {job["jobName"] for jobs in ikasan_lock["jobs"].values() for job in jobs}
    assert set(lock.jobs) == locked


def _yaml_blocks(markdown: str) -> list[str]:
    blocks: list[str] = []
    inside: list[str] | None = None
    for line in markdown.splitlines():
        if inside is None and line.strip() == "```yaml":
            inside = []
        elif inside is not None and line.strip() == "```":
            blocks.append("\n".join(inside) + "\n")
            inside = None
        elif inside is not None:
            inside.append(line)
    return blocks


def test_plans_reference_examples_are_valid() -> None:
    blocks = _yaml_blocks((ROOT / "docs" / "plans.md").read_text(encoding="utf-8"))
    for block in blocks:
        yaml.safe_load(block)  # every snippet is at least well-formed YAML
    first, full = blocks[0], blocks[-1]
    PlanDocument.model_validate(yaml.safe_load(first))
    nightly = (ROOT / "docs" / "examples" / "nightly.yaml").read_text(encoding="utf-8")
    without_header = "".join(
        line for line in nightly.splitlines(keepends=True) if not line.startswith("#")
    )
    assert full == without_header.lstrip("\n"), "docs/plans.md full example != nightly.yaml"
