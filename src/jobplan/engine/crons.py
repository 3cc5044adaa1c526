"""Parsed cron expressions and their next fire times, memoised for the scheduler's hot path.

Many plans share a cron (``0 0 * * * ?``) and, when they fire together, the same instants:
a tick opening thousands of runs asks for the same ``next_after`` thousands of times. Both
the expressions and their answers are pure, so both are cached (bounded: cleared when full).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from jobplan.cron import CronExpression

__all__ = ["CronCache"]

_MAX_EXPRESSIONS = 10_000
_MAX_ANSWERS = 50_000


class CronCache:
    """Cron expressions by ``(expression, time zone, DST gap)``, and memoised fire times."""

    def __init__(self) -> None:
        self._crons: dict[tuple[str, str, str], CronExpression] = {}
        # by (id of the expression, moment); the entry keeps the expression, so an id reused
        # by another object after this one is gone can never match
        self._next: dict[tuple[int, datetime], tuple[CronExpression, datetime | None]] = {}

    def get(self, expression: str, timezone: str, dst_gap: str = "skip") -> CronExpression:
        key = (expression, timezone, dst_gap)
        cron = self._crons.get(key)
        if cron is None:
            if len(self._crons) >= _MAX_EXPRESSIONS:
                self._crons.clear()
            gap: Literal["skip", "run_at_gap_end"] = (
                "run_at_gap_end" if dst_gap == "run_at_gap_end" else "skip"
            )
            cron = self._crons[key] = CronExpression(expression, timezone, dst_gap=gap)
        return cron

    def next_after(self, cron: CronExpression, moment: datetime) -> datetime | None:
        """``cron.next_after(moment)``, remembered."""
        key = (id(cron), moment)
        entry = self._next.get(key)
        if entry is not None and entry[0] is cron:
            return entry[1]
        if len(self._next) >= _MAX_ANSWERS:
            self._next.clear()
        fire = cron.next_after(moment)
        self._next[key] = (cron, fire)
        return fire
