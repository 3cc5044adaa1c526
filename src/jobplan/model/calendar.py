"""Calendars: named sets of days a window skips (or fires only on), as in Quartz's
``HolidayCalendar`` (dates) and ``AnnualCalendar`` (days of every year).

A day is written ``YYYY-MM-DD`` (that date) or ``MM-DD`` (that day every year, e.g. ``12-25``;
``02-29`` matches leap years only). Days are calendar days in the time zone of the window
using the calendar: ``2026-12-25`` in a London window is London's Christmas Day.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Final

from pydantic import AfterValidator, Field, StringConstraints, field_validator

from jobplan.model._base import Document
from jobplan.model._errors import custom_error
from jobplan.model._types import Description, Name

__all__ = [
    "MAX_CALENDAR_DAYS",
    "CalendarDay",
    "CalendarDays",
    "CalendarDocument",
    "parse_day",
]

#: Most days one calendar may hold.
MAX_CALENDAR_DAYS: Final = 10_000

_DAY_RE = re.compile(r"(?:(\d{4})-)?(\d{2})-(\d{2})")


def parse_day(text: str) -> date | tuple[int, int]:
    """``YYYY-MM-DD`` as a date, ``MM-DD`` as ``(month, day)``; ``ValueError`` saying why."""
    match = _DAY_RE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"'{text[:40]}' is not a day: write YYYY-MM-DD, or MM-DD for every year")
    year, month, day = match.groups()
    try:
        # a leap year checks MM-DD (02-29 is a valid every-year day)
        value = date(int(year) if year else 2000, int(month), int(day))
    except ValueError as exc:
        raise ValueError(f"'{text}' is not a valid date: {exc}") from None
    return value if year else (value.month, value.day)


def _check_day(text: str) -> str:
    try:
        parse_day(text)
    except ValueError as exc:
        raise custom_error("calendar_day", str(exc)) from None
    return text.strip()


CalendarDay = Annotated[str, StringConstraints(max_length=10), AfterValidator(_check_day)]


class CalendarDocument(Document):
    """A named calendar of days, per tenant."""

    name: Name
    """How windows refer to it (``calendar: uk-bank-holidays``)."""
    description: Description = ""
    days: list[CalendarDay] = Field(default_factory=list, max_length=MAX_CALENDAR_DAYS)
    """``YYYY-MM-DD`` dates and ``MM-DD`` days of every year; stored sorted, without repeats."""

    @field_validator("days")
    @classmethod
    def _normalise(cls, days: list[str]) -> list[str]:
        return sorted(set(days), key=lambda d: (len(d), d))

    def to_days(self) -> CalendarDays:
        return CalendarDays.of(self.days)


class CalendarDays:
    """The days of one or more calendars, for fast membership tests."""

    __slots__ = ("annual", "dates")

    def __init__(self, dates: frozenset[date], annual: frozenset[tuple[int, int]]) -> None:
        self.dates = dates
        self.annual = annual

    @classmethod
    def of(cls, days: list[str]) -> CalendarDays:
        dates: set[date] = set()
        annual: set[tuple[int, int]] = set()
        for text in days:
            day = parse_day(text)
            if isinstance(day, date):
                dates.add(day)
            else:
                annual.add(day)
        return cls(frozenset(dates), frozenset(annual))

    def union(self, other: CalendarDays) -> CalendarDays:
        return CalendarDays(self.dates | other.dates, self.annual | other.annual)

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and (day in self.dates or (day.month, day.day) in self.annual)

    def __bool__(self) -> bool:
        return bool(self.dates or self.annual)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, CalendarDays)
            and self.dates == other.dates
            and self.annual == other.annual
        )

    def __hash__(self) -> int:
        return hash((self.dates, self.annual))
