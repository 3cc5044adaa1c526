"""Schedules: the plan window that opens runs, and blackout periods."""

from __future__ import annotations

from datetime import datetime
from typing import Self

from pydantic import Field, model_validator

from jobplan.cron import CronExpression
from jobplan.model import limits
from jobplan.model._base import Document
from jobplan.model._errors import ErrorCollector
from jobplan.model._types import CronText, Description, TimeZoneName
from jobplan.model.enums import DstGap

__all__ = ["Blackout", "Window"]

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

    def schedule(self) -> CronExpression:
        """The cron engine's view of this window (time zone and DST handling applied)."""
        return CronExpression(self.cron, self.timezone, dst_gap=self.dst_gap.value)
