"""Next-fire-time search, equal to Quartz 2.5's ``CronExpression.getTimeAfter``.

The search runs on the zone's wall clock. Time of day is found with lookup tables (next allowed
second, minute and hour at or after a value); dates with per-(year, month) tables of the day
the day rule moves to, which encode ``L``, ``L-n``, ``W``, ``LW``, ``nL`` and ``n#k`` once per
month. Each loop step follows the order of Quartz's own loop - time of day first, then the day
rule, then month and year - because two Quartz behaviours depend on it:

* On a day with a spring-forward gap, Quartz's Calendar moves a nonexistent wall-clock time
  forward by the gap's length at every intermediate step; such days are searched step by step
  exactly as Quartz does (:meth:`Schedule._quartz_time_of_day`). Other days use the tables.
* When a day-of-month ``W`` item moves the search to another day of the same month, Quartz keeps
  the time of day it had already found instead of restarting at the first time of the day
  (``0 * * LW * ?`` searched from the 4th at 23:10:31 fires on the last weekday at 23:11:00).

The wall-clock result becomes an instant like Quartz's Calendar does it: times in a gap move
forward, times in the fall-back overlap resolve to the later (standard-time) occurrence.
"""

from __future__ import annotations

import calendar
from bisect import bisect_left, bisect_right
from datetime import date, datetime
from zoneinfo import ZoneInfo

from ._fields import LAST_YEAR, DayOfMonth, DayOfWeek
from ._parser import CronSpec
from ._zones import EPOCH_ORDINAL, ZoneTable, zone_table

__all__ = ["Schedule"]

_DAY = 86_400
_EVERY_DAY, _DAY_TABLE, _NEAREST_WEEKDAY = 0, 1, 2
_MAX_STEPS = 200_000
_FIRST_SEARCH_EPOCH = -3 * 365 * _DAY  # earlier starts behave alike: nothing fires before 1970
_LAST_SEARCH_EPOCH = (date(LAST_YEAR + 1, 1, 2).toordinal() - EPOCH_ORDINAL) * _DAY


def _next_table(values: tuple[int, ...], size: int) -> list[int]:
    """``table[v]`` = smallest allowed value >= v, or -1; ``table[size]`` = -1."""
    table = [-1] * (size + 1)
    allowed = set(values)
    following = -1
    for value in range(size - 1, -1, -1):
        if value in allowed:
            following = value
        table[value] = following
    return table


def _quartz_day_of_week(year: int, month: int, day: int) -> int:
    """1=SUN ... 7=SAT."""
    return (date(year, month, day).weekday() + 1) % 7 + 1


def _smallest_day(day: int, last_day: int, plain: tuple[int, ...], offsets: frozenset[int]) -> int:
    """Quartz's ``findSmallestDay``: the day at or after ``day`` that a set of plain days and
    ``L-n`` items selects, or 0.

    Quartz compares a plain day against ``31 - n`` rather than the ``L-n`` day itself, so in
    months shorter than 31 days a plain day can win over an earlier ``L-n`` day; reproduced.
    """
    usable = [offset for offset in offsets if last_day - offset >= day]
    rank = 31 - max(usable) if usable else 1_000
    index = bisect_left(plain, day)
    if index < len(plain):
        candidate = plain[index]
        if candidate < rank and candidate <= last_day:
            return candidate
    return last_day - max(usable) if usable else 0


class _Month:
    """What the search needs to know about one (year, month)."""

    __slots__ = ("dst_days", "gap_days", "last_day", "nearest_weekday", "next_day")

    def __init__(
        self,
        last_day: int,
        next_day: list[int],
        nearest_weekday: list[int],
        gap_days: frozenset[int],
        dst_days: frozenset[int],
    ) -> None:
        self.last_day = last_day
        self.next_day = next_day
        """``next_day[d]``: day the day rule moves to from day d (d itself if allowed), or 0."""
        self.nearest_weekday = nearest_weekday
        """``W`` items only: ``nearest_weekday[d]`` = Quartz's ``W`` day from day d, or 0."""
        self.gap_days = gap_days
        """Days of this month with a spring-forward gap."""
        self.dst_days = dst_days
        """Days of this month with a gap or a fall-back overlap."""


class Schedule:
    """Precomputed tables of one expression in one zone, and the search over them."""

    def __init__(self, spec: CronSpec, zone: ZoneInfo, *, run_at_gap_end: bool) -> None:
        self.zone = zone
        self.run_at_gap_end = run_at_gap_end
        self._zones: ZoneTable = zone_table(zone)
        self._next_second = _next_table(spec.seconds, 60)
        self._next_minute = _next_table(spec.minutes, 60)
        self._next_hour = _next_table(spec.hours, 24)
        self._first_second = spec.seconds[0]
        self._first_minute = spec.minutes[0]
        self._first_hour = spec.hours[0]
        self._month_ok = [month in spec.months for month in range(13)]
        self._next_month = _next_table(spec.months, 13)
        self._first_month = spec.months[0]
        self._years = spec.years
        self._year_set = frozenset(spec.years)
        self._dom: DayOfMonth | None = spec.dom
        self._dow: DayOfWeek | None = spec.dow
        if (spec.dom is not None and spec.dom.every_day) or (
            spec.dow is not None and spec.dow.every_day
        ):
            self._kind = _EVERY_DAY
        elif spec.dom is not None and (spec.dom.weekdays or spec.dom.last_weekday_offsets):
            self._kind = _NEAREST_WEEKDAY
        else:
            self._kind = _DAY_TABLE
        self._months: dict[int, _Month] = {}

    # --- tables ----------------------------------------------------------------------------

    def _month(self, year: int, month: int) -> _Month:
        key = year * 16 + month
        info = self._months.get(key)
        if info is None:
            info = self._build_month(year, month)
            if len(self._months) > 4096:
                self._months.clear()
            self._months[key] = info
        return info

    def _build_month(self, year: int, month: int) -> _Month:
        last_day = calendar.monthrange(year, month)[1]
        first_dow = _quartz_day_of_week(year, month, 1)

        def dow(day: int) -> int:
            return (first_dow + day - 2) % 7 + 1

        allowed: list[int] = []
        weekday_of: list[int] = [0] * 33
        if self._dow is not None:
            rule = self._dow
            (target,) = rule.days if (rule.last or rule.nth) else (0,)
            if rule.last:
                allowed = [max(d for d in range(1, last_day + 1) if dow(d) == target)]
            elif rule.nth:
                day = 1 + (target - first_dow) % 7 + 7 * (rule.nth - 1)
                allowed = [day] if day <= last_day else []
            else:
                allowed = [d for d in range(1, last_day + 1) if dow(d) in rule.days]
            next_day = [0] * 33
            following = 0
            for day in range(last_day, 0, -1):
                if day in allowed:
                    following = day
                next_day[day] = following
        else:
            assert self._dom is not None
            plain = tuple(sorted(self._dom.days))
            next_day = [0] * 33
            for day in range(1, last_day + 1):
                next_day[day] = _smallest_day(day, last_day, plain, self._dom.last_offsets)
            if self._kind == _NEAREST_WEEKDAY:
                weekday_items = tuple(sorted(self._dom.weekdays))
                for day in range(1, last_day + 1):
                    raw = _smallest_day(
                        day, last_day, weekday_items, self._dom.last_weekday_offsets
                    )
                    if raw:
                        weekday_of[day] = self._nearest_weekday(raw, dow(raw), last_day)
        first_local_day = date(year, month, 1).toordinal() - EPOCH_ORDINAL

        def in_month(days: frozenset[int]) -> frozenset[int]:
            return frozenset(
                day - first_local_day + 1 for day in days if 0 <= day - first_local_day < last_day
            )

        gap_days = in_month(self._zones.gap_days(year))
        dst_days = gap_days | in_month(self._zones.overlap_days(year))
        return _Month(last_day, next_day, weekday_of, gap_days, dst_days)

    @staticmethod
    def _nearest_weekday(day: int, day_of_week: int, last_day: int) -> int:
        if day_of_week == 7:  # Saturday: the Friday before, or Monday the 3rd for the 1st
            return 3 if day == 1 else day - 1
        if day_of_week == 1:  # Sunday: the Monday after, or Friday for the last day
            return day - 2 if day == last_day else day + 1
        return day

    def _time_of_day(self, seconds: int) -> int:
        """First allowed time of day (seconds since midnight) >= ``seconds``, or -1."""
        hour, rest = divmod(seconds, 3600)
        if self._next_hour[hour] == hour:
            minute, second = divmod(rest, 60)
            if self._next_minute[minute] == minute:
                found = self._next_second[second]
                if found >= 0:
                    return seconds - second + found
            found = self._next_minute[minute + 1]
            if found >= 0:
                return hour * 3600 + found * 60 + self._first_second
            hour += 1
        found = self._next_hour[hour]
        if found < 0:
            return -1
        return (found * 60 + self._first_minute) * 60 + self._first_second

    # --- Quartz's step-by-step time of day on gap days ---------------------------------------

    def _set_hour(self, day: int, hour: int, within_hour: int) -> int:
        """Quartz's ``setCalendarHour``: if the Calendar moved the hour (a gap), use hour + 1."""
        zones = self._zones
        local = zones.normalize(day * _DAY + hour * 3600 + within_hour)
        if (local % _DAY) // 3600 != hour and hour != 24:
            local = zones.normalize((local // _DAY) * _DAY + (hour + 1) * 3600 + local % 3600)
        return local

    def _quartz_time_of_day(self, local: int) -> int:
        """Fix seconds, minutes and hours the way Quartz's loop does, normalising each
        intermediate wall-clock time as its Calendar does. Returns local seconds."""
        zones = self._zones
        local = zones.normalize(local)
        for _ in range(_MAX_STEPS):
            day, rest = divmod(local, _DAY)
            hour, rest = divmod(rest, 3600)
            minute, second = divmod(rest, 60)
            found = self._next_second[second]
            if found < 0:
                local = zones.normalize(
                    day * _DAY + hour * 3600 + (minute + 1) * 60 + self._first_second
                )
                day, rest = divmod(local, _DAY)
                hour, rest = divmod(rest, 3600)
                minute = rest // 60
            else:
                local += found - second
            found = self._next_minute[minute]
            if found != minute:
                if found < 0:
                    local = self._set_hour(day, hour + 1, self._first_minute * 60)
                else:
                    local = self._set_hour(day, hour, found * 60)
                continue
            found = self._next_hour[hour]
            if found != hour:
                if found < 0:
                    local = self._set_hour(day + 1, self._first_hour, 0)
                else:
                    local = self._set_hour(day, found, 0)
                continue
            return local
        raise AssertionError("time-of-day search did not converge")  # pragma: no cover

    # --- the search ----------------------------------------------------------------------------

    def next_fire(self, start: int) -> datetime | None:
        """First fire time at or after epoch second ``start`` (Quartz: strictly after
        ``start - 1``), aware in the schedule's zone; ``None`` if there is none."""
        if start > _LAST_SEARCH_EPOCH or not self._years:
            return None
        if start < _FIRST_SEARCH_EPOCH:
            start = _FIRST_SEARCH_EPOCH
        wall = datetime.fromtimestamp(start, self.zone)
        year, month, day = wall.year, wall.month, wall.day
        seconds = (wall.hour * 60 + wall.minute) * 60 + wall.second
        if self.run_at_gap_end and day in self._month(year, month).gap_days:
            # Starting exactly at a gap's end: the gap's wall-clock times map to this very
            # instant, so they are still ahead of the search.
            for gap in self._zones.gaps(year):
                if gap.instant == start:
                    moved = date.fromordinal(EPOCH_ORDINAL + gap.start // _DAY)
                    year, month, day = moved.year, moved.month, moved.day
                    seconds = gap.start % _DAY
                    break
        found = self._search(year, month, day, seconds, start)
        if found is None:
            return None
        year, month, day, seconds, on_dst_day = found
        if on_dst_day:
            local = (date(year, month, day).toordinal() - EPOCH_ORDINAL) * _DAY + seconds
            in_gap = self._zones.gap_at(local)
            if in_gap is not None and self.run_at_gap_end:
                return datetime.fromtimestamp(in_gap.instant, self.zone)
            return self._zones.to_datetime(local)
        hour, rest = divmod(seconds, 3600)
        minute, second = divmod(rest, 60)
        return datetime(year, month, day, hour, minute, second, tzinfo=self.zone)

    def _epoch(self, year: int, month: int, day: int, seconds: int) -> int:
        local = (date(year, month, day).toordinal() - EPOCH_ORDINAL) * _DAY + seconds
        return int(self._zones.to_datetime(local).timestamp())

    def _search(
        self, year: int, month: int, day: int, seconds: int, start: int
    ) -> tuple[int, int, int, int, bool] | None:
        """Quartz's loop on the wall clock from (year, month, day, seconds of day).

        Returns (year, month, day, seconds of day, whether that day has a DST transition) or
        ``None``.
        """
        years, year_set, month_ok = self._years, self._year_set, self._month_ok
        month_cache = self._months
        quartz_gaps = not self.run_at_gap_end
        kind = self._kind
        next_hour, next_minute, next_second = self._next_hour, self._next_minute, self._next_second
        for _ in range(_MAX_STEPS):
            # Year and month first: Quartz checks them after the day, with the same result.
            if year not in year_set:
                index = bisect_left(years, year)
                if index == len(years):
                    return None
                year, month, day, seconds = years[index], self._first_month, 1, 0
            elif not month_ok[month]:
                following = self._next_month[month]
                if following > 0:
                    month = following
                else:
                    index = bisect_right(years, year)
                    if index == len(years):
                        return None
                    year, month = years[index], self._first_month
                day, seconds = 1, 0
            info = month_cache.get(year * 16 + month) or self._month(year, month)
            on_gap_day = day in info.gap_days
            on_dst_day = day in info.dst_days

            # Time of day.
            if on_gap_day and quartz_gaps:
                base = (date(year, month, day).toordinal() - EPOCH_ORDINAL) * _DAY
                local = self._quartz_time_of_day(base + seconds)
                if not base <= local < base + _DAY:
                    moved = date.fromordinal(EPOCH_ORDINAL + local // _DAY)
                    year, month, day, seconds = moved.year, moved.month, moved.day, local % _DAY
                    continue
                time = local - base
            else:
                hour, rest = divmod(seconds, 3600)
                minute, second = divmod(rest, 60)
                if (
                    next_hour[hour] == hour
                    and next_minute[minute] == minute
                    and next_second[second] == second
                ):
                    time = seconds
                else:
                    time = self._time_of_day(seconds)
                    if time < 0:
                        day += 1
                        seconds = 0
                        if day > info.last_day:
                            day, month = 1, month + 1
                            if month == 13:
                                month, year = 1, year + 1
                        continue

            # Day rule.
            if kind == _EVERY_DAY:
                return year, month, day, time, on_dst_day
            target = info.next_day[day]
            if kind == _NEAREST_WEEKDAY:
                weekday = info.nearest_weekday[day]
                if weekday and weekday < day and self._epoch(year, month, weekday, time) < start:
                    weekday = 0
                if weekday and (not target or weekday <= target):
                    # Quartz moves to the W day without resetting the time of day.
                    return year, month, weekday, time, weekday in info.dst_days
            if target == day:
                return year, month, day, time, on_dst_day
            seconds = 0
            if target:
                day = target
            else:
                day, month = 1, month + 1
                if month == 13:
                    month, year = 1, year + 1
        return None  # pragma: no cover - every step moves forward; unreachable in practice
