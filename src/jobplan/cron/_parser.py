"""Parse a whole Quartz expression into a :class:`CronSpec`."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ._errors import CronError
from ._fields import (
    DayOfMonth,
    DayOfWeek,
    Field,
    parse_day_of_month,
    parse_day_of_week,
    parse_values,
)

__all__ = ["CronSpec", "parse"]

_MAX_EXPRESSION_CHARS = 1024


@dataclass(frozen=True, slots=True)
class CronSpec:
    """A parsed, validated Quartz expression. Exactly one of ``dom`` and ``dow`` is set."""

    text: str
    """The expression with whitespace normalised (original letter case)."""
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    dom: DayOfMonth | None
    months: tuple[int, ...]
    dow: DayOfWeek | None
    years: tuple[int, ...]
    """Years 1970-2299 that can fire (empty if none can)."""
    has_year_field: bool


def parse(expression: str) -> CronSpec:
    """Parse and validate ``expression``; raise :class:`CronError` naming the bad field."""
    if not isinstance(expression, str):
        raise TypeError(f"cron expression must be a str, not {type(expression).__name__}")
    return _parse(expression)


# Parsing costs a few hundred microseconds (the value sets are expanded, years included) and
# specs are immutable, so each distinct text is parsed once: a server validating or loading
# thousands of plans sees few distinct expressions. Errors are not cached (they are raised).
@lru_cache(maxsize=4096)
def _parse(expression: str) -> CronSpec:
    if len(expression) > _MAX_EXPRESSION_CHARS:
        raise CronError(f"expression must be at most {_MAX_EXPRESSION_CHARS} characters")
    tokens = expression.split()
    if len(tokens) not in (6, 7):
        raise CronError(f"expression must have 6 or 7 fields, got {len(tokens)}")
    seconds = parse_values(Field.SECONDS, tokens[Field.SECONDS])
    minutes = parse_values(Field.MINUTES, tokens[Field.MINUTES])
    hours = parse_values(Field.HOURS, tokens[Field.HOURS])
    dom = parse_day_of_month(tokens[Field.DAY_OF_MONTH])
    months = parse_values(Field.MONTH, tokens[Field.MONTH])
    dow = parse_day_of_week(tokens[Field.DAY_OF_WEEK])
    if dom is None and dow is None:
        raise CronError("day-of-month and day-of-week: only one of them can be '?'")
    if dom is not None and dow is not None:
        raise CronError("day-of-month and day-of-week: specify '?' in one of them")
    has_year = len(tokens) == 7
    years = parse_values(Field.YEAR, tokens[Field.YEAR] if has_year else "*")
    return CronSpec(
        text=" ".join(tokens),
        seconds=seconds,
        minutes=minutes,
        hours=hours,
        dom=dom,
        months=months,
        dow=dow,
        years=years,
        has_year_field=has_year,
    )
