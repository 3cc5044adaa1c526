"""Our bundles round-trip: export -> import -> export gives the same plans and the same bytes."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import pytest

from jobplan.bundle import BundlePlan, TokenSpec
from jobplan.model import PlanDocument

EXAMPLES = ["hello.yaml", "my-first-job-plan.yaml", "nightly.yaml", "walkthrough.yaml"]


def _round_trip(kit, plans: list[BundlePlan], **options: Any) -> list[BundlePlan]:
    tokens = options.pop("token_values", None)
    first = kit.export(plans, **options)
    contents = kit.read(first, tokens=tokens)
    assert contents.warnings == []
    second = kit.export(contents.plans, **options)
    assert second == first, "export -> import -> export changed the bundle"
    return contents.plans


@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_round_trip(kit, name: str) -> None:
    plan = kit.load_example(name)
    (back,) = _round_trip(kit, [BundlePlan(plan, version="2.0.0", version_id="id-1")])
    assert back.document == plan
    assert (back.version, back.version_id) == ("2.0.0", "id-1")


def test_all_examples_in_one_bundle(kit) -> None:
    plans = [BundlePlan(kit.load_example(name)) for name in EXAMPLES]
    back = _round_trip(kit, plans)
    assert sorted(p.document.name for p in back) == sorted(p.document.name for p in plans)
    by_name = {p.document.name: p.document for p in back}
    for plan in plans:
        assert by_name[plan.document.name] == plan.document


def _kitchen_sink() -> PlanDocument:
    """Every field, and forms Ikasan cannot express (they travel in the extension)."""
    return PlanDocument.model_validate(
        {
            "name": "sink",
            "folder": "ops/misc",
            "description": 'Text with [[brackets]] and \\u005b escapes, quotes " and \\\\.',
            "version": "3.2.1",
            "enabled": False,
            "parameters": [
                {"name": "A", "default": "x", "description": "first", "per_environment": True},
                {"name": "B"},
            ],
            "window": {
                "cron": "0 0/15 * ? * MON-FRI",
                "timezone": "America/New_York",
                "ttl_seconds": 1,
                "jitter_seconds": 7,
                "dst_gap": "run_at_gap_end",
                "blackouts": [
                    {"cron": "* * 0-5 ? * SUN", "description": "maintenance"},
                    {"start": "2025-12-24T00:00:00", "end": "2025-12-27T00:00:00"},
                    {"start": "2025-06-01T22:00:00+02:00", "end": "2025-06-02T02:00:00.5+02:00"},
                ],
            },
            "policies": {
                "overlap": "buffer_all",
                "on_error": "end",
                "misfire": "run_all",
                "catchup_window_seconds": 0,
                "max_retries": 3,
                "retry_backoff_seconds": 1,
                "retry_backoff_max_seconds": 5,
                "retry_jitter": 0.5,
                "timeout_seconds": 99,
                "history": "MINIMAL",
                "retention_days": 7,
            },
            "notifications": {
                "on_failure": ["ops@example.com"],
                "on_success": ["https://hooks.example.com/x"],
                "overdue_after_seconds": 60,
            },
            "jobs": [
                {
                    "name": "gate",
                    "kind": "time",
                    "cron": "0 0 7 ? * *",
                    "timezone": "Asia/Tokyo",
                    "dst_gap": "run_at_gap_end",
                    "agent": "host-a",
                    "blackouts": [{"start": "2025-01-01T00:00:00Z", "end": "2025-01-02T00:00:00Z"}],
                },
                {
                    "name": "wait",
                    "kind": "command",
                    "command": "sleep 1",
                    "depends_on": {"not": "gate"},
                    "min_execution_seconds": 0.5,
                    "max_execution_seconds": 2.25,
                    "timeout_seconds": 30,
                    "max_retries": 1,
                    "environment": {"LANG": "C"},
                    "success_exit_codes": [1, 0],
                },
                {
                    "name": "zero",
                    "kind": "command",
                    "command": "true",
                    "min_execution_seconds": 0,
                    "startup": "manual",
                    "depends_on": ["wait", "wait"],
                },
                {
                    "name": "ev",
                    "kind": "event",
                    "event": "other-name",
                    "agent": "GLOBAL_EVENT",
                    "depends_on": {"or": ["gate", {"not": "wait"}]},
                },
                {"name": "listen", "kind": "event", "event": "listen"},
            ],
            "stages": [
                {
                    "name": "one",
                    "description": "first stage",
                    "enabled": False,
                    "parameters": [{"name": "S", "default": "s", "per_environment": True}],
                    "window": {"cron": "0 0 1 ? * *", "ttl_seconds": 60},
                    "depends_on": {"and": ["gate", {"stage": "two"}]},
                    "jobs": [
                        {
                            "name": "http",
                            "kind": "http",
                            "method": "POST",
                            "url": "https://api.example.com/x?a=[[b]]",
                            "headers": {"X-A": "1"},
                            "body": {"k": [1, "two", None], "[[key]]": True},
                            "expected_statuses": ["2xx", 409],
                            "agent": "host-b",
                            "parameters": [{"name": "H", "default": "h", "per_environment": True}],
                        },
                        {
                            "name": "svc",
                            "kind": "http",
                            "service": "rates",
                            "operation": "refresh",
                            "service_type": "intSer",
                            "service_version": "1.0",
                            "object_name": "o",
                            "security_level": "public",
                            "body": "raw text",
                        },
                        {
                            "name": "files",
                            "kind": "file",
                            "path": "/in",
                            "patterns": ["*.csv", "a?b"],
                            "min_age_seconds": 0,
                            "poll_cron": "0 * * * * ?",
                            "timezone": "Europe/Paris",
                            "depth": 3,
                            "move_to": "/done",
                            "depends_on": {
                                "or": [{"and": ["gate", "wait"]}, {"not": {"or": ["zero"]}}]
                            },
                        },
                    ],
                    "stages": [
                        {
                            "name": "deep",
                            "stages": [
                                {
                                    "name": "deeper",
                                    "jobs": [
                                        {
                                            "name": "leaf",
                                            "kind": "command",
                                            "command": "echo leaf\nexit 0",
                                            "working_directory": "/tmp",
                                            "depends_on": {"stage": "deep2"},
                                        },
                                    ],
                                },
                                {
                                    "name": "deep2",
                                    "jobs": [
                                        {
                                            "name": "leaf2",
                                            "kind": "command",
                                            "command": "true",
                                            "description": "x" * 3000,
                                        },
                                    ],
                                },
                            ],
                        },
                    ],
                },
                {
                    "name": "two",
                    "depends_on": {"not": "zero"},
                    "jobs": [
                        {"name": "t", "kind": "command", "command": "true", "agent": "host-a"},
                    ],
                },
                {"name": "three", "depends_on": {"or": [{"stage": "two"}, "gate"]}},
            ],
            "locks": [
                {"name": "db", "count": 2, "jobs": ["leaf", "wait", "t"], "description": "db"},
                {"name": "solo", "jobs": ["zero"]},
            ],
        }
    )


def test_everything_round_trips(kit) -> None:
    plan = _kitchen_sink()
    (back,) = _round_trip(kit, [BundlePlan(plan, version_id="v")])
    assert back.document == plan
    assert plan.diff(back.document) == []


def test_everything_round_trips_with_tokens(kit) -> None:
    plan = _kitchen_sink()
    spec = TokenSpec(context_name="token", values={"/in": "env.inbox"})
    values = {
        "agent.host-a.name": "host-a",
        "agent.host-b.name": "host-b",
        "context.name": "sink",
        "env.inbox": "/in",
        "A": "x",
        "S": "s",
        "H": "h",
    }
    (back,) = _round_trip(
        kit, [BundlePlan(plan)], with_tokens=True, tokens=spec, token_values=values
    )
    assert back.document == plan


@pytest.mark.slow
def test_ten_thousand_jobs(kit, capsys) -> None:
    stages = []
    for s in range(100):
        jobs: list[dict[str, Any]] = []
        for j in range(100):
            i = s * 100 + j
            job: dict[str, Any] = {
                "name": f"job-{i:05d}",
                "kind": "command",
                "command": f"./run --part {i}",
                "agent": f"agent-{i % 4}",
            }
            if j:
                job["depends_on"] = f"job-{i - 1:05d}"
            elif s:
                job["depends_on"] = {"or": [f"job-{i - 1:05d}", {"not": f"job-{i - 2:05d}"}]}
            jobs.append(job)
        stages.append({"name": f"stage-{s:03d}", "jobs": jobs})
    plan = PlanDocument.model_validate({"name": "big", "folder": "perf", "stages": stages})

    started = time.perf_counter()
    first = kit.export([plan])
    exported = time.perf_counter()
    contents = kit.read(first)
    imported = time.perf_counter()
    second = kit.export(contents.plans)
    again = time.perf_counter()

    assert contents.documents == [plan]
    assert second == first
    with capsys.disabled():
        print(
            f"\n10,000-job plan: export {exported - started:.2f} s "
            f"({len(first) / 1e6:.1f} MB), import {imported - exported:.2f} s, "
            f"re-export {again - imported:.2f} s"
        )


def test_calendars_travel_with_their_plans(kit) -> None:
    """``calendars/<name>.json`` entries, named in the manifest, read back as they were and
    written again byte for byte; a hand-edited entry naming another calendar is refused."""
    from jobplan.bundle.errors import BundleSchemaError
    from jobplan.model import CalendarDocument

    plan = PlanDocument.model_validate(
        {"name": "p", "window": {"cron": "0 0 6 * * ?", "calendar": "hol"}}
    )
    hol = CalendarDocument(name="hol", description="Holidays", days=["12-25", "2030-01-02"])
    first = kit.export([plan], calendars=[hol])
    contents = kit.read(first)
    assert contents.calendars == [hol] and contents.manifest.calendars == ["hol"]
    assert kit.export(contents.plans, calendars=contents.calendars) == first
    assert kit.read(kit.export([plan])).manifest.calendars is None

    def rename(entries: dict[str, bytes]) -> None:
        edited = entries["calendars/hol.json"].replace(b'"hol"', b'"x"')
        entries["calendars/hol.json"] = edited
        manifest = json.loads(entries["manifest.json"])
        listed = {"sha256": hashlib.sha256(edited).hexdigest(), "size": len(edited)}
        manifest["entries"]["calendars/hol.json"] = listed
        entries["manifest.json"] = json.dumps(manifest).encode()

    with pytest.raises(BundleSchemaError, match="names calendar 'x'"):
        kit.read(kit.rezip(first, rename))
