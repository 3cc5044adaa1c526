"""Cron preview: the next fire times and a description of a Quartz cron expression."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from jobplan.cron import CronError, CronExpression
from jobplan.errors import InvalidInput

__all__ = ["MAX_PREVIEW_COUNT", "CronPreview", "preview_cron"]

MAX_PREVIEW_COUNT = 100


@dataclass(frozen=True, slots=True)
class CronPreview:
    """What a cron expression means and when it fires next."""

    expression: str
    timezone: str
    description: str
    next_fire_times: list[datetime]


def preview_cron(
    expression: str,
    tz: str = "UTC",
    count: int = 5,
    after: datetime | None = None,
    dst_gap: Literal["skip", "run_at_gap_end"] = "skip",
) -> CronPreview:
    """Parse ``expression`` in zone ``tz`` and list up to ``count`` fire times after ``after``.

    Raises :class:`InvalidInput` naming the parameter at fault.
    """
    if not 1 <= count <= MAX_PREVIEW_COUNT:
        raise InvalidInput(f"must be between 1 and {MAX_PREVIEW_COUNT}", field="count")
    if after is not None and after.tzinfo is None:
        raise InvalidInput("must include a UTC offset, e.g. 2026-01-01T00:00:00Z", field="after")
    try:
        cron = CronExpression(expression, tz, dst_gap=dst_gap)
    except CronError as exc:
        field = "tz" if "zone" in str(exc).lower() else "expression"
        raise InvalidInput(str(exc), field=field) from exc
    start = after or datetime.now(UTC)
    return CronPreview(
        expression=str(cron),
        timezone=cron.timezone.key,
        description=cron.describe(),
        next_fire_times=cron.next_times(start, count),
    )
