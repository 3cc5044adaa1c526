"""Schedules: the plan window that opens runs, and blackout periods."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Self

from pydantic import Field, field_validator, model_validator

from jobplan.cron import CronExpression
from jobplan.model import limits
from jobplan.model._base import Document
from jobplan.model._errors import ErrorCollector
from jobplan.model._types import CronText, Description, Name, TimeZoneName
from jobplan.model.enums import DstGap

__all__ = ["Blackout", "CalendarMode", "Window"]

_ONE_YEAR = 366 * 24 * 3600


class Blackout(Document):
    """A period in which a schedule does not fire: a cron expression or a date-time range.

    Give either ``cron`` (every second matching it is blacked out, e.g. ``* * 0-5 ? * SUN``
    for Sunday nights) or ``start`` and ``end``. Date-times without a UTC offset are read in
    the time zone of the schedule the blackout belongs to.
    """

    cron: CronText | None = None
    """Quartz cron expression matching the blacked-out seconds."""
    start: datetime | None = None
    """Start of a blacked-out range (inclusive)."""
    end: datetime | None = None
    """End of a blacked-out range (exclusive); must be after ``start``."""
    description: Description = ""

    @model_validator(mode="after")
    def _check_form(self) -> Self:
        errors = ErrorCollector()
        if self.cron is not None:
            for field in ("start", "end"):
                if getattr(self, field) is not None:
                    errors.add(
                        (field,),
                        "give either cron or start/end, not both",
                        getattr(self, field),
                        error_type="blackout",
                    )
        elif self.start is None or self.end is None:
            missing = "start" if self.start is None else "end"
            errors.add(
                (missing,),
                "a blackout needs either cron, or both start and end",
                None,
                error_type="blackout",
            )
        elif (self.start.tzinfo is None) != (self.end.tzinfo is None):
            errors.add(
                ("end",),
                "start and end must both have a UTC offset, or both have none",
                self.end,
                error_type="blackout",
            )
        elif self.end <= self.start:
            errors.add(("end",), "end must be after start", self.end, error_type="blackout")
        errors.raise_if_any(type(self).__name__)
        return self


class CalendarMode(StrEnum):
    """How a window uses its calendars."""

    EXCLUDE = "exclude"
    """Never fire on the calendars' days (holidays)."""
    ONLY = "only"
    """Fire only on the calendars' days (e.g. month-end dates)."""


class Window(Document):
    """When a plan run opens automatically (Ikasan ``timeWindowStart``, Volt MX cron)."""

    cron: CronText
    """Quartz cron expression (seconds first); each fire time opens a plan run."""
    timezone: TimeZoneName = "UTC"
    """IANA time zone the cron expression is read in."""
    ttl_seconds: int | None = Field(default=None, ge=1, le=_ONE_YEAR)
    """How long a run may stay open; unfinished jobs are then ended. None: no limit."""
    jitter_seconds: int = Field(default=0, ge=0, le=3600)
    """Delay each run by a random 0..jitter_seconds, to spread load."""
    blackouts: list[Blackout] = Field(default_factory=list, max_length=limits.MAX_BLACKOUTS)
    """Periods in which fire times are skipped."""
    dst_gap: DstGap = DstGap.SKIP
    """Fire times inside a daylight-saving gap: ``skip`` them or ``run_at_gap_end``."""
    calendar: Name | list[Name] | None = None
    """Calendar name(s) of the plan's tenant whose days (in ``timezone``) the window skips,
    or, with ``calendar_mode: only``, the only days it fires on."""
    calendar_mode: CalendarMode = CalendarMode.EXCLUDE
    """``exclude`` the calendars' days (default) or fire ``only`` on them."""

    @property
    def calendars(self) -> tuple[str, ...]:
        """The calendar names, in order, without repeats (empty: no calendar)."""
        if self.calendar is None:
            return ()
        names = [self.calendar] if isinstance(self.calendar, str) else self.calendar
        return tuple(dict.fromkeys(names))

    @field_validator("calendar")
    @classmethod
    def _some_calendar(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list) and not value:
            return None
        if isinstance(value, list) and len(value) > limits.MAX_CALENDARS:
            raise ValueError(f"at most {limits.MAX_CALENDARS} calendars per window")
        return value

    def schedule(self) -> CronExpression:
        """The cron engine's view of this window (time zone and DST handling applied)."""
        return CronExpression(self.cron, self.timezone, dst_gap=self.dst_gap.value)
