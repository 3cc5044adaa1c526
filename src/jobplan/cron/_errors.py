"""The one exception the cron package raises for bad input."""

from __future__ import annotations

__all__ = ["CronError"]


class CronError(ValueError):
    """A cron expression, time zone or option is invalid.

    The message names the field and the offending token and says what is wrong, e.g.
    ``day-of-week '2#6': the number after '#' must be 1-5``.
    """
