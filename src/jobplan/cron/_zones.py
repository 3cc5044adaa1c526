"""Daylight-saving transitions of a zone and Quartz-compatible resolution of wall-clock times.

Wall-clock times are handled as *local seconds*: seconds since 1970-01-01T00:00 on the zone's
wall clock, as if the zone were UTC. ``zoneinfo`` has no public list of transitions, so they are
found by probing UTC offsets once a week and bisecting each change down to the second; the
result is cached per zone and year.

Quartz computes in a lenient ``java.util.GregorianCalendar``, which resolves a wall-clock time
that does not exist (the spring-forward gap) with the offset in force *before* the transition,
i.e. moves it forward by the length of the gap, and resolves a wall-clock time that exists twice
(the fall-back overlap) to the *later* instant. :meth:`ZoneTable.normalize` and
:meth:`ZoneTable.to_datetime` do the same.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

__all__ = ["EPOCH_ORDINAL", "Gap", "ZoneTable", "zone_table"]

EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_DAY = 86_400
_PROBE_STEP = 7 * _DAY
_ONE_SECOND = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class Gap:
    """A spring-forward gap: local seconds ``[start, end)`` do not exist."""

    start: int
    """First missing wall-clock second (local seconds)."""
    end: int
    """First existing wall-clock second after the gap (local seconds)."""
    instant: int
    """Epoch second of the transition, i.e. of wall-clock ``end``."""


def _epoch_of_year(year: int) -> int:
    return (date(year, 1, 1).toordinal() - EPOCH_ORDINAL) * _DAY


@dataclass(frozen=True, slots=True)
class _Transitions:
    gaps: tuple[Gap, ...]
    overlaps: tuple[tuple[int, int], ...]
    """Fall-back overlaps: local seconds ``[start, end)`` that exist twice."""


class ZoneTable:
    """Gaps and overlaps of one zone, computed per year on first use."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self._years: dict[int, _Transitions] = {}
        self._lock = threading.Lock()

    def _offset(self, epoch: int) -> int:
        offset = datetime.fromtimestamp(epoch, self.zone).utcoffset()
        assert offset is not None
        return offset // _ONE_SECOND

    def _transitions(self, year: int) -> _Transitions:
        found = self._years.get(year)
        if found is None:
            found = self._find_transitions(year)
            with self._lock:
                self._years[year] = found
        return found

    def gaps(self, year: int) -> tuple[Gap, ...]:
        """Gaps whose transition lies within two days of ``year`` (UTC)."""
        return self._transitions(year).gaps

    def _find_transitions(self, year: int) -> _Transitions:
        if not 1 < year < 9999:
            return _Transitions((), ())
        start = _epoch_of_year(year) - 2 * _DAY
        stop = _epoch_of_year(year + 1) + 2 * _DAY
        gaps: list[Gap] = []
        overlaps: list[tuple[int, int]] = []
        low, low_offset = start, self._offset(start)
        while low < stop:
            high = min(low + _PROBE_STEP, stop)
            high_offset = self._offset(high)
            if high_offset != low_offset:
                # Bisect to the first second with the new offset.
                lo, hi = low, high
                while hi - lo > 1:
                    mid = (lo + hi) // 2
                    if self._offset(mid) == low_offset:
                        lo = mid
                    else:
                        hi = mid
                before, after = low_offset, self._offset(hi)
                if after > before:
                    gaps.append(Gap(hi + before, hi + after, hi))
                else:
                    overlaps.append((hi + after, hi + before))
                # Go on probing from the transition itself, so a second change later in the
                # same probe step is still found (two changes within one week that cancel out
                # are not; no zone has those).
                high, high_offset = hi, after
            low, low_offset = high, high_offset
        return _Transitions(tuple(gaps), tuple(overlaps))

    def gap_at(self, local: int) -> Gap | None:
        """The gap containing wall-clock ``local``, if that time does not exist."""
        year = date.fromordinal(EPOCH_ORDINAL + local // _DAY).year
        for gap in self.gaps(year):
            if gap.start <= local < gap.end:
                return gap
        return None

    def gap_days(self, year: int) -> frozenset[int]:
        """Day numbers (days since 1970-01-01, wall clock) touched by a gap near ``year``."""
        return frozenset(
            day
            for gap in self.gaps(year)
            for day in range(gap.start // _DAY, (gap.end - 1) // _DAY + 1)
        )

    def overlap_days(self, year: int) -> frozenset[int]:
        """Day numbers touched by a fall-back overlap near ``year``."""
        return frozenset(
            day
            for start, end in self._transitions(year).overlaps
            for day in range(start // _DAY, (end - 1) // _DAY + 1)
        )

    def is_repeated(self, local: int) -> bool:
        """Whether wall-clock ``local`` occurs twice (fall-back overlap)."""
        year = date.fromordinal(EPOCH_ORDINAL + local // _DAY).year
        return any(start <= local < end for start, end in self._transitions(year).overlaps)

    def normalize(self, local: int) -> int:
        """Move a wall-clock time inside a gap forward by the gap's length (as Java does)."""
        gap = self.gap_at(local)
        return local if gap is None else local + (gap.end - gap.start)

    def to_datetime(self, local: int) -> datetime:
        """The instant Quartz gives wall-clock ``local``: gaps move forward, overlaps resolve
        to the later (second) occurrence, marked ``fold=1``."""
        local = self.normalize(local)
        day, rest = divmod(local, _DAY)
        d = date.fromordinal(EPOCH_ORDINAL + day)
        hour, rest = divmod(rest, 3600)
        minute, second = divmod(rest, 60)
        fold = 1 if self.is_repeated(local) else 0
        return datetime(d.year, d.month, d.day, hour, minute, second, tzinfo=self.zone, fold=fold)


_TABLES: dict[ZoneInfo, ZoneTable] = {}
_TABLES_LOCK = threading.Lock()


def zone_table(zone: ZoneInfo) -> ZoneTable:
    """The shared :class:`ZoneTable` of ``zone``."""
    table = _TABLES.get(zone)
    if table is None:
        with _TABLES_LOCK:
            table = _TABLES.setdefault(zone, ZoneTable(zone))
    return table
