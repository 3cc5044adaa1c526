"""The public :class:`CronExpression`."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ._describe import describe
from ._engine import Schedule
from ._errors import CronError
from ._parser import CronSpec, parse

__all__ = ["CronExpression", "DstGap"]

DstGap = Literal["skip", "run_at_gap_end"]
"""What happens to a fire time whose wall-clock time is skipped by a spring-forward change:
``skip`` (Quartz's behaviour) or ``run_at_gap_end`` (run at the first instant after the gap)."""

_DST_GAP_CHOICES: tuple[str, ...] = get_args(DstGap)
_FIXED_OR_IANA = (ZoneInfo, timezone)  # tzinfo types that always give an offset


def _zone(tz: str | ZoneInfo) -> ZoneInfo:
    if isinstance(tz, ZoneInfo):
        return tz
    if not isinstance(tz, str):
        raise TypeError(f"tz must be an IANA zone name or a ZoneInfo, not {type(tz).__name__}")
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise CronError(
            f"unknown time zone '{tz}': use an IANA name such as 'Europe/London' or 'UTC'"
        ) from None


class CronExpression:
    """A Quartz cron expression read in a time zone.

    >>> cron = CronExpression("0 15 10 ? * 6#3", "Europe/London")
    >>> cron.next_after(datetime(2026, 1, 1, tzinfo=ZoneInfo("UTC"))).isoformat()
    '2026-01-16T10:15:00+00:00'

    Six or seven fields: seconds, minutes, hours, day-of-month, month, day-of-week and an
    optional year, with Quartz's syntax and numbering (day-of-week 1=SUN ... 7=SAT). Fire
    times equal those of Quartz's ``CronExpression.getTimeAfter`` in the same zone, DST
    transitions included; ``dst_gap="run_at_gap_end"`` changes only fire times whose
    wall-clock time does not exist. Raises :class:`CronError` for a bad expression or zone.
    """

    __slots__ = ("_dst_gap", "_schedule", "_spec", "_zone")

    def __init__(
        self,
        expression: str,
        tz: str | ZoneInfo = "UTC",
        *,
        dst_gap: DstGap = "skip",
    ) -> None:
        if dst_gap not in _DST_GAP_CHOICES:
            raise CronError(f"dst_gap must be 'skip' or 'run_at_gap_end', got {dst_gap!r}")
        self._spec: CronSpec = parse(expression)
        self._zone: ZoneInfo = _zone(tz)
        self._dst_gap: DstGap = dst_gap
        self._schedule = Schedule(
            self._spec, self._zone, run_at_gap_end=dst_gap == "run_at_gap_end"
        )

    @property
    def expression(self) -> str:
        """The expression as given, with runs of whitespace collapsed to one space."""
        return self._spec.text

    @property
    def timezone(self) -> ZoneInfo:
        """The zone the expression is read in."""
        return self._zone

    @property
    def dst_gap(self) -> DstGap:
        """How fire times inside a spring-forward gap are handled."""
        return self._dst_gap

    def next_after(self, moment: datetime) -> datetime | None:
        """The first fire time strictly after ``moment`` (an aware datetime in any zone),
        in this expression's zone; ``None`` if there is none (e.g. only past years, or
        after 2299). Fire times are whole seconds."""
        if not isinstance(moment, datetime):
            raise TypeError(f"moment must be a datetime, not {type(moment).__name__}")
        tz = moment.tzinfo
        if tz is None or (type(tz) not in _FIXED_OR_IANA and moment.utcoffset() is None):
            raise ValueError(
                f"moment must be timezone-aware, got naive {moment.isoformat()}; "
                "attach a zone, e.g. datetime(..., tzinfo=ZoneInfo('UTC'))"
            )
        return self._schedule.next_fire(math.floor(moment.timestamp()) + 1)

    def next_times(self, moment: datetime, count: int) -> list[datetime]:
        """Up to ``count`` consecutive fire times after ``moment`` (fewer if the schedule
        ends)."""
        if count < 0:
            raise ValueError(f"count must not be negative, got {count}")
        times: list[datetime] = []
        current = moment
        while len(times) < count:
            found = self.next_after(current)
            if found is None:
                break
            times.append(found)
            current = found
        return times

    def describe(self) -> str:
        """The expression in plain English, e.g. ``At 10:15, on the third Friday of the
        month``."""
        return describe(self._spec)

    def _key(self) -> tuple[str, object, str]:
        zone: object = self._zone.key if self._zone.key is not None else self._zone
        return (self._spec.text.upper(), zone, self._dst_gap)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CronExpression):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __reduce__(self) -> tuple[object, tuple[str, ZoneInfo, DstGap]]:
        return (_restore, (self._spec.text, self._zone, self._dst_gap))

    def __str__(self) -> str:
        return self._spec.text

    def __repr__(self) -> str:
        extra = "" if self._dst_gap == "skip" else f", dst_gap={self._dst_gap!r}"
        return f"CronExpression({self._spec.text!r}, {str(self._zone)!r}{extra})"


def _restore(expression: str, tz: ZoneInfo, dst_gap: DstGap) -> CronExpression:
    """Unpickle a :class:`CronExpression`."""
    return CronExpression(expression, tz, dst_gap=dst_gap)
