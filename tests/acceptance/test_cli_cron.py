"""``jobplan cron`` as a user runs it: a real subprocess."""

from __future__ import annotations

import subprocess
import sys


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jobplan", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "120"},
    )


def test_cron_prints_fire_times_and_description() -> None:
    result = run_cli(
        "cron",
        "0 15 10 ? * 6#3",
        "--tz",
        "Europe/London",
        "--count",
        "5",
        "--after",
        "2026-01-01T00:00:00+00:00",
    )
    assert result.returncode == 0, result.stderr
    assert "2026-01-16T10:15:00+00:00" in result.stdout
    assert "2026-05-15T10:15:00+01:00" in result.stdout  # British Summer Time
    assert result.stdout.count("10:15:00") == 5
    assert "friday" in result.stdout.lower()


def test_cron_rejects_a_bad_expression_with_exit_2() -> None:
    result = run_cli("cron", "0 15 10 ? * 2#6")
    assert result.returncode == 2
    assert "day-of-week '2#6'" in result.stderr
    assert "Traceback" not in result.stderr
