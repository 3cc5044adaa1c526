"""The public surface of ``jobplan.cron``: construction, properties, fire times, descriptions."""

from __future__ import annotations

import copy
import pickle
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

import jobplan.cron
from jobplan.cron import CronError, CronExpression

START = datetime(2026, 1, 1, tzinfo=UTC)


def iso(times: list[datetime]) -> list[str]:
    return [t.isoformat() for t in times]


def test_public_names() -> None:
    assert set(jobplan.cron.__all__) >= {"CronExpression", "CronError"}


def test_properties_and_string_round_trip() -> None:
    cron = CronExpression("  0 15  10 ? *\t6#3 ", "Europe/London", dst_gap="run_at_gap_end")
    assert cron.expression == "0 15 10 ? * 6#3"
    assert str(cron) == "0 15 10 ? * 6#3"
    assert cron.timezone == ZoneInfo("Europe/London")
    assert cron.dst_gap == "run_at_gap_end"
    assert str(CronExpression(str(cron), "Europe/London")) == str(cron)


def test_letter_case_is_kept_in_text_and_ignored_in_meaning() -> None:
    lower = CronExpression("0 0 12 ? jan-mar mon-fri")
    upper = CronExpression("0 0 12 ? JAN-MAR MON-FRI")
    assert str(lower) == "0 0 12 ? jan-mar mon-fri"
    assert lower == upper
    assert lower.next_times(START, 5) == upper.next_times(START, 5)


def test_equality_hash_and_repr() -> None:
    a = CronExpression("0 0 12 * * ?", "UTC")
    b = CronExpression("0  0 12 * * ?", ZoneInfo("UTC"))
    assert a == b
    assert hash(a) == hash(b)
    assert a != CronExpression("0 0 12 * * ?", "Europe/London")
    assert a != CronExpression("0 0 12 * * ?", "UTC", dst_gap="run_at_gap_end")
    assert a != "0 0 12 * * ?"
    assert repr(a) == "CronExpression('0 0 12 * * ?', 'UTC')"
    assert repr(CronExpression("0 0 12 * * ?", dst_gap="run_at_gap_end")).endswith(
        "dst_gap='run_at_gap_end')"
    )
    assert len({a, b}) == 1


def test_pickle_and_copy_round_trip() -> None:
    cron = CronExpression("0 15 10 ? * 6#3", "Europe/London", dst_gap="run_at_gap_end")
    for clone in (pickle.loads(pickle.dumps(cron)), copy.deepcopy(cron), copy.copy(cron)):
        assert clone == cron
        assert clone.dst_gap == "run_at_gap_end"
        assert clone.next_times(START, 3) == cron.next_times(START, 3)


def test_default_zone_is_utc() -> None:
    assert CronExpression("0 0 12 * * ?").timezone == ZoneInfo("UTC")


def test_next_after_is_strictly_after_and_in_the_expression_zone() -> None:
    cron = CronExpression("0 0 12 * * ?", "Asia/Tokyo")
    noon = datetime(2026, 1, 1, 12, tzinfo=ZoneInfo("Asia/Tokyo"))
    fire = cron.next_after(noon)
    assert fire == noon + timedelta(days=1)
    assert fire is not None and fire.tzinfo == ZoneInfo("Asia/Tokyo")
    assert cron.next_after(noon - timedelta(microseconds=1)) == noon


def test_start_in_another_zone_and_with_fractions_of_a_second() -> None:
    cron = CronExpression("*/30 * * * * ?", "Europe/Berlin")
    start = datetime(2026, 6, 1, 9, 0, 29, 999_999, tzinfo=timezone(timedelta(hours=-4)))
    fire = cron.next_after(start)
    assert fire is not None
    assert fire.isoformat() == "2026-06-01T15:00:30+02:00"


def test_naive_moment_is_rejected_clearly() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        CronExpression("0 0 12 * * ?").next_after(datetime(2026, 1, 1))


def test_non_datetime_moment_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        CronExpression("0 0 12 * * ?").next_after("2026-01-01")  # type: ignore[arg-type]


def test_next_times() -> None:
    cron = CronExpression("0 15 10 ? * 6#3", "Europe/London")
    assert iso(cron.next_times(START, 5)) == [
        "2026-01-16T10:15:00+00:00",
        "2026-02-20T10:15:00+00:00",
        "2026-03-20T10:15:00+00:00",
        "2026-04-17T10:15:00+01:00",
        "2026-05-15T10:15:00+01:00",
    ]
    assert cron.next_times(START, 0) == []
    with pytest.raises(ValueError, match="count"):
        cron.next_times(START, -1)


def test_none_when_no_later_fire() -> None:
    assert CronExpression("0 0 0 1 1 ? 2025").next_after(START) is None
    assert CronExpression("0 0 0 ? * * 1969").next_after(START) is None
    assert CronExpression("0 0 0 30 2 ?").next_after(START) is None  # February 30th
    last = CronExpression("0 0 0 1 1 ?").next_times(START, 500)
    assert last[-1].year == 2299
    assert len(last) == 2299 - 2027 + 1  # strictly after 2026-01-01T00:00
    assert (
        CronExpression("* * * * * ?").next_after(datetime(2299, 12, 31, 23, 59, 59, tzinfo=UTC))
        is None
    )
    far = datetime(9999, 12, 31, tzinfo=UTC)
    assert CronExpression("* * * * * ?").next_after(far) is None


def test_next_times_stop_when_the_schedule_ends() -> None:
    cron = CronExpression("0 0 0 1 * ? 2026")
    assert len(cron.next_times(START, 50)) == 11  # February to December


@pytest.mark.parametrize(
    ("expression", "first"),
    [
        ("0 0 12 L * ?", "2026-01-31T12:00:00+00:00"),
        ("0 0 12 L-3 2 ?", "2026-02-25T12:00:00+00:00"),
        ("0 0 12 LW 1 ?", "2026-01-30T12:00:00+00:00"),  # 31st is a Saturday
        ("0 0 12 15W 2 ?", "2026-02-16T12:00:00+00:00"),  # 15th is a Sunday
        ("0 0 12 1W 8 ?", "2026-08-03T12:00:00+00:00"),  # 1st is a Saturday: not July 31
        ("0 0 12 ? * 6L", "2026-01-30T12:00:00+00:00"),  # last Friday
        ("0 0 12 ? * 2#1", "2026-01-05T12:00:00+00:00"),  # first Monday
        ("0 0 12 ? * L", "2026-01-03T12:00:00+00:00"),  # lone L = Saturday
        ("0 0 22-2 ? * 1", "2026-01-04T00:00:00+00:00"),  # wraps: 22,23,0,1,2 on Sundays
        ("0 0 0 ? NOV-FEB 2", "2026-01-05T00:00:00+00:00"),
        ("0 0 0 1 1 ? 2030/2", "2030-01-01T00:00:00+00:00"),
        ("0 0 0 L,5 * ?", "2026-01-05T00:00:00+00:00"),
        ("0 0 0 15W,20 2 ?", "2026-02-16T00:00:00+00:00"),
    ],
)
def test_special_characters(expression: str, first: str) -> None:
    fire = CronExpression(expression).next_after(START)
    assert fire is not None
    assert fire.isoformat() == first


def test_quartz_keeps_the_time_of_day_when_w_moves_the_day() -> None:
    # Quartz 2.5 quirk, reproduced: the search found 23:11:00 on the 4th and carries it to the
    # last weekday instead of restarting at 00:00.
    cron = CronExpression("0 * * LW * ?", "Europe/London")
    fire = cron.next_after(datetime.fromisoformat("2031-04-04T23:10:31+01:00"))
    assert fire is not None
    assert fire.isoformat() == "2031-04-30T23:11:00+01:00"


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        # L-n next to a plain day: Quartz compares 27 with 31-2, so February's L-2 (26th) loses.
        ("0 0 12 L-2,27 2 ?", "2026-02-01T00:00:00+00:00", "2026-02-27T12:00:00+00:00"),
        # 15W on Saturday 2025-11-15 is the 14th, already passed: on to December, 22W unseen.
        ("0 0 12 15W,22W * ?", "2025-11-15T00:00:00+00:00", "2025-12-15T12:00:00+00:00"),
        # 1W is Monday 2028-01-03; searched from that day Quartz wants day 1 again.
        ("* * * 1W * ?", "2028-01-01T00:00:00+00:00", "2028-01-03T00:00:01+00:00"),
        ("* * * 1W * ?", "2028-01-03T00:00:00+00:00", "2028-02-01T00:00:00+00:00"),
    ],
)
def test_quartz_quirks_are_reproduced(expression: str, after: str, expected: str) -> None:
    fire = CronExpression(expression).next_after(datetime.fromisoformat(after))
    assert fire is not None
    assert fire.isoformat() == expected


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("0 15 10 ? * 6#3", ["10:15", "third friday"]),
        ("0 15 10 ? * 6L", ["last friday"]),
        ("0 0 12 LW * ?", ["last weekday"]),
        ("0 0 12 15W * ?", ["weekday nearest day 15"]),
        ("0 0 12 ? * 1", ["sunday"]),
        ("0 0 12 ? * 7", ["saturday"]),
        ("0 0 12 ? * L", ["saturday"]),
        ("0 0 0 L,5 * ?", ["last day", "day 5"]),
        ("0 0 0 1 1 ? 2030/2", ["2030 through 2299"]),
        ("*/5 * * * * ?", ["every 5 seconds"]),
    ],
)
def test_describe(expression: str, words: list[str]) -> None:
    text = CronExpression(expression).describe().lower()
    for word in words:
        assert word in text, text


def test_zone_given_as_zoneinfo_and_bad_zone_type() -> None:
    assert CronExpression("0 0 0 * * ?", ZoneInfo("Asia/Kolkata")).timezone.key == "Asia/Kolkata"
    with pytest.raises(TypeError, match="IANA zone name or a ZoneInfo"):
        CronExpression("0 0 0 * * ?", UTC)  # type: ignore[arg-type]
    with pytest.raises(CronError, match="unknown time zone 'Nowhere/Land'"):
        CronExpression("0 0 0 * * ?", "Nowhere/Land")


def test_validate_checks_without_building_a_schedule() -> None:
    assert jobplan.cron.validate("0  15 10 ? *   6#3") == "0 15 10 ? * 6#3"
    with pytest.raises(jobplan.cron.CronError, match="day-of-week"):
        jobplan.cron.validate("0 0 12 ? * 8")
    with pytest.raises(TypeError, match="must be a str"):
        jobplan.cron.validate(["0 0 12 * * ?"])  # type: ignore[arg-type]
    # a bad expression is refused every time (errors are not cached as answers)
    for _ in range(2):
        with pytest.raises(jobplan.cron.CronError):
            jobplan.cron.validate("0 0 25 * * ?")
