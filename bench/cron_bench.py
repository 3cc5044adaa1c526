"""Next-fire-time speed of jobplan's Quartz engine against croniter.

Run: ``.venv/bin/python bench/cron_bench.py`` (no arguments; about 10 seconds).

For each expression both engines start from the same 20 instants (spread over 2026, in the
expression's zone) and compute 25 consecutive fire times from each: jobplan by
``CronExpression.next_after`` on its own previous result, croniter by ``get_next`` on one
iterator re-seeded with ``set_current``. Each measurement is the best of 5 runs; the result
is microseconds per fire time. Before timing, the first fire times of both engines are
compared, so a wrong translation to croniter's dialect cannot go unnoticed.

croniter's dialect differs from Quartz's: five fields (seconds, if any, come *last*), day of
week 0=SUN ... 6=SAT, ``L5`` for "last Friday", no ``?``, ``LW`` or ``L-n``. Expressions it
cannot express are timed for jobplan only.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from jobplan.cron import CronExpression

STARTS = 20
FIRES_PER_START = 25
REPEATS = 5


@dataclass(frozen=True)
class Case:
    quartz: str
    zone: str
    croniter: str | None
    """The same schedule in croniter's dialect, or None if croniter cannot express it."""


CASES = [
    Case("0 */5 * * * ?", "Europe/London", "*/5 * * * * 0"),
    Case("*/15 * * * * ?", "UTC", "* * * * * */15"),
    Case("0 0 9-17 ? * MON-FRI", "America/New_York", "0 9-17 * * MON-FRI 0"),
    Case("0 30 2 * * ?", "America/Los_Angeles", "30 2 * * * 0"),
    Case("0 15 10 ? * 6#3", "Europe/London", "15 10 * * 5#3 0"),
    Case("0 0 12 L * ?", "Europe/Berlin", "0 12 L * * 0"),
    Case("0 0 0 1 1 ?", "Asia/Tokyo", "0 0 1 1 * 0"),
    Case("30 45 23 ? * SUN", "Australia/Sydney", "45 23 * * SUN 30"),
    Case("0 0/20 8-18 ? * 2-6", "America/Chicago", "*/20 8-18 * * 1-5 0"),
    Case("0 0 6 1,15 * ?", "Asia/Kolkata", "0 6 1,15 * * 0"),
    Case("0 0 3 ? * 6L", "Pacific/Auckland", "0 3 * * L5 0"),
    Case("0 10 4 ? JAN,APR,JUL,OCT 1#1", "UTC", "10 4 * JAN,APR,JUL,OCT 0#1 0"),
    Case("0 0 12 15W * ?", "America/Sao_Paulo", "0 12 15W * * 0"),
    Case("0 0 0 * * ? 2030", "UTC", "0 0 * * * 0 2030"),
    Case("0 5,35 */2 ? 3-10 TUE,THU", "Europe/Paris", "5,35 */2 * 3-10 TUE,THU 0"),
    Case("0 0 12 LW * ?", "Europe/Berlin", None),
    Case("0 0 8 L-3 * ?", "America/Sao_Paulo", None),
    Case("0 0 22-2 ? * FRI-SAT", "Asia/Tokyo", None),  # croniter has no wrap-around ranges
]


def start_instants(zone: ZoneInfo) -> list[datetime]:
    """The same instants for every case: every 18 days and 7 hours from 2026-01-03 10:17:23."""
    first = datetime(2026, 1, 3, 10, 17, 23, tzinfo=UTC)
    return [(first + i * timedelta(days=18, hours=7)).astimezone(zone) for i in range(STARTS)]


def time_jobplan(cron: CronExpression, starts: list[datetime]) -> float:
    best = float("inf")
    for _ in range(REPEATS):
        began = time.perf_counter()
        for start in starts:
            moment: datetime | None = start
            for _ in range(FIRES_PER_START):
                assert moment is not None
                moment = cron.next_after(moment)
        best = min(best, time.perf_counter() - began)
    return best / (len(starts) * FIRES_PER_START) * 1e6


def time_croniter(expression: str, starts: list[datetime]) -> float:
    iterator = croniter(expression, starts[0])
    best = float("inf")
    for _ in range(REPEATS):
        began = time.perf_counter()
        for start in starts:
            iterator.set_current(start, force=True)
            for _ in range(FIRES_PER_START):
                iterator.get_next(datetime)
        best = min(best, time.perf_counter() - began)
    return best / (len(starts) * FIRES_PER_START) * 1e6


def same_schedule(case: Case, cron: CronExpression, starts: list[datetime]) -> bool:
    """Both engines give the same first five fire times from a few starts."""
    assert case.croniter is not None
    for start in starts[::5]:
        iterator = croniter(case.croniter, start)
        theirs = [iterator.get_next(datetime) for _ in range(5)]
        if cron.next_times(start, 5) != theirs:
            return False
    return True


def main() -> None:
    print(
        f"{STARTS} start instants x {FIRES_PER_START} consecutive fire times per expression, "
        f"best of {REPEATS}; microseconds per fire time\n"
    )
    header = "| Quartz expression | zone | jobplan µs | croniter µs | croniter / jobplan |"
    print(header)
    print("|---|---|--:|--:|--:|")
    ratios: list[float] = []
    for case in CASES:
        zone = ZoneInfo(case.zone)
        cron = CronExpression(case.quartz, zone)
        starts = start_instants(zone)
        cron.next_after(starts[0])  # warm the per-month tables, as a running scheduler has
        ours = time_jobplan(cron, starts)
        if case.croniter is None:
            theirs_text, ratio_text = "n/a", "n/a"
        else:
            if not same_schedule(case, cron, starts):
                raise SystemExit(f"croniter translation of {case.quartz!r} gives other times")
            theirs = time_croniter(case.croniter, starts)
            ratio = theirs / ours
            ratios.append(ratio)
            theirs_text, ratio_text = f"{theirs:.1f}", f"{ratio:.1f}x"
        print(f"| `{case.quartz}` | {case.zone} | {ours:.1f} | {theirs_text} | {ratio_text} |")
    print(
        f"\nmedian croniter / jobplan over {len(ratios)} shared expressions: "
        f"{statistics.median(ratios):.1f}x"
    )


if __name__ == "__main__":
    main()
