"""Daylight-saving transitions, both ``dst_gap`` modes, across real 2026 transitions.

The ``skip`` expectations are Quartz 2.5's own results (``CronExpression.getTimeAfter`` in the
same zone); ``run_at_gap_end`` is jobplan's documented extension.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from jobplan.cron import CronExpression


def fires(expression: str, zone: str, after: str, count: int, dst_gap: str = "skip") -> list[str]:
    cron = CronExpression(expression, zone, dst_gap=dst_gap)  # type: ignore[arg-type]
    return [t.isoformat() for t in cron.next_times(datetime.fromisoformat(after), count)]


# (expression, zone, after, Quartz = skip, run_at_gap_end)
SPRING_FORWARD = [
    pytest.param(
        "0 30 1 * * ?",
        "Europe/London",  # 2026-03-29 01:00 GMT -> 02:00 BST
        "2026-03-28T12:00:00+00:00",
        ["2026-03-30T01:30:00+01:00", "2026-03-31T01:30:00+01:00"],
        ["2026-03-29T02:00:00+01:00", "2026-03-30T01:30:00+01:00"],
        id="london-daily-in-gap",
    ),
    pytest.param(
        "0 0 * * * ?",
        "Europe/London",
        "2026-03-29T00:30:00+00:00",
        ["2026-03-29T02:00:00+01:00", "2026-03-29T03:00:00+01:00"],
        ["2026-03-29T02:00:00+01:00", "2026-03-29T03:00:00+01:00"],
        id="london-hourly",
    ),
    pytest.param(
        "0 30 2 * * ?",
        "America/New_York",  # 2026-03-08 02:00 EST -> 03:00 EDT
        "2026-03-07T12:00:00-05:00",
        ["2026-03-09T02:30:00-04:00", "2026-03-10T02:30:00-04:00"],
        ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"],
        id="new-york-daily-in-gap",
    ),
    pytest.param(
        "0 0,30 2 * * ?",
        "America/New_York",
        "2026-03-08T01:00:00-05:00",
        ["2026-03-09T02:00:00-04:00", "2026-03-09T02:30:00-04:00"],
        ["2026-03-08T03:00:00-04:00", "2026-03-09T02:00:00-04:00"],
        id="new-york-two-fires-in-gap-run-once",
    ),
    pytest.param(
        "0 0/15 1-3 * * ?",
        "America/New_York",
        "2026-03-08T01:50:00-05:00",
        ["2026-03-08T03:00:00-04:00", "2026-03-08T03:15:00-04:00"],
        ["2026-03-08T03:00:00-04:00", "2026-03-08T03:15:00-04:00"],
        id="new-york-every-15-minutes",
    ),
    pytest.param(
        "0 30 2 ? * SUN",
        "Europe/Berlin",  # 2026-03-29 02:00 CET -> 03:00 CEST
        "2026-03-28T12:00:00+01:00",
        ["2026-04-05T02:30:00+02:00"],
        ["2026-03-29T03:00:00+02:00"],
        id="berlin-weekly-in-gap",
    ),
    pytest.param(
        "0 0,15,30,45 * * * ?",
        "Australia/Lord_Howe",  # 2026-10-04 02:00 +10:30 -> 02:30 +11:00 (30 minutes)
        "2026-10-04T01:45:00+10:30",
        ["2026-10-04T02:30:00+11:00", "2026-10-04T02:45:00+11:00"],
        ["2026-10-04T02:30:00+11:00", "2026-10-04T02:45:00+11:00"],
        id="lord-howe-quarter-hours",
    ),
    pytest.param(
        "0 10,35 2 * * ?",
        "Australia/Lord_Howe",
        "2026-10-03T12:00:00+10:30",
        ["2026-10-04T02:35:00+11:00", "2026-10-05T02:10:00+11:00"],
        ["2026-10-04T02:30:00+11:00", "2026-10-04T02:35:00+11:00"],
        id="lord-howe-half-hour-gap-daily",
    ),
    pytest.param(
        # Quartz's Calendar shifts 02:10 by the 30-minute gap to 02:40 and searches on from
        # there, so 02:35 - which exists - is passed over. Quartz does exactly this.
        "0 10,35 * * * ?",
        "Australia/Lord_Howe",
        "2026-10-04T01:50:00+10:30",
        ["2026-10-04T03:10:00+11:00", "2026-10-04T03:35:00+11:00"],
        ["2026-10-04T02:30:00+11:00", "2026-10-04T02:35:00+11:00"],
        id="lord-howe-shifted-search",
    ),
]


@pytest.mark.parametrize(("expression", "zone", "after", "quartz", "gap_end"), SPRING_FORWARD)
def test_spring_forward(
    expression: str, zone: str, after: str, quartz: list[str], gap_end: list[str]
) -> None:
    assert fires(expression, zone, after, len(quartz)) == quartz
    assert fires(expression, zone, after, len(gap_end), "run_at_gap_end") == gap_end


# Fall back: both modes behave as Quartz does - a repeated wall-clock time fires once, at its
# second (standard-time) occurrence.
FALL_BACK = [
    pytest.param(
        "0 30 1 * * ?",
        "America/New_York",  # 2026-11-01 02:00 EDT -> 01:00 EST
        "2026-10-31T12:00:00-04:00",
        ["2026-11-01T01:30:00-05:00", "2026-11-02T01:30:00-05:00"],
        id="new-york-daily-in-overlap",
    ),
    pytest.param(
        "0 0 * * * ?",
        "America/New_York",
        "2026-11-01T00:30:00-04:00",
        ["2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00"],
        id="new-york-hourly-skips-first-pass",
    ),
    pytest.param(
        "0 */20 * * * ?",
        "America/New_York",
        "2026-11-01T01:10:00-04:00",
        ["2026-11-01T01:20:00-05:00", "2026-11-01T01:40:00-05:00"],
        id="new-york-start-inside-first-pass",
    ),
    pytest.param(
        "0 30 1 * * ?",
        "Europe/London",  # 2026-10-25 02:00 BST -> 01:00 GMT
        "2026-10-24T12:00:00+01:00",
        ["2026-10-25T01:30:00+00:00", "2026-10-26T01:30:00+00:00"],
        id="london-daily-in-overlap",
    ),
    pytest.param(
        "0 30 2 ? * SUN",
        "Europe/Berlin",  # 2026-10-25 03:00 CEST -> 02:00 CET
        "2026-10-24T12:00:00+02:00",
        ["2026-10-25T02:30:00+01:00", "2026-11-01T02:30:00+01:00"],
        id="berlin-weekly-in-overlap",
    ),
    pytest.param(
        "0 45 1 * * ?",
        "Australia/Lord_Howe",  # 2026-04-05 02:00 +11:00 -> 01:30 +10:30
        "2026-04-04T12:00:00+11:00",
        ["2026-04-05T01:45:00+10:30", "2026-04-06T01:45:00+10:30"],
        id="lord-howe-half-hour-overlap",
    ),
    pytest.param(
        "0 15 1 * * ?",
        "Australia/Lord_Howe",
        "2026-04-04T12:00:00+11:00",
        ["2026-04-05T01:15:00+11:00", "2026-04-06T01:15:00+10:30"],
        id="lord-howe-before-overlap",
    ),
]


@pytest.mark.parametrize(("expression", "zone", "after", "expected"), FALL_BACK)
@pytest.mark.parametrize("dst_gap", ["skip", "run_at_gap_end"])
def test_fall_back(
    expression: str, zone: str, after: str, expected: list[str], dst_gap: str
) -> None:
    assert fires(expression, zone, after, len(expected), dst_gap) == expected


def test_overlap_results_carry_fold_so_they_convert_correctly() -> None:
    fire = CronExpression("0 30 1 * * ?", "America/New_York").next_after(
        datetime.fromisoformat("2026-11-01T00:00:00-04:00")
    )
    assert fire is not None
    assert fire.fold == 1
    assert fire.timestamp() == datetime.fromisoformat("2026-11-01T06:30:00+00:00").timestamp()


def test_run_at_gap_end_from_just_before_the_gap() -> None:
    cron = CronExpression("0 30 2 * * ?", "America/New_York", dst_gap="run_at_gap_end")
    for after in ("2026-03-08T01:59:59-05:00", "2026-03-08T01:59:59.999999-05:00"):
        fire = cron.next_after(datetime.fromisoformat(after))
        assert fire is not None
        assert fire.isoformat() == "2026-03-08T03:00:00-04:00"


def test_gap_runs_once_then_continues_after_the_gap() -> None:
    cron = CronExpression("0 */10 * * * ?", "Europe/London", dst_gap="run_at_gap_end")
    got = [
        t.isoformat()
        for t in cron.next_times(datetime.fromisoformat("2026-03-29T00:45:00+00:00"), 4)
    ]
    assert got == [
        "2026-03-29T00:50:00+00:00",
        "2026-03-29T02:00:00+01:00",  # 01:00-01:50 do not exist: one run at the gap's end
        "2026-03-29T02:10:00+01:00",
        "2026-03-29T02:20:00+01:00",
    ]
