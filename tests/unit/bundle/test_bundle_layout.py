"""What a written bundle looks like: folders, entries, Ikasan JSON, the extension, manifest."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime
from typing import Any

import pytest

import jobplan
from jobplan.bundle import FORMAT_VERSION, BundleError, BundlePlan, write_bundle
from jobplan.model import PlanDocument

DIRECTORIES = [
    "context/",
    "jobs/",
    "jobs/file/",
    "jobs/global/",
    "jobs/http/",
    "jobs/internal/",
    "jobs/quartz/",
    "notification/",
    "notification_details/",
    "profiles/",
]


def _names(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.namelist()


def test_layout_of_a_plan_with_every_job_kind(kit) -> None:
    plan = kit.load_example("nightly.yaml")
    names = _names(kit.export([BundlePlan(plan, version_id="v-17")]))
    assert names[: len(DIRECTORIES)] == DIRECTORIES
    assert names[-1] == "manifest.json"
    files = names[len(DIRECTORIES) : -1]
    assert files == sorted(files)
    key = "nightly-settlement"
    assert files == [
        f"context/{key}.json",
        f"jobs/file/{key}/trades-file.json",
        f"jobs/global/{key}/prices-published.json",
        f"jobs/http/{key}/post-to-ledger.json",
        f"jobs/http/{key}/refresh-rates.json",
        *(
            f"jobs/internal/{key}/{name}.json"
            for name in (
                "archive",
                "compute",
                "csv-export",
                "load-prices",
                "load-trades",
                "pdf-report",
            )
        ),
        f"jobs/quartz/{key}/not-before-2am.json",
    ]


def test_entries_are_stable_json(kit) -> None:
    entries = kit.zip_entries(kit.export([kit.load_example("nightly.yaml")]))
    for name, data in entries.items():
        if name.endswith("/"):
            assert data == b""
            continue
        parsed = json.loads(data)
        expected = json.dumps(parsed, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
        assert data.decode("utf-8") == expected, name


def test_manifest(kit) -> None:
    plan = kit.load_example("nightly.yaml")
    out = io.BytesIO()
    returned = write_bundle(
        [BundlePlan(plan, version_id="v-17")],
        out,
        source_tenant="acme",
        created_at=kit.stamp,
        source_system="prod-eu",
        correlation_id="change-42",
    )
    entries = kit.zip_entries(out.getvalue())
    manifest = json.loads(entries.pop("manifest.json"))
    assert manifest == returned.to_json()
    assert manifest["format"] == "jobplan-bundle"
    assert manifest["format_version"] == FORMAT_VERSION == 1
    assert manifest["jobplan_version"] == jobplan.__version__
    assert (manifest["source_tenant"], manifest["source_system"]) == ("acme", "prod-eu")
    assert manifest["correlation_id"] == "change-42"
    assert manifest["created_at"] == "2025-03-04T05:06:07Z"
    assert manifest["with_tokens"] is False and manifest["tokens"] == []
    assert manifest["plans"] == [
        {
            "folder": "finance/eod",
            "name": "nightly-settlement",
            "version": "1.0.0",
            "version_id": "v-17",
            "entry": "context/nightly-settlement.json",
        }
    ]
    files = {name: data for name, data in entries.items() if not name.endswith("/")}
    assert manifest["entries"] == {
        name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        for name, data in sorted(files.items())
    }


def test_output_is_deterministic_apart_from_the_time(kit) -> None:
    plans = [kit.load_example(name) for name in ("nightly.yaml", "hello.yaml")]
    first = kit.export(plans)
    assert kit.export(list(reversed(plans))) == first  # plan order does not matter
    later = kit.export(plans, created_at=datetime(2030, 1, 1, tzinfo=UTC))
    a, b = kit.zip_entries(first), kit.zip_entries(later)
    assert list(a) == list(b)
    assert [n for n in a if a[n] != b[n]] == ["manifest.json"]
    manifest_a, manifest_b = json.loads(a["manifest.json"]), json.loads(b["manifest.json"])
    manifest_b["created_at"] = manifest_a["created_at"]
    assert manifest_a == manifest_b


def test_ikasan_shape_of_entries(kit) -> None:
    plan = kit.load_example("my-first-job-plan.yaml")
    entries = {
        name: json.loads(data)
        for name, data in kit.zip_entries(kit.export([plan])).items()
        if name.endswith(".json")
    }
    context = entries["context/MyFirstJobPlan.json"]
    assert context["name"] == "MyFirstJobPlan"
    assert (context["timeWindowStart"], context["contextTtlMilliseconds"]) == (
        "0 0 1 ? * * *",
        82_800_000,
    )
    assert context["ableToRunConcurrently"] is True
    assert context["contextParameters"] == [
        {"name": "sample_param", "defaultValue": "sample default value"}
    ]
    script, global_context = context["contexts"]
    # SampleCommandExecutionJob1 is listed where jobs depend on it, as Ikasan does
    assert [job["jobName"] for job in script["scheduledJobs"]][-1] == "SampleCommandExecutionJob1"
    assert [job["jobName"] for job in global_context["scheduledJobs"]] == [
        "GlobalEventJob1",
        "SampleCommandExecutionJob6",
    ]
    job3 = entries["jobs/internal/MyFirstJobPlan/SampleCommandExecutionJob3.json"]
    assert job3["identifier"] == "scheduler-agent-SampleCommandExecutionJob3"
    assert job3["commandLine"].startswith('echo "Running Job')
    assert (job3["minExecutionTime"], job3["maxExecutionTime"]) == (10, 1_000_000)
    assert job3["successfulReturnCodes"] == ["0"]
    assert "jobplan" not in job3  # everything it has, Ikasan can say
    lock = context["jobLocks"][0]
    assert lock["name"] == "MyFirstLock" and lock["lockCount"] == 1
    job7 = entries["jobs/internal/MyFirstJobPlan/SampleCommandExecutionJob7.json"]
    assert job7["participatesInLock"] is True and job3["participatesInLock"] is False
    gate = entries["jobs/quartz/MyFirstJobPlan/7amScheduledEvent.json"]
    assert (gate["cronExpression"], gate["timeZone"]) == ("* * 7 ? * * *", "UTC")
    watcher = entries["jobs/file/MyFirstJobPlan/FileWatcherJob1.json"]
    assert (watcher["filePath"], watcher["filenames"], watcher["minFileAgeSeconds"]) == (
        "the file path",
        ["file.1.txt"],
        30,
    )
    assert context["jobplan"] == {"folder": ""}


def test_the_extension_holds_what_ikasan_cannot(kit) -> None:
    plan = kit.load_example("nightly.yaml")
    entries = {
        name: json.loads(data)
        for name, data in kit.zip_entries(kit.export([plan])).items()
        if name.endswith(".json")
    }
    context = entries["context/nightly-settlement.json"]
    ext = context["jobplan"]
    assert ext["folder"] == "finance/eod" and ext["version"] == "1.0.0"
    assert ext["policies"]["max_retries"] == 2 and ext["notifications"]["overdue_after_seconds"]
    assert ext["parameter_details"] == {
        "REGION": {"description": "Trading region to settle.", "per_environment": True},
        "DATA_DIR": {"per_environment": True},
    }
    assert ext["window"]["jitter_seconds"] == 30  # the rest of the window is Ikasan's
    assert context["timeWindowStart"] == "0 0 1 ? * MON-FRI"
    assert context["timezone"] == "Europe/London"
    http = entries["jobs/http/nightly-settlement/post-to-ledger.json"]
    assert http["jobName"] == "post-to-ledger"
    assert http["jobplan"]["url"] == "https://ledger.example.com/api/v2/settlements"
    assert http["jobplan"]["expected_statuses"] == [200, 202]
    load = entries["jobs/internal/nightly-settlement/load-trades.json"]
    assert set(load.get("jobplan", {})) <= {"depends_on"}
    # stage dependencies on stages are Ikasan context dependencies
    settle = context["contexts"][1]
    assert settle["name"] == "settle" and "jobplan" not in settle
    assert context["contextDependencies"] == [
        {
            "contextDependencyName": "settle",
            "contextIdentifier": "settle",
            "logicalGrouping": {"and": [{"identifier": "ingest"}]},
        }
    ]


def test_several_plans_and_versions_get_unique_keys(kit) -> None:
    def plan(folder: str, version: str | None) -> PlanDocument:
        return PlanDocument.model_validate(
            {
                "name": "nightly",
                "folder": folder,
                "version": version,
                "jobs": [{"name": "a", "kind": "command", "command": "true"}],
            }
        )

    plans = [
        BundlePlan(plan("b", "1.0.0")),
        BundlePlan(plan("a", "1.10.0")),
        BundlePlan(plan("a", "1.9.0")),
        BundlePlan(kit.load_example("hello.yaml")),
    ]
    data = kit.export(plans)
    contexts = [
        name for name in _names(data) if name.startswith("context/") and name.endswith(".json")
    ]
    # plan by plan: sorted by folder, name, then version numerically
    assert contexts == [
        "context/hello.json",
        "context/a~nightly@1.9.0.json",
        "context/a~nightly@1.10.0.json",
        "context/b~nightly.json",
    ]
    contents = kit.read(data)
    assert [(p.document.folder, p.document.name, p.version) for p in contents.plans] == [
        ("", "hello", None),
        ("a", "nightly", "1.9.0"),
        ("a", "nightly", "1.10.0"),
        ("b", "nightly", "1.0.0"),
    ]
    assert "jobs/internal/a~nightly@1.9.0/a.json" in _names(data)


def test_the_same_plan_version_twice_is_refused(kit) -> None:
    plan = kit.load_example("hello.yaml")
    with pytest.raises(BundleError, match="'hello' is given twice"):
        kit.export([plan, plan])


def test_root_folder(kit) -> None:
    data = kit.export([kit.load_example("hello.yaml")], root_folder="1700000000000-hello")
    names = _names(data)
    assert names[0] == "1700000000000-hello/"
    assert all(name.startswith("1700000000000-hello/") for name in names)
    assert "1700000000000-hello/manifest.json" in names
    contents = kit.read(data)
    assert contents.root_folder == "1700000000000-hello"
    assert contents.documents == [kit.load_example("hello.yaml")]


class _Pipe(io.RawIOBase):
    """A write-only stream that cannot seek, like a socket or an HTTP response body."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.chunks.append(bytes(data))
        return len(data)


def test_streams_to_a_non_seekable_output(kit) -> None:
    pipe = _Pipe()
    plan = kit.load_example("nightly.yaml")
    write_bundle([BundlePlan(plan)], pipe, source_tenant="acme", created_at=kit.stamp)
    assert len(pipe.chunks) > 10  # written as it goes, not in one piece
    assert kit.read(b"".join(pipe.chunks)).documents == [plan]


def test_progress_and_abort(kit) -> None:
    seen: list[tuple[int, int]] = []
    kit.export(
        [kit.load_example("nightly.yaml")], progress=lambda done, total: seen.append((done, total))
    )
    total = len(DIRECTORIES) + 1 + 11 + 1  # folders, context, jobs, manifest
    assert seen == [(done, total) for done in range(1, total + 1)]

    class Cancelled(Exception):
        pass

    def cancel(done: int, total: int) -> None:
        if done == 12:
            raise Cancelled

    with pytest.raises(Cancelled):
        kit.export([kit.load_example("nightly.yaml")], progress=cancel)


def test_ambiguous_ikasan_identifiers_are_refused(kit) -> None:
    plan = PlanDocument.model_validate(
        {
            "name": "clash",
            "jobs": [
                {"name": "b-c", "kind": "command", "command": "true", "agent": "a"},
                {"name": "c", "kind": "command", "command": "true", "agent": "a-b"},
            ],
        }
    )
    with pytest.raises(BundleError, match="identifier 'a-b-c' names both job"):
        kit.export([plan])
