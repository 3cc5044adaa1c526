"""Fire times of a window with its calendars applied: the one place that decides them.

A window's fire times are its cron's, minus those whose calendar day (in the window's time
zone) is in its calendars (``calendar_mode: exclude``), or minus those whose day is not
(``only``). Everything that lists or acts on fire times goes through
:func:`window_schedule`: the scheduler's tick and the plan's ``next_fire_time``, the
upcoming-fires page, the plan preview and backfill. A skipped day is simply not a fire time,
so it is never a misfire.

Days are skipped a whole day at a time (the search jumps to the next midnight, local time),
so a calendar costs at most one cron lookup per skipped day; the search gives up (no next
fire) after :data:`MAX_SKIPPED_DAYS` consecutive skipped days, e.g. an ``only`` calendar
whose days are all past.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Final, Protocol

from jobplan.cron import CronExpression
from jobplan.model import CalendarDays, CalendarMode, Window

__all__ = [
    "MAX_SKIPPED_DAYS",
    "CalendarSchedule",
    "FireSchedule",
    "calendar_days",
    "window_schedule",
]

#: Consecutive days a search may skip before concluding there is no next fire.
MAX_SKIPPED_DAYS: Final = 3 * 366


class FireSchedule(Protocol):
    """What the scheduler asks of a window: its next fire after a moment."""

    def next_after(self, moment: datetime) -> datetime | None: ...


class CalendarSchedule:
    """A cron expression whose fires on some calendar days are dropped."""

    __slots__ = ("cron", "days", "only")

    def __init__(self, cron: CronExpression, days: CalendarDays, only: bool) -> None:
        self.cron = cron
        self.days = days
        self.only = only

    def allows(self, fire: datetime) -> bool:
        """Whether a fire of the cron at ``fire`` is a fire of the window."""
        day = fire.astimezone(self.cron.timezone).date()
        return (day in self.days) == self.only

    def next_after(self, moment: datetime) -> datetime | None:
        fire = self.cron.next_after(moment)
        skipped = 0
        while fire is not None and not self.allows(fire):
            skipped += 1
            if skipped > MAX_SKIPPED_DAYS:
                return None
            fire = self.cron.next_after(self._end_of_day(fire))
        return fire

    def next_times(self, moment: datetime, count: int) -> list[datetime]:
        out: list[datetime] = []
        fire = self.next_after(moment)
        while fire is not None and len(out) < count:
            out.append(fire)
            fire = self.next_after(fire)
        return out

    def _end_of_day(self, fire: datetime) -> datetime:
        """The last instant of ``fire``'s local day (the search resumes after it)."""
        zone = self.cron.timezone
        local = fire.astimezone(zone)
        following: date = local.date() + timedelta(days=1)
        midnight = datetime.combine(following, time(0), tzinfo=zone)
        # a zone whose midnight does not exist (a DST gap at 00:00) resolves forward: fine,
        # the instant still belongs to the following day
        return midnight - timedelta(microseconds=1)


def calendar_days(window: Window, calendars: Mapping[str, CalendarDays]) -> CalendarDays | None:
    """The union of the window's calendars' days (``None`` when it names none). A name
    missing from ``calendars`` counts as an empty calendar (plans are checked when applied,
    and calendars in use cannot be deleted)."""
    names = window.calendars
    if not names:
        return None
    days = CalendarDays(frozenset(), frozenset())
    for name in names:
        found = calendars.get(name)
        if found is not None:
            days = days.union(found)
    return days


def window_schedule(
    window: Window,
    calendars: Mapping[str, CalendarDays],
    cron: CronExpression | None = None,
) -> FireSchedule:
    """The window's fire times: its cron (``cron``, if the caller has it cached, else
    built), with its calendars (looked up by name in ``calendars``) applied."""
    base = cron if cron is not None else window.schedule()
    days = calendar_days(window, calendars)
    if days is None:
        return base
    return CalendarSchedule(base, days, window.calendar_mode == CalendarMode.ONLY)
