"""Reading the days of an iCalendar (RFC 5545) file into a calendar, with ``icalendar``.

What is read, from each ``VEVENT``:

* ``DTSTART`` (and ``DTEND``, exclusive, or ``DURATION``) as **all-day dates**
  (``VALUE=DATE``, as bank-holiday feeds publish them): every date from the start up to the
  day before the end; a date-time start counts as the one date it falls on (as written,
  in its own zone), a date-time end as the dates up to and including its own;
* ``RRULE`` with ``FREQ=YEARLY`` only (optionally ``INTERVAL=1`` and ``BYMONTH``/
  ``BYMONTHDAY`` that repeat the start's own month and day): without ``COUNT`` or ``UNTIL``
  the event's days become every-year days (``MM-DD``), with them the dates they produce;
  ``EXDATE`` removes dates from those;
* ``STATUS:CANCELLED`` events are left out.

Anything else that would change which days an event covers (``RDATE``, another ``FREQ``,
``BYDAY`` rules such as "last Monday of May", an event longer than 366 days) is refused
with a message naming the event, rather than read wrongly. A file that is not iCalendar, or
has no events, is refused too.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Final

from jobplan.errors import InvalidInput
from jobplan.model.calendar import MAX_CALENDAR_DAYS

__all__ = ["MAX_ICS_BYTES", "days_from_ics"]

#: Largest file accepted.
MAX_ICS_BYTES: Final = 2 * 1024 * 1024
_MAX_EVENT_DAYS = 366
_FIELD = "ics"


def _fail(message: str) -> InvalidInput:
    return InvalidInput(message, field=_FIELD)


def _as_date(value: Any) -> date:
    return value.date() if isinstance(value, datetime) else value


def _event_name(event: Any, index: int) -> str:
    summary = str(event.get("SUMMARY", "")).strip()
    return f"event {index} ({summary[:60]})" if summary else f"event {index}"


def _event_dates(event: Any, name: str) -> list[date]:
    if event.get("DTSTART") is None:
        raise _fail(f"{name} has no DTSTART")
    start_value = event.decoded("DTSTART")
    start = _as_date(start_value)
    if event.get("DTEND") is not None:
        end_value = event.decoded("DTEND")
        end = _as_date(end_value)
        if isinstance(end_value, datetime):
            end += timedelta(days=1)  # a timed end covers its own day
    elif event.get("DURATION") is not None:
        end = _as_date(start_value + event.decoded("DURATION"))
        if isinstance(start_value, datetime):
            end += timedelta(days=1)
    else:
        end = start + timedelta(days=1)
    end = max(end, start + timedelta(days=1))
    if (end - start).days > _MAX_EVENT_DAYS:
        raise _fail(f"{name} covers more than {_MAX_EVENT_DAYS} days")
    return [start + timedelta(days=n) for n in range((end - start).days)]


def _yearly(event: Any, name: str, first: date) -> tuple[int | None, date | None]:
    """``(count, until)`` of a supported yearly rule; refuses any other rule."""
    rule = {key.upper(): value for key, value in dict(event.get("RRULE")).items()}
    if rule.get("FREQ") != ["YEARLY"]:
        raise _fail(f"{name}: only RRULE FREQ=YEARLY is supported, not {rule.get('FREQ')}")
    allowed = {"FREQ", "COUNT", "UNTIL", "INTERVAL", "BYMONTH", "BYMONTHDAY", "WKST"}
    if set(rule) - allowed or rule.get("INTERVAL", [1]) != [1]:
        extra = sorted(set(rule) - allowed) or ["INTERVAL"]
        raise _fail(f"{name}: RRULE part {extra[0]} is not supported (plain FREQ=YEARLY only)")
    if rule.get("BYMONTH", [first.month]) != [first.month] or rule.get(
        "BYMONTHDAY", [first.day]
    ) != [first.day]:
        raise _fail(f"{name}: RRULE BYMONTH/BYMONTHDAY must repeat DTSTART's month and day")
    count = int(rule["COUNT"][0]) if "COUNT" in rule else None
    until = _as_date(rule["UNTIL"][0]) if "UNTIL" in rule else None
    return count, until


def _shift_years(day: date, years: int) -> date | None:
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return None  # 29 February in a common year: no such day that year


def days_from_ics(data: bytes) -> list[str]:
    """The days of the file's events: ``YYYY-MM-DD`` and ``MM-DD`` strings, sorted, unique.
    Raises :class:`InvalidInput` (field ``ics``) saying what could not be read."""
    import icalendar  # imported here: only an import needs it

    if len(data) > MAX_ICS_BYTES:
        raise _fail(f"the file is larger than {MAX_ICS_BYTES // 1024} KiB")
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise _fail(f"not an iCalendar file: {str(exc)[:200]}") from None
    if not isinstance(calendar, icalendar.Calendar):
        raise _fail("not an iCalendar file: no VCALENDAR")
    days: set[str] = set()
    events = 0
    try:
        for index, event in enumerate(calendar.walk("VEVENT"), start=1):
            events += 1
            name = _event_name(event, index)
            if str(event.get("STATUS", "")).upper() == "CANCELLED":
                continue
            if event.get("RDATE") is not None:
                raise _fail(f"{name}: RDATE is not supported")
            dates = _event_dates(event, name)
            if event.get("RRULE") is None:
                days.update(d.isoformat() for d in dates)
                continue
            count, until = _yearly(event, name, dates[0])
            excluded = {_as_date(d.dt) for ex in _exdates(event) for d in ex.dts}
            if count is None and until is None:
                days.update(d.isoformat()[5:] for d in dates)
                continue
            years = range(count if count is not None else _MAX_EVENT_DAYS)
            for year in years:
                shifted = [s for d in dates if (s := _shift_years(d, year)) is not None]
                if until is not None and shifted and shifted[0] > until:
                    break
                days.update(d.isoformat() for d in shifted if d not in excluded)
            if len(days) > MAX_CALENDAR_DAYS:
                break
    except InvalidInput:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError) as exc:
        raise _fail(f"could not read the file's events: {str(exc)[:200]}") from None
    if not events:
        raise _fail("the file has no events (VEVENT)")
    if len(days) > MAX_CALENDAR_DAYS:
        raise _fail(f"the file's events cover more than {MAX_CALENDAR_DAYS} days")
    return sorted(days, key=lambda d: (len(d), d))


def _exdates(event: Any) -> list[Any]:
    value = event.get("EXDATE")
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
