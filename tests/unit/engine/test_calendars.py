"""Window fire times with calendars: whole local days skipped (or kept), in the window's
zone, across daylight-saving changes; ``MM-DD`` days recur every year."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from jobplan.engine.calendars import MAX_SKIPPED_DAYS, window_schedule
from jobplan.engine.scheduler import due_fires
from jobplan.model import CalendarDays, Policies, Window

LONDON = ZoneInfo("Europe/London")


def days(*texts: str) -> dict[str, CalendarDays]:
    return {"hol": CalendarDays.of(list(texts))}


def fires(
    window: dict[str, object], after: datetime, count: int, cal: dict[str, CalendarDays]
) -> list[datetime]:
    schedule = window_schedule(Window.model_validate(window), cal)
    out, moment = [], after
    for _ in range(count):
        fire = schedule.next_after(moment)
        if fire is None:
            break
        out.append(fire)
        moment = fire
    return out


def test_excluded_dates_and_every_year_days_are_skipped_whole() -> None:
    window = {"cron": "0 0 6 * * ?", "timezone": "Europe/London", "calendar": "hol"}
    start = datetime(2030, 12, 23, tzinfo=UTC)
    got = fires(window, start, 4, days("2030-12-26", "12-25"))
    assert [f.astimezone(LONDON).date().isoformat() for f in got] == [
        "2030-12-23",
        "2030-12-24",
        "2030-12-27",
        "2030-12-28",
    ]
    # the every-year day recurs: 2031's Christmas is skipped too, 2031-12-26 is not
    later = fires(window, datetime(2031, 12, 24, 12, tzinfo=UTC), 2, days("2030-12-26", "12-25"))
    assert [f.date().isoformat() for f in later] == ["2031-12-26", "2031-12-27"]


def test_days_are_the_windows_local_days() -> None:
    """01:00 in Auckland on 8 January is 12:00 UTC on the 7th: excluding the 8th drops
    that fire, not the one at 12:00 UTC on the 8th (the 9th in Auckland)."""
    window = {"cron": "0 0 1 * * ?", "timezone": "Pacific/Auckland", "calendar": ["hol"]}
    got = fires(window, datetime(2030, 1, 6, 11, tzinfo=UTC), 2, days("2030-01-08"))
    assert [f.astimezone(UTC) for f in got] == [
        datetime(2030, 1, 6, 12, tzinfo=UTC),  # 01:00 on the 7th in Auckland
        datetime(2030, 1, 8, 12, tzinfo=UTC),  # 01:00 on the 9th: the 8th is skipped
    ]
    # in UTC the same calendar drops the fire on the 8th (UTC)
    utc = fires(
        {**window, "timezone": "UTC"}, datetime(2030, 1, 7, 2, tzinfo=UTC), 1, days("2030-01-08")
    )
    assert utc == [datetime(2030, 1, 9, 1, tzinfo=UTC)]


def test_a_whole_local_day_is_skipped_across_daylight_saving_changes() -> None:
    hourly = {"cron": "0 0 * * * ?", "timezone": "Europe/London", "calendar": "hol"}
    # 31 March 2030 has 23 hours in London; 27 October 2030 has 25
    spring = fires(hourly, datetime(2030, 3, 30, 22, 30, tzinfo=UTC), 2, days("2030-03-31"))
    assert [f.astimezone(UTC) for f in spring] == [
        datetime(2030, 3, 30, 23, tzinfo=UTC),  # 23:00 GMT on the 30th
        datetime(2030, 3, 31, 23, tzinfo=UTC),  # 00:00 BST on 1 April
    ]
    autumn = fires(hourly, datetime(2030, 10, 26, 21, 30, tzinfo=UTC), 2, days("2030-10-27"))
    assert [f.astimezone(UTC) for f in autumn] == [
        datetime(2030, 10, 26, 22, tzinfo=UTC),  # 23:00 BST on the 26th
        datetime(2030, 10, 28, 0, tzinfo=UTC),  # 00:00 GMT on the 28th
    ]


def test_only_mode_fires_on_the_calendars_days_alone() -> None:
    window = {
        "cron": "0 0 18 * * ?",
        "timezone": "America/New_York",
        "calendar": "hol",
        "calendar_mode": "only",
    }
    month_ends = days("2030-01-31", "2030-02-28", "2030-03-29")
    got = fires(window, datetime(2030, 1, 1, tzinfo=UTC), 5, month_ends)
    assert [f.date().isoformat() for f in got] == ["2030-01-31", "2030-02-28", "2030-03-29"]
    assert all(f.hour == 18 for f in got)


def test_an_only_calendar_with_no_days_ahead_never_fires() -> None:
    window = {"cron": "0 0 6 * * ?", "calendar": "hol", "calendar_mode": "only"}
    assert fires(window, datetime(2030, 1, 1, tzinfo=UTC), 1, days("2029-05-01")) == []
    assert MAX_SKIPPED_DAYS >= 366


def test_windows_without_calendars_and_unknown_names_keep_every_fire() -> None:
    every = fires({"cron": "0 0 6 * * ?"}, datetime(2030, 1, 1, tzinfo=UTC), 3, days("2030-01-02"))
    assert len(every) == 3 and every[1].date().isoformat() == "2030-01-02"
    named = {"cron": "0 0 6 * * ?", "calendar": "missing"}
    assert len(fires(named, datetime(2030, 1, 1, tzinfo=UTC), 3, {})) == 3


def test_skipped_days_are_not_misfires() -> None:
    """A scheduler back after two days with its next fire on an excluded day catches up
    only real fires: the excluded day's is not one, so it is neither run nor missed."""
    window = Window.model_validate({"cron": "0 0 6 * * ?", "calendar": "hol"})
    schedule = window_schedule(window, days("2030-01-02"))
    first_due = datetime(2030, 1, 2, 6, tzinfo=UTC)
    now = datetime(2030, 1, 3, 6, 0, 30, tzinfo=UTC)
    plan = due_fires(
        schedule,
        first_due,
        now,
        Policies(misfire="run_all", catchup_window_seconds=86400 * 3),
        timedelta(seconds=60),
    )
    assert plan.missed == [] and plan.on_time == [datetime(2030, 1, 3, 6, tzinfo=UTC)]


def test_the_previous_fire_in_a_jobs_context_skips_calendar_days_too() -> None:
    """JOBPLAN_PREVIOUS_SCHEDULED_FOR is the window's previous fire: after a holiday, the
    day before it (the run that really happened), not the holiday."""
    from jobplan.engine.context import previous_fire

    window = Window.model_validate({"cron": "0 0 6 * * ?", "calendar": "hol"})
    schedule = window_schedule(window, days("2030-01-08", "2030-01-09"))
    before = datetime(2030, 1, 10, 6, tzinfo=UTC)
    assert previous_fire(window, schedule, before) == datetime(2030, 1, 7, 6, tzinfo=UTC)
    plain = window_schedule(window, {})
    assert previous_fire(window, plain, before) == datetime(2030, 1, 9, 6, tzinfo=UTC)
