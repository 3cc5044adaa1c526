"""The seven Quartz fields and the parser for one field of an expression.

Each field parses to the set of values it allows, computed with Quartz's own arithmetic
(steps start at the given value and run to the field's maximum, wrap-around ranges such as
``22-2`` or ``NOV-FEB`` wrap modulo the field size, day-of-month modulo 31). Day-of-month and
day-of-week parse to small rule objects because of ``L``, ``W`` and ``#``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

from ._errors import CronError

__all__ = [
    "DAY_NAMES",
    "FIRST_YEAR",
    "LAST_YEAR",
    "MONTH_NAMES",
    "SPECS",
    "DayOfMonth",
    "DayOfWeek",
    "Field",
    "FieldSpec",
    "parse_day_of_month",
    "parse_day_of_week",
    "parse_values",
]

FIRST_YEAR = 1970
"""First year Quartz can fire in."""
LAST_YEAR = 2299
"""Last year this engine fires in; later fire times are reported as ``None``."""
_MAX_YEAR_VALUE = 9999
_MAX_LAST_OFFSET = 30

MONTH_NAMES: Mapping[str, int] = {
    name: number
    for number, name in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"),
        start=1,
    )
}
DAY_NAMES: Mapping[str, int] = {
    name: number
    for number, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), start=1)
}
"""Quartz numbers days of the week 1=SUN ... 7=SAT."""


class Field(IntEnum):
    """Position of a field in a Quartz expression."""

    SECONDS = 0
    MINUTES = 1
    HOURS = 2
    DAY_OF_MONTH = 3
    MONTH = 4
    DAY_OF_WEEK = 5
    YEAR = 6


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """Limits of one field."""

    name: str
    """Name used in error messages."""
    low: int
    """Smallest value that can fire."""
    high: int
    """Largest value that can fire; a step such as ``5/10`` runs up to it."""
    min_value: int
    """Smallest value accepted (differs from ``low`` only for the year)."""
    max_value: int
    """Largest value accepted (differs from ``high`` only for the year)."""
    wrap: int
    """Size of the cycle a range such as ``22-2`` wraps around (0: ranges cannot wrap)."""
    max_step: int
    """Largest step Quartz accepts after ``*`` or a single start value (0: unlimited)."""
    syntax: str
    """What an item of the field looks like, for error messages."""
    names: Mapping[str, int]
    """Names accepted instead of numbers."""
    names_hint: str = ""


_PLAIN = "expected a number, a range such as 1-5, a step such as */15, or '*'"
SPECS: Mapping[Field, FieldSpec] = {
    Field.SECONDS: FieldSpec("seconds", 0, 59, 0, 59, 60, 59, _PLAIN, {}),
    Field.MINUTES: FieldSpec("minutes", 0, 59, 0, 59, 60, 59, _PLAIN, {}),
    Field.HOURS: FieldSpec("hours", 0, 23, 0, 23, 24, 23, _PLAIN, {}),
    Field.DAY_OF_MONTH: FieldSpec(
        "day-of-month",
        1,
        31,
        1,
        31,
        31,
        31,
        "expected a day, a range such as 1-15, a step such as 1/7, '*', '?', "
        "'L', 'L-3', '15W' or 'LW'",
        {},
    ),
    Field.MONTH: FieldSpec(
        "month",
        1,
        12,
        1,
        12,
        12,
        12,
        _PLAIN.replace("number", "number or JAN-DEC"),
        MONTH_NAMES,
        "JAN-DEC",
    ),
    Field.DAY_OF_WEEK: FieldSpec(
        "day-of-week",
        1,
        7,
        1,
        7,
        7,
        7,
        "expected a day (1-7 or SUN-SAT), a range such as MON-FRI, '*', '?', '6L' or '6#3'",
        DAY_NAMES,
        "SUN-SAT",
    ),
    Field.YEAR: FieldSpec("year", FIRST_YEAR, LAST_YEAR, 1, _MAX_YEAR_VALUE, 0, 0, _PLAIN, {}),
}


@dataclass(frozen=True, slots=True)
class DayOfMonth:
    """A day-of-month rule: plain days, ``L``/``L-n``, ``nW`` and ``LW``/``L-nW`` items."""

    days: frozenset[int]
    """Plain days 1-31."""
    last_offsets: frozenset[int]
    """``L`` (0) and ``L-n`` (n): the last day of the month minus the offset."""
    weekdays: frozenset[int]
    """``nW``: the weekday nearest day n, within the month."""
    last_weekday_offsets: frozenset[int]
    """``LW`` (0) and ``L-nW`` (n): the weekday nearest the (offset) last day."""

    @property
    def every_day(self) -> bool:
        """True when the rule allows every day of every month."""
        return (
            len(self.days) == 31
            and not self.last_offsets
            and not self.weekdays
            and not self.last_weekday_offsets
        )


@dataclass(frozen=True, slots=True)
class DayOfWeek:
    """A day-of-week rule: a set of days, or ``nL`` (last), or ``n#k`` (k-th)."""

    days: frozenset[int]
    """Quartz day numbers, 1=SUN ... 7=SAT."""
    last: bool = False
    """``nL``: only the last such day of the month (``days`` holds one day)."""
    nth: int = 0
    """``n#k``: only the k-th such day of the month (``days`` holds one day); 0 if unused."""

    @property
    def every_day(self) -> bool:
        """True when the rule allows every day."""
        return len(self.days) == 7 and not self.last and not self.nth


_GENERAL = re.compile(r"(?P<a>\d+|[A-Z]+)(?:-(?P<b>\d+|[A-Z]+))?(?:/(?P<step>\d+))?")
_STAR_STEP = re.compile(r"\*?/(?P<step>\d*)")
_DOM_LAST = re.compile(r"L(?:-(?P<off>\d*))?(?P<w>W?)")
_DOM_WEEKDAY = re.compile(r"(?P<day>\d+)W")
_DOW_LAST = re.compile(r"(?P<day>\d+|[A-Z]{3})L")
_DOW_NTH = re.compile(r"(?P<day>\d+|[A-Z]{3})#(?P<nth>.*)")
_SINGLE = re.compile(r"\d+|[A-Z]{3}")


def _fail(spec: FieldSpec, item: str, problem: str) -> CronError:
    return CronError(f"{spec.name} '{item}': {problem}")


def _range_problem(spec: FieldSpec) -> str:
    if spec.names is DAY_NAMES:
        return f"value must be {spec.min_value}-{spec.max_value} (1=SUN ... 7=SAT)"
    return f"value must be {spec.min_value}-{spec.max_value}"


def _value(spec: FieldSpec, item: str, text: str) -> int:
    """One number or name of ``item``, checked against the field's limits."""
    if text.isdigit():
        value = int(text)
        if not spec.min_value <= value <= spec.max_value:
            raise _fail(spec, item, _range_problem(spec))
        return value
    if not spec.names:
        raise _fail(spec, item, f"'{text}' is not a number")
    try:
        return spec.names[text]
    except KeyError:
        kind = "month" if spec.names is MONTH_NAMES else "day"
        raise _fail(spec, item, f"'{text}' is not a {kind} name ({spec.names_hint})") from None


def _step(spec: FieldSpec, item: str, text: str, *, bounded: bool) -> int:
    if not text:
        raise _fail(spec, item, "'/' must be followed by a step, e.g. */15")
    step = int(text)
    if step < 1:
        raise _fail(spec, item, "step must be at least 1")
    if bounded and spec.max_step and step > spec.max_step:
        raise _fail(spec, item, f"step must be 1-{spec.max_step}")
    return step


def _expand(spec: FieldSpec, item: str, start: int, stop: int, step: int) -> set[int]:
    """Quartz's expansion of ``start-stop/step``; ``stop < start`` wraps around."""
    if stop < start:
        if not spec.wrap:
            raise _fail(spec, item, "range start must not be after its end")
        cycle = spec.wrap
        return {
            (i % cycle) or (cycle if spec.low == 1 else 0)
            for i in range(start, stop + cycle + 1, step)
        }
    return set(range(start, stop + 1, step))


def _general(spec: FieldSpec, item: str, up: str) -> set[int]:
    """``*``, ``*/n``, ``n``, ``a-b``, ``n/s`` and ``a-b/s`` (numbers or names).

    ``item`` is the text as written (for messages), ``up`` the same in upper case.
    """
    if up == "*":
        return set(range(spec.low, spec.high + 1))
    star = _STAR_STEP.fullmatch(up)
    if star:
        step = _step(spec, item, star["step"], bounded=True)
        return _expand(spec, item, spec.low, spec.high, step)
    match = _GENERAL.fullmatch(up)
    if match is None:
        raise _fail(spec, item, spec.syntax)
    a_text, b_text, step_text = match["a"], match["b"], match["step"]
    named = not a_text.isdigit() or (b_text is not None and not b_text.isdigit())
    if named and spec.names and step_text is not None:
        raise _fail(spec, item, "a step cannot follow a name; use numbers, e.g. 1-12/3")
    if named and spec.names and b_text is not None and a_text.isdigit() != b_text.isdigit():
        raise _fail(spec, item, "a range must use two numbers or two names")
    start = _value(spec, item, a_text)
    if b_text is None:
        if step_text is None:
            return {start}
        step = _step(spec, item, step_text, bounded=True)
        return _expand(spec, item, start, spec.high, step)
    stop = _value(spec, item, b_text)
    step = 1 if step_text is None else _step(spec, item, step_text, bounded=False)
    return _expand(spec, item, start, stop, step)


def _items(spec: FieldSpec, token: str) -> list[tuple[str, str]]:
    """Split a field into ``(as written, upper case)`` items."""
    shown = token.split(",")
    if any(not item for item in shown):
        raise _fail(spec, token, "empty item in list")
    items = [(item, item.upper()) for item in shown]
    if len(items) > 1 and any(up == "?" for _, up in items):
        raise _fail(spec, token, "'?' cannot be combined with other values")
    return items


def _misplaced(spec: FieldSpec, item: str, up: str) -> None:
    """Raise a helpful error for ``?``, ``L``, ``W`` or ``#`` outside their fields."""
    if up == "?":
        raise _fail(spec, item, "'?' is only allowed in day-of-month and day-of-week")
    if "#" in up:
        raise _fail(spec, item, "'#' is only allowed in day-of-week")
    if _DOM_LAST.fullmatch(up) or _DOW_LAST.fullmatch(up):
        raise _fail(spec, item, "'L' is only allowed in day-of-month and day-of-week")
    if _DOM_WEEKDAY.fullmatch(up):
        raise _fail(spec, item, "'W' is only allowed in day-of-month")


def parse_values(field: Field, token: str) -> tuple[int, ...]:
    """Parse seconds, minutes, hours, month or year into the sorted values that can fire."""
    spec = SPECS[field]
    values: set[int] = set()
    for item, up in _items(spec, token):
        _misplaced(spec, item, up)
        values |= _general(spec, item, up)
    return tuple(sorted(v for v in values if spec.low <= v <= spec.high))


def parse_day_of_month(token: str) -> DayOfMonth | None:
    """Parse the day-of-month field; ``None`` for ``?``."""
    spec = SPECS[Field.DAY_OF_MONTH]
    items = _items(spec, token)
    if [up for _, up in items] == ["?"]:
        return None
    days: set[int] = set()
    last_offsets: set[int] = set()
    weekdays: set[int] = set()
    last_weekday_offsets: set[int] = set()
    for item, up in items:
        last = _DOM_LAST.fullmatch(up)
        weekday = _DOM_WEEKDAY.fullmatch(up)
        if last:
            offset_text = last["off"]
            if offset_text == "":
                raise _fail(spec, item, "'L-' must be followed by an offset 0-30, e.g. L-3")
            offset = int(offset_text) if offset_text else 0
            if offset > _MAX_LAST_OFFSET:
                raise _fail(spec, item, "the offset after 'L-' must be 0-30")
            (last_weekday_offsets if last["w"] else last_offsets).add(offset)
        elif weekday:
            weekdays.add(_value(spec, item, weekday["day"]))
        elif up.endswith("W"):
            raise _fail(spec, item, "'W' must follow a single day or 'L', e.g. 15W or LW")
        elif "#" in up or _DOW_LAST.fullmatch(up):
            raise _fail(spec, item, "'#' and 'nL' are only allowed in day-of-week")
        else:
            days |= _general(spec, item, up)
    return DayOfMonth(
        frozenset(days),
        frozenset(last_offsets),
        frozenset(weekdays),
        frozenset(last_weekday_offsets),
    )


def parse_day_of_week(token: str) -> DayOfWeek | None:
    """Parse the day-of-week field; ``None`` for ``?``."""
    spec = SPECS[Field.DAY_OF_WEEK]
    items = _items(spec, token)
    if [up for _, up in items] == ["?"]:
        return None
    special = [(item, up) for item, up in items if "L" in up or "#" in up]
    if special and len(items) > 1:
        what = "'#'" if "#" in special[0][1] else "'L'"
        raise _fail(spec, token, f"{what} cannot be combined with other values")
    if special:
        item, up = special[0]
        if up == "L":
            return DayOfWeek(frozenset({7}))  # Quartz: a lone L is the last day of the week
        last = _DOW_LAST.fullmatch(up)
        if last:
            return DayOfWeek(frozenset({_value(spec, item, last["day"])}), last=True)
        nth = _DOW_NTH.fullmatch(up)
        if nth:
            day = _value(spec, item, nth["day"])
            if not (nth["nth"].isdigit() and 1 <= int(nth["nth"]) <= 5):
                raise _fail(spec, item, "the number after '#' must be 1-5")
            return DayOfWeek(frozenset({day}), nth=int(nth["nth"]))
        if _DOM_LAST.fullmatch(up):
            raise _fail(spec, item, "'L-n' and 'LW' are only allowed in day-of-month")
        raise _fail(spec, item, spec.syntax)
    days: set[int] = set()
    for item, up in items:
        if _DOM_WEEKDAY.fullmatch(up):
            raise _fail(spec, item, "'W' is only allowed in day-of-month")
        days |= _general(spec, item, up)
    return DayOfWeek(frozenset(days))
