"""The runs list of `jobplan runs status` shows the fire time each run serves."""

from __future__ import annotations

from jobplan.cli.output import out
from jobplan.cli.runs import _runs_table


def test_backfill_runs_show_their_fire_time() -> None:
    run = {
        "id": "01a23d84-6d1e-7197-9472-4c9e5c4f6d2b",
        "plan_path": "finance/hourly",
        "status": "COMPLETE",
        "trigger": "backfill",
        "scheduled_for": "2020-11-26T05:00:00Z",
        "started_at": "2020-12-03T20:06:58Z",
    }
    manual = {**run, "trigger": "manual", "scheduled_for": None}
    with out.capture() as captured:
        _runs_table([run, manual])
    lines = captured.get().splitlines()
    assert lines[0].split() == ["run", "plan", "status", "trigger", "for", "started"]
    assert "2020-11-26" in lines[1]  # the fire time, in the local zone (a date: not today)
    assert lines[2].split()[4] == "-"  # a manual run serves no fire
