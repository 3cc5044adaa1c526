"""Scheduler maths (pure): due fires under each misfire policy, blackouts, next window fire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jobplan.cron import CronExpression
from jobplan.engine.scheduler import MAX_CATCHUP_RUNS, due_fires, in_blackout, next_window_fire
from jobplan.model import Blackout, PlanDocument, Policies

NOW = datetime(2030, 1, 7, 12, 0, 30, tzinfo=UTC)  # a Monday
MINUTE = CronExpression("0 * * * * ?", "UTC")
THRESHOLD = timedelta(seconds=60)


def minutes(*offsets: int) -> list[datetime]:
    """Whole minutes relative to 12:00 on NOW's day."""
    noon = NOW.replace(second=0)
    return [noon + timedelta(minutes=m) for m in offsets]


def policies(misfire: str = "run_once", catchup: int = 3600) -> Policies:
    return Policies(misfire=misfire, catchup_window_seconds=catchup)  # type: ignore[arg-type]


def test_a_fire_due_now_is_on_time() -> None:
    fires = due_fires(MINUTE, minutes(0)[0], NOW, policies(), THRESHOLD)
    assert (fires.missed, fires.on_time) == ([], minutes(0))


def test_fires_late_by_less_than_the_threshold_are_on_time() -> None:
    late = due_fires(MINUTE, minutes(0)[0], NOW + timedelta(seconds=29), policies(), THRESHOLD)
    assert (late.missed, late.on_time) == ([], minutes(0))


@pytest.mark.parametrize(
    ("misfire", "missed"),
    [
        ("skip", []),
        ("run_once", minutes(-1)),
        ("run_all", minutes(*range(-9, 0))),
    ],
)
def test_misfire_policies(misfire: str, missed: list[datetime]) -> None:
    first_due = NOW - timedelta(hours=2)
    fires = due_fires(MINUTE, first_due, NOW, policies(misfire, catchup=600), THRESHOLD)
    assert fires.missed == missed
    assert fires.on_time == minutes(0)


def test_catch_up_starts_at_the_first_due_fire_inside_the_window() -> None:
    fires = due_fires(MINUTE, minutes(-3)[0], NOW, policies("run_all", catchup=3600), THRESHOLD)
    assert fires.missed == minutes(-3, -2, -1)


def test_a_zero_catch_up_window_catches_nothing_up() -> None:
    fires = due_fires(MINUTE, minutes(-30)[0], NOW, policies("run_all", catchup=0), THRESHOLD)
    assert (fires.missed, fires.on_time) == ([], minutes(0))


def test_catch_up_is_capped_to_the_latest_fires() -> None:
    every_second = CronExpression("* * * * * ?", "UTC")
    fires = due_fires(
        every_second, NOW - timedelta(hours=2), NOW, policies("run_all", 86400), THRESHOLD
    )
    assert len(fires.missed) == MAX_CATCHUP_RUNS
    assert fires.missed[-1] == NOW - THRESHOLD
    assert len(fires.on_time) == 60


def test_nothing_due_yet() -> None:
    fires = due_fires(MINUTE, minutes(1)[0], NOW, policies(), THRESHOLD)
    assert (fires.missed, fires.on_time) == ([], [])


# --- blackouts --------------------------------------------------------------------------------


def blackout(**fields: object) -> Blackout:
    return Blackout.model_validate(fields)


SUNDAY_NIGHT = blackout(cron="* * 0-5 ? * SUN")


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2030, 1, 6, 0, 0, 0, tzinfo=UTC), True),  # Sunday 00:00
        (datetime(2030, 1, 6, 5, 59, 59, 999_000, tzinfo=UTC), True),
        (datetime(2030, 1, 6, 6, 0, 0, tzinfo=UTC), False),
        (datetime(2030, 1, 7, 3, 0, 0, tzinfo=UTC), False),  # Monday
        (datetime(2030, 1, 5, 23, 59, 59, tzinfo=UTC), False),  # Saturday
    ],
)
def test_cron_blackout(moment: datetime, expected: bool) -> None:
    assert in_blackout([SUNDAY_NIGHT], moment, "UTC") is expected


def test_cron_blackout_is_read_in_the_schedule_time_zone() -> None:
    # Sunday 05:30 in New York is 10:30 UTC; Sunday 03:00 UTC is Saturday evening there
    assert in_blackout([SUNDAY_NIGHT], datetime(2030, 1, 6, 10, 30, tzinfo=UTC), "America/New_York")
    assert not in_blackout(
        [SUNDAY_NIGHT], datetime(2030, 1, 6, 3, 0, tzinfo=UTC), "America/New_York"
    )


def test_range_blackout_includes_start_and_excludes_end() -> None:
    exact = blackout(start="2030-01-07T10:00:00+00:00", end="2030-01-07T11:00:00+00:00")
    assert in_blackout([exact], datetime(2030, 1, 7, 10, 0, tzinfo=UTC), "Asia/Tokyo")
    assert in_blackout([exact], datetime(2030, 1, 7, 10, 59, 59, tzinfo=UTC), "UTC")
    assert not in_blackout([exact], datetime(2030, 1, 7, 11, 0, tzinfo=UTC), "UTC")
    assert not in_blackout([exact], datetime(2030, 1, 7, 9, 59, 59, tzinfo=UTC), "UTC")


def test_range_blackout_without_offset_is_read_in_the_schedule_time_zone() -> None:
    local = blackout(start="2030-01-07T10:00:00", end="2030-01-07T11:00:00")
    # 10:00-11:00 in Tokyo (UTC+9) is 01:00-02:00 UTC
    assert in_blackout([local], datetime(2030, 1, 7, 1, 30, tzinfo=UTC), "Asia/Tokyo")
    assert not in_blackout([local], datetime(2030, 1, 7, 10, 30, tzinfo=UTC), "Asia/Tokyo")
    assert in_blackout([local], datetime(2030, 1, 7, 10, 30, tzinfo=UTC), "UTC")


def test_any_blackout_of_several_counts() -> None:
    ranges = [
        blackout(start="2030-01-01T00:00:00", end="2030-01-02T00:00:00"),
        SUNDAY_NIGHT,
    ]
    assert in_blackout(ranges, datetime(2030, 1, 6, 1, 0, tzinfo=UTC), "UTC")
    assert in_blackout(ranges, datetime(2030, 1, 1, 12, 0, tzinfo=UTC), "UTC")
    assert not in_blackout(ranges, datetime(2030, 1, 3, 1, 0, tzinfo=UTC), "UTC")
    assert not in_blackout([], datetime(2030, 1, 3, 1, 0, tzinfo=UTC), "UTC")


# --- next window fire -------------------------------------------------------------------------


def test_next_window_fire_is_strictly_after_and_in_utc() -> None:
    document = PlanDocument.model_validate(
        {"name": "p", "window": {"cron": "0 0 9 * * ?", "timezone": "Europe/Paris"}}
    )
    nine_paris = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)
    assert next_window_fire(document, nine_paris - timedelta(seconds=1), {}) == nine_paris
    following = next_window_fire(document, nine_paris, {})
    assert following == nine_paris + timedelta(days=1)
    assert following is not None and following.utcoffset() == timedelta(0)
    assert next_window_fire(PlanDocument.model_validate({"name": "p"}), NOW, {}) is None
