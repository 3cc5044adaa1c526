"""Blackout periods: cron-matched seconds or date-time ranges in which nothing fires."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from jobplan.cron import CronExpression
from jobplan.model import Blackout

__all__ = ["in_blackout"]


def in_blackout(blackouts: list[Blackout], moment: datetime, tz: str) -> bool:
    """Whether ``moment`` falls in any blackout (cron-matched second or date-time range)."""
    for blackout in blackouts:
        if blackout.cron is not None:
            cron = CronExpression(blackout.cron, tz)
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
