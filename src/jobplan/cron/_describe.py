"""Plain-English descriptions, via ``cron_descriptor`` configured for Quartz numbering."""

from __future__ import annotations

from cron_descriptor import ExpressionDescriptor, Options

from ._fields import LAST_YEAR, Field
from ._parser import CronSpec

__all__ = ["describe"]

_PLACEHOLDER_DAY = "31"


def _options() -> Options:
    options = Options()
    options.day_of_week_start_index_zero = False  # Quartz: 1=SUN ... 7=SAT
    options.use_24hour_time_format = True
    options.verbose = False
    return options


def _day_of_month_phrase(token: str) -> str:
    """English for a day-of-month list that mixes ``L``/``W`` items with other items, which
    ``cron_descriptor`` cannot describe."""
    phrases: list[str] = []
    for item in token.upper().split(","):
        if item == "L":
            phrases.append("the last day")
        elif item == "LW":
            phrases.append("the last weekday")
        elif item.startswith("L-"):
            offset = item[2:].removesuffix("W")
            last = f"{offset} days before the last day"
            phrases.append(f"the weekday nearest {last}" if item.endswith("W") else last)
        elif item.endswith("W"):
            phrases.append(f"the weekday nearest day {item[:-1]}")
        else:
            phrases.append(f"day {item}")
    if len(phrases) > 1:
        return ", ".join(phrases[:-1]) + " and " + phrases[-1]
    return phrases[0]


def _compress(values: tuple[int, ...], low: int, high: int) -> str:
    """Values as ``*`` or a list of ranges, e.g. ``1-5,9``."""
    if values == tuple(range(low, high + 1)):
        return "*"
    parts: list[str] = []
    run_start = previous = values[0]
    for value in (*values[1:], None):
        if value is not None and value == previous + 1:
            previous = value
            continue
        parts.append(str(run_start) if run_start == previous else f"{run_start}-{previous}")
        if value is not None:
            run_start = previous = value
    return ",".join(parts)


def _fields_from_sets(spec: CronSpec, fields: list[str]) -> list[str]:
    """``fields`` with the plain fields rewritten from their value sets."""
    rewritten = list(fields)
    rewritten[Field.SECONDS] = _compress(spec.seconds, 0, 59)
    rewritten[Field.MINUTES] = _compress(spec.minutes, 0, 59)
    rewritten[Field.HOURS] = _compress(spec.hours, 0, 23)
    rewritten[Field.MONTH] = _compress(spec.months, 1, 12)
    if spec.dow is not None and not (spec.dow.last or spec.dow.nth):
        rewritten[Field.DAY_OF_WEEK] = _compress(tuple(sorted(spec.dow.days)), 1, 7)
    dom = spec.dom
    if (
        dom is not None
        and dom.days
        and dom == type(dom)(dom.days, frozenset(), frozenset(), frozenset())
    ):
        rewritten[Field.DAY_OF_MONTH] = _compress(tuple(sorted(dom.days)), 1, 31)
    return rewritten


def _cron_descriptor(fields: list[str]) -> str:
    return str(ExpressionDescriptor(" ".join(fields), _options()).get_description())


def describe(spec: CronSpec) -> str:
    """Describe ``spec`` in plain English, e.g. ``At 10:15, on the third Friday of the month``."""
    fields = spec.text.upper().split()
    dom = fields[Field.DAY_OF_MONTH]
    dom_phrase = ""
    if ("," in dom and any(c in dom for c in "LW")) or (dom.startswith("L-") and dom.endswith("W")):
        dom_phrase = _day_of_month_phrase(dom)
        fields[Field.DAY_OF_MONTH] = _PLACEHOLDER_DAY
    if fields[Field.DAY_OF_WEEK] == "L":
        fields[Field.DAY_OF_WEEK] = "7"  # Quartz reads a lone L here as Saturday
    try:
        text = _cron_descriptor(fields)
    except Exception:
        # cron_descriptor rejects some valid Quartz lists (e.g. '*' inside a list, or
        # wrap-around steps): describe the equivalent plain lists instead.
        try:
            text = _cron_descriptor(_fields_from_sets(spec, fields))
        except Exception:
            return f"Quartz schedule {spec.text}"
    if dom_phrase:
        text = text.replace(
            f"on day {_PLACEHOLDER_DAY} of the month", f"on {dom_phrase} of the month"
        )
    return text.replace("through 9999", f"through {LAST_YEAR}")
