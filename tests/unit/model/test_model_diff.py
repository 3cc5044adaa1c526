"""Plan diffs, as printed by ``jobplan apply``."""

from __future__ import annotations

from typing import Any

from jobplan.model import Change, ChangeKind, PlanDocument, diff_plans


def _command(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "kind": "command", "command": f"echo {name}", **fields}


def _plan(**fields: Any) -> PlanDocument:
    data: dict[str, Any] = {
        "name": "nightly",
        "version": "1.0.0",
        "parameters": [{"name": "region", "default": "eu"}],
        "window": {"cron": "0 0 1 ? * *"},
        "jobs": [_command("extract"), _command("load", depends_on="extract")],
        "stages": [{"name": "publish", "depends_on": "load", "jobs": [_command("report")]}],
        "locks": [{"name": "db", "jobs": ["load"]}],
    }
    data.update(fields)
    return PlanDocument.model_validate(data)


def test_identical_plans_have_no_changes() -> None:
    assert _plan().diff(_plan()) == []


def test_version_and_order_are_not_changes() -> None:
    old = _plan()
    new = _plan(
        version="2.0.0", jobs=[_command("load", depends_on=["extract"]), _command("extract")]
    )
    assert old.diff(new) == []


def test_changes_in_document_order() -> None:
    old = _plan()
    new = _plan(
        description="Nightly load",
        parameters=[{"name": "region", "default": "us"}, {"name": "day"}],
        window={"cron": "0 0 2 ? * *", "timezone": "Europe/Paris"},
        policies={"max_retries": 3},
        jobs=[
            _command("extract", command="extract.sh --all"),
            _command("load", depends_on={"or": ["extract", "manual"]}),
            {"name": "manual", "kind": "event", "event": "manual-go"},
        ],
        stages=[{"name": "publish", "depends_on": "load", "jobs": []}],
        locks=[{"name": "db", "count": 2, "jobs": ["load"]}],
    )
    assert [str(change) for change in old.diff(new)] == [
        '~ description: "" -> "Nightly load"',
        '~ parameters.region.default: "eu" -> "us"',
        "+ parameters.day",
        '~ window.cron: "0 0 1 ? * *" -> "0 0 2 ? * *"',
        '~ window.timezone: "UTC" -> "Europe/Paris"',
        "~ policies.max_retries: 0 -> 3",
        '~ jobs.extract.command: "echo extract" -> "extract.sh --all"',
        '~ jobs.load.depends_on: "extract" -> "extract or manual"',
        "- jobs.report",
        "+ jobs.manual",
        "~ locks.db.count: 1 -> 2",
    ]


def test_window_added_and_removed() -> None:
    with_window = _plan()
    without = _plan(window=None)
    assert diff_plans(with_window, without) == [
        Change(ChangeKind.REMOVED, "window", before=with_window.model_dump(mode="json")["window"])
    ]
    (added,) = diff_plans(without, with_window)
    assert added.kind is ChangeKind.ADDED and str(added) == "+ window"


def test_job_moved_between_stages_and_kind_changed() -> None:
    old = _plan()
    new = _plan(
        jobs=[_command("extract"), _command("load", depends_on="extract"), _command("report")],
        stages=[{"name": "publish", "depends_on": "load"}],
    )
    assert [str(c) for c in old.diff(new)] == ['~ jobs.report.stage: "publish" -> null']
    changed_kind = _plan(
        jobs=[
            {"name": "extract", "kind": "http", "url": "https://example.com/run"},
            _command("load", depends_on="extract"),
        ]
    )
    lines = [str(c) for c in old.diff(changed_kind)]
    assert '~ jobs.extract.kind: "command" -> "http"' in lines
    assert "- jobs.extract.command" in lines
    assert '+ jobs.extract.url = "https://example.com/run"' in lines


def test_long_values_are_shortened() -> None:
    old = _plan()
    new = _plan(
        jobs=[_command("extract", command="x" * 500), _command("load", depends_on="extract")]
    )
    (change,) = old.diff(new)
    assert change.after == "x" * 500
    assert len(str(change)) < 200 and str(change).endswith("...")
