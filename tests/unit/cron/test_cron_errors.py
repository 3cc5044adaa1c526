"""Every rejection names the field, the offending token and what is wrong."""

from __future__ import annotations

import pytest

from jobplan.cron import CronError, CronExpression

BAD_EXPRESSIONS: list[tuple[str, str]] = [
    # shape
    ("", "expression must have 6 or 7 fields, got 0"),
    ("* * * * *", "expression must have 6 or 7 fields, got 5"),
    ("0 0 0 * * * * *", "expression must have 6 or 7 fields, got 8"),
    # values out of range
    ("60 * * ? * *", "seconds '60': value must be 0-59"),
    ("0 61 * ? * *", "minutes '61': value must be 0-59"),
    ("0 0 24 ? * *", "hours '24': value must be 0-23"),
    ("0 0 0 0 * ?", "day-of-month '0': value must be 1-31"),
    ("0 0 0 32 * ?", "day-of-month '32': value must be 1-31"),
    ("0 0 0 ? 13 *", "month '13': value must be 1-12"),
    ("0 0 0 ? * 0", "day-of-week '0': value must be 1-7 (1=SUN ... 7=SAT)"),
    ("0 0 0 ? * 8", "day-of-week '8': value must be 1-7"),
    ("0 0 10-61 ? * *", "hours '10-61': value must be 0-23"),
    ("0 0 0 ? * * 10000", "year '10000': value must be 1-9999"),
    # names
    ("0 0 0 ? JAN-FOO *", "month 'JAN-FOO': 'FOO' is not a month name (JAN-DEC)"),
    ("0 0 0 ? * MON-FOO", "day-of-week 'MON-FOO': 'FOO' is not a day name (SUN-SAT)"),
    ("0 0 0 ? * monday", "day-of-week 'monday': 'MONDAY' is not a day name"),
    ("0 0 MON ? * *", "hours 'MON': 'MON' is not a number"),
    ("a b c d e f", "seconds 'a': 'A' is not a number"),
    ("0 0 0 ? JAN-3 *", "month 'JAN-3': a range must use two numbers or two names"),
    ("0 0 0 ? JAN/2 *", "month 'JAN/2': a step cannot follow a name"),
    # steps
    ("*/ * * ? * *", "seconds '*/': '/' must be followed by a step"),
    ("0 0/0 * ? * *", "minutes '0/0': step must be at least 1"),
    ("*/60 * * ? * *", "seconds '*/60': step must be 1-59"),
    ("0 0 */24 ? * *", "hours '*/24': step must be 1-23"),
    ("0 0 0 ? */13 *", "month '*/13': step must be 1-12"),
    ("0 0 0 ? * * 2030/0", "year '2030/0': step must be at least 1"),
    # ranges
    ("0 0 0 ? * * 2030-2025", "year '2030-2025': range start must not be after its end"),
    ("0 0 0 1-L * ?", "day-of-month '1-L': 'L' is not a number"),
    # syntax
    ("5x * * ? * *", "seconds '5x': expected a number, a range such as 1-5"),
    ("0 0 0 1,,2 * ?", "day-of-month '1,,2': empty item in list"),
    ("0 0 0 1, * ?", "day-of-month '1,': empty item in list"),
    # '?'
    ("? * * ? * *", "seconds '?': '?' is only allowed in day-of-month and day-of-week"),
    ("0 0 0 ?,5 * MON", "day-of-month '?,5': '?' cannot be combined with other values"),
    ("0 0 0 ? * ?", "day-of-month and day-of-week: only one of them can be '?'"),
    ("0 0 12 1 * MON", "day-of-month and day-of-week: specify '?' in one of them"),
    ("0 0 12 * * *", "day-of-month and day-of-week: specify '?' in one of them"),
    # L
    ("L * * ? * *", "seconds 'L': 'L' is only allowed in day-of-month and day-of-week"),
    ("0 0 0 L-31 * ?", "day-of-month 'L-31': the offset after 'L-' must be 0-30"),
    ("0 0 0 L- * ?", "day-of-month 'L-': 'L-' must be followed by an offset 0-30"),
    ("0 0 0 ? * L-2", "day-of-week 'L-2': 'L-n' and 'LW' are only allowed in day-of-month"),
    ("0 0 0 ? * 6L,2", "day-of-week '6L,2': 'L' cannot be combined with other values"),
    ("0 0 0 ? * 8L", "day-of-week '8L': value must be 1-7"),
    ("0 0 0 5L * ?", "day-of-month '5L': '#' and 'nL' are only allowed in day-of-week"),
    # W
    ("0 0 0 W * ?", "day-of-month 'W': 'W' must follow a single day or 'L'"),
    ("0 0 0 1-5W * ?", "day-of-month '1-5W': 'W' must follow a single day or 'L'"),
    ("0 0 0 32W * ?", "day-of-month '32W': value must be 1-31"),
    ("0 0 5W ? * *", "hours '5W': 'W' is only allowed in day-of-month"),
    ("0 0 0 ? * 5W", "day-of-week '5W': 'W' is only allowed in day-of-month"),
    # '#'
    ("0 0 0 ? * 2#6", "day-of-week '2#6': the number after '#' must be 1-5"),
    ("0 0 0 ? * 2#0", "day-of-week '2#0': the number after '#' must be 1-5"),
    ("0 0 0 ? * 2#", "day-of-week '2#': the number after '#' must be 1-5"),
    ("0 0 0 ? * 1#1,2#2", "day-of-week '1#1,2#2': '#' cannot be combined with other values"),
    ("0 0 0 ? * 8#1", "day-of-week '8#1': value must be 1-7"),
    ("0 0 0 1#1 * ?", "day-of-month '1#1': '#' and 'nL' are only allowed in day-of-week"),
    ("0 5#1 0 ? * *", "minutes '5#1': '#' is only allowed in day-of-week"),
]


@pytest.mark.parametrize(("expression", "fragment"), BAD_EXPRESSIONS)
def test_bad_expression_is_rejected_with_a_precise_message(expression: str, fragment: str) -> None:
    with pytest.raises(CronError) as caught:
        CronExpression(expression)
    assert fragment in str(caught.value)


def test_cron_error_is_a_value_error() -> None:
    assert issubclass(CronError, ValueError)


def test_unknown_zone_is_a_cron_error_naming_the_zone() -> None:
    with pytest.raises(CronError, match="unknown time zone 'Mars/Olympus_Mons'"):
        CronExpression("0 0 0 * * ?", "Mars/Olympus_Mons")


@pytest.mark.parametrize("zone", ["", "../../etc/passwd", "Europe/London/"])
def test_malformed_zone_is_a_cron_error(zone: str) -> None:
    with pytest.raises(CronError, match="time zone"):
        CronExpression("0 0 0 * * ?", zone)


def test_expression_errors_do_not_mention_zones() -> None:
    # The API tells tz errors from expression errors by the word "zone".
    for expression, _ in BAD_EXPRESSIONS:
        with pytest.raises(CronError) as caught:
            CronExpression(expression)
        assert "zone" not in str(caught.value).lower(), expression


def test_bad_dst_gap_is_rejected() -> None:
    with pytest.raises(CronError, match="dst_gap must be 'skip' or 'run_at_gap_end'"):
        CronExpression("0 0 0 * * ?", dst_gap="later")  # type: ignore[arg-type]


def test_non_string_expression_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="must be a str"):
        CronExpression(42)  # type: ignore[arg-type]


def test_overlong_expression_is_rejected() -> None:
    with pytest.raises(CronError, match="at most 1024 characters"):
        CronExpression("0 " + ",".join(["1"] * 600) + " 0 * * ?")
