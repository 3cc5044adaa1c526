"""Blackout periods: cron-matched seconds or date-time ranges in which nothing fires."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from jobplan.cron import CronExpression
from jobplan.model import Blackout

__all__ = ["in_blackout"]


@lru_cache(maxsize=1024)
def _cron(expression: str, tz: str) -> CronExpression:
    """A blackout's cron in a zone (immutable, so built once: the scheduler and the search
    for a window's previous fire test many moments against the same blackouts)."""
    return CronExpression(expression, tz)


def in_blackout(blackouts: list[Blackout], moment: datetime, tz: str) -> bool:
    """Whether ``moment`` falls in any blackout (cron-matched second or date-time range)."""
    for blackout in blackouts:
        if blackout.cron is not None:
            cron = _cron(blackout.cron, tz)
            second = moment.replace(microsecond=0)
            if cron.next_after(second - timedelta(seconds=1)) == second:
                return True
        elif blackout.start is not None and blackout.end is not None:
            zone = ZoneInfo(tz)
            start = blackout.start if blackout.start.tzinfo else blackout.start.replace(tzinfo=zone)
            end = blackout.end if blackout.end.tzinfo else blackout.end.replace(tzinfo=zone)
            if start <= moment < end:
                return True
    return False
