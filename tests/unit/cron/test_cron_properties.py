"""Property tests: fire times increase, match every field, and none is skipped.

Expressions are generated together with an independent model of what they mean (plain sets of
allowed values and a slow day predicate written from the Quartz documentation), so the checks
share no code with the engine.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobplan.cron import CronExpression

MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
DST_ZONES = ["Europe/London", "America/New_York", "Australia/Sydney", "Australia/Lord_Howe"]
PLAIN_ZONES = ["UTC", "Asia/Tokyo", "Asia/Kolkata"]

PROPERTY_SETTINGS = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


def quartz_weekday(day: date) -> int:
    """1=SUN ... 7=SAT."""
    return {7: 1, 1: 2, 2: 3, 3: 4, 4: 5, 5: 6, 6: 7}[day.isoweekday()]


def nearest_weekday(year: int, month: int, day: int) -> int | None:
    """The Quartz ``W`` day for ``day`` (never leaves the month); None if no such day."""
    last = calendar.monthrange(year, month)[1]
    if not 1 <= day <= last:
        return None
    weekday = quartz_weekday(date(year, month, day))
    if weekday == 7:
        return 3 if day == 1 else day - 1
    if weekday == 1:
        return day - 2 if day == last else day + 1
    return day


@dataclass(frozen=True)
class Case:
    """A generated expression and its meaning."""

    text: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    years: frozenset[int] | None
    day_ok: Callable[[date], bool]
    simple_days: bool
    """No 'W' and no list mixing 'L' with days: Quartz then never skips a matching day."""
    has_weekday: bool

    def matches(self, moment: datetime) -> bool:
        return (
            moment.second in self.seconds
            and moment.minute in self.minutes
            and moment.hour in self.hours
            and moment.month in self.months
            and (self.years is None or moment.year in self.years)
            and self.day_ok(moment.date())
        )


@st.composite
def numeric_field(
    draw: st.DrawFn, low: int, high: int, names: list[str] | None = None
) -> tuple[str, frozenset[int]]:
    """A list of items (value, range, wrap-around range, steps) and the values it allows."""
    items: list[str] = []
    values: set[int] = set()
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["*", "value", "range", "wrap", "step", "star_step", "rstep"]))
        a = draw(st.integers(low, high))
        b = draw(st.integers(low, high))
        a, b = min(a, b), max(a, b)
        step = draw(st.integers(1, max(1, (high - low) // 2)))
        shown = names if names is not None and draw(st.booleans()) else None

        def name(v: int, shown: list[str] | None = shown) -> str:
            return shown[v - low] if shown is not None else str(v)

        if kind == "*":
            items.append("*")
            values |= set(range(low, high + 1))
        elif kind == "value":
            items.append(name(a))
            values.add(a)
        elif kind == "range":
            items.append(f"{name(a)}-{name(b)}")
            values |= set(range(a, b + 1))
        elif kind == "wrap" and a < b:
            items.append(f"{name(b)}-{name(a)}")  # e.g. 22-2: b..high then low..a
            values |= set(range(b, high + 1)) | set(range(low, a + 1))
        elif kind == "step":
            items.append(f"{a}/{step}")
            values |= set(range(a, high + 1, step))
        elif kind == "star_step":
            items.append(f"*/{step}")
            values |= set(range(low, high + 1, step))
        else:
            items.append(f"{a}-{b}/{step}")
            values |= set(range(a, b + 1, step))
    return ",".join(items), frozenset(values)


@st.composite
def day_of_month(draw: st.DrawFn) -> tuple[str, Callable[[date], bool], bool, bool]:
    """Text, predicate, simple?, has W?"""
    kind = draw(st.sampled_from(["*", "plain", "L", "L-n", "nW", "LW", "L-nW", "mixed"]))
    if kind == "*":
        return "*", lambda d: True, True, False
    if kind == "plain":
        text, days = draw(numeric_field(1, 31))
        return text, lambda d: d.day in days, True, False

    def last(d: date) -> int:
        return calendar.monthrange(d.year, d.month)[1]

    offset = draw(st.integers(0, 30) | st.integers(0, 5))
    day = draw(st.integers(1, 31))
    if kind == "L":
        return "L", lambda d: d.day == last(d), True, False
    if kind == "L-n":
        return f"L-{offset}", lambda d: d.day == last(d) - offset, True, False
    if kind == "nW":
        return f"{day}W", lambda d: d.day == nearest_weekday(d.year, d.month, day), False, True
    if kind == "LW":
        return "LW", lambda d: d.day == nearest_weekday(d.year, d.month, last(d)), False, True
    if kind == "L-nW":
        return (
            f"L-{offset}W",
            lambda d: d.day == nearest_weekday(d.year, d.month, last(d) - offset),
            False,
            True,
        )
    plain, days = draw(numeric_field(1, 31))
    text = f"L-{offset},{day}W,{plain}"
    return (
        text,
        lambda d: (
            d.day == last(d) - offset
            or d.day == nearest_weekday(d.year, d.month, day)
            or d.day in days
        ),
        False,
        True,
    )


@st.composite
def day_of_week(draw: st.DrawFn) -> tuple[str, Callable[[date], bool]]:
    kind = draw(st.sampled_from(["*", "plain", "L", "nL", "nth"]))
    weekday = draw(st.integers(1, 7))
    shown = DAYS[weekday - 1] if draw(st.booleans()) else str(weekday)
    if kind == "*":
        return "*", lambda d: True
    if kind == "plain":
        text, days = draw(numeric_field(1, 7, DAYS))
        return text, lambda d: quartz_weekday(d) in days
    if kind == "L":
        return "L", lambda d: quartz_weekday(d) == 7
    if kind == "nL":
        return (
            f"{shown}L",
            lambda d: quartz_weekday(d) == weekday and (d + timedelta(days=7)).month != d.month,
        )
    nth = draw(st.integers(1, 5))
    return f"{shown}#{nth}", lambda d: quartz_weekday(d) == weekday and (d.day - 1) // 7 + 1 == nth


@st.composite
def cases(draw: st.DrawFn) -> Case:
    seconds_text, seconds = draw(numeric_field(0, 59))
    minutes_text, minutes = draw(numeric_field(0, 59))
    hours_text, hours = draw(numeric_field(0, 23))
    months_text, months = draw(numeric_field(1, 12, MONTHS))
    if draw(st.booleans()):
        dom_text, day_ok, simple, has_weekday = draw(day_of_month())
        dow_text = "?"
    else:
        dom_text, simple, has_weekday = "?", True, False
        dow_text, day_ok = draw(day_of_week())
    years: frozenset[int] | None = None
    fields = [seconds_text, minutes_text, hours_text, dom_text, months_text, dow_text]
    if draw(st.booleans()):
        first = draw(st.integers(2025, 2032))
        years = frozenset(range(first, first + draw(st.integers(0, 6))))
        fields.append(f"{first}-{first + len(years) - 1}" if years else str(first))
        years = years or frozenset({first})
    return Case(
        " ".join(fields), seconds, minutes, hours, months, years, day_ok, simple, has_weekday
    )


STARTS = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2031, 12, 31), timezones=st.just(UTC)
)


@PROPERTY_SETTINGS
@given(case=cases(), start=STARTS, zone=st.sampled_from(PLAIN_ZONES + DST_ZONES))
def test_fire_times_increase_strictly_and_match_every_field(
    case: Case, start: datetime, zone: str
) -> None:
    if case.has_weekday:
        # Quartz keeps the time of day when 'W' moves the day; on a DST day that time can
        # land in the gap and shift, so field checks are made where no gap exists.
        zone = "UTC"
    cron = CronExpression(case.text, zone)
    times = cron.next_times(start, 6)
    previous = start
    for fire in times:
        assert fire > previous, f"{case.text}: {fire} not after {previous}"
        assert fire.microsecond == 0
        assert fire.tzinfo == ZoneInfo(zone)
        local = fire
        assert case.matches(local), f"{case.text} in {zone}: {local} does not match"
        if not case.has_weekday:
            # A fire time is found again from just before it. Not so for 'W' in Quartz: from
            # 2028-01-03 (the 1W day) it looks for day 1 again and moves to February.
            assert cron.next_after(fire - timedelta(seconds=1)) == fire
        previous = fire


@PROPERTY_SETTINGS
@given(case=cases(), start=STARTS)
def test_no_fire_time_is_skipped(case: Case, start: datetime) -> None:
    if not case.simple_days:
        return  # Quartz's W and mixed-L rules do skip days; tested against the corpus instead
    cron = CronExpression(case.text, "UTC")
    fire = cron.next_after(start)
    end = fire if fire is not None else start + timedelta(days=800)
    # Second by second over the first two hours ...
    moment = start.replace(microsecond=0) + timedelta(seconds=1)
    stop = min(end, moment + timedelta(hours=2))
    while moment < stop:
        assert not case.matches(moment), f"{case.text}: skipped {moment}, next was {fire}"
        moment += timedelta(seconds=1)
    # ... and day by day in between: a matching day always has a matching time of day.
    day = start.date() + timedelta(days=1)
    while day < end.date() and day < start.date() + timedelta(days=800):
        if (
            day.month in case.months
            and (case.years is None or day.year in case.years)
            and case.day_ok(day)
        ):
            raise AssertionError(f"{case.text}: skipped day {day}, next was {fire}")
        day += timedelta(days=1)


@PROPERTY_SETTINGS
@given(case=cases(), start=STARTS, zone=st.sampled_from(DST_ZONES))
def test_run_at_gap_end_never_fires_later_than_quartz(
    case: Case, start: datetime, zone: str
) -> None:
    quartz = CronExpression(case.text, zone).next_after(start)
    gap_end = CronExpression(case.text, zone, dst_gap="run_at_gap_end").next_after(start)
    if quartz is None:
        return
    assert gap_end is not None
    assert start < gap_end <= quartz


@PROPERTY_SETTINGS
@given(case=cases(), start=STARTS)
def test_both_dst_modes_agree_without_dst(case: Case, start: datetime) -> None:
    for zone in PLAIN_ZONES:
        skip = CronExpression(case.text, zone).next_times(start, 3)
        gap_end = CronExpression(case.text, zone, dst_gap="run_at_gap_end").next_times(start, 3)
        assert skip == gap_end
