"""``jobplan cron``, and the other commands that need no server, as a user runs them: a real
subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml

from jobplan import __version__


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


LONG = "0 0,5,10,15,20,25,30,35,40,45,50,55 0,1,2,3,4,5,6,7,8,9,10,11,12 ? * MON,TUE,WED,THU,FRI"


def test_cron_output_piped_is_not_cut_even_with_columns_set() -> None:
    """Standard output is a pipe here: lines longer than COLUMNS (120) stay whole."""
    result = run_cli("cron", LONG, "--count", "1")
    assert result.returncode == 0, result.stderr
    first, description = result.stdout.splitlines()[:2]
    assert first == f"{LONG}  (UTC)"
    assert description.startswith("At 0, 5, 10") and description.endswith("and Friday")
    assert len(description) > 120


def test_cron_json_and_yaml_are_the_api_object() -> None:
    args = ("cron", "0 15 10 ? * 6#3", "--tz", "Europe/London", "--count", "2")
    args += ("--after", "2026-04-01T00:00:00+00:00")
    expected = {
        "expression": "0 15 10 ? * 6#3",
        "timezone": "Europe/London",
        "description": "At 10:15, on the third Friday of the month",
        "next_fire_times": ["2026-04-17T10:15:00+01:00", "2026-05-15T10:15:00+01:00"],
    }
    as_json = run_cli(*args, "-o", "json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == expected
    as_yaml = run_cli(*args, "--output", "yaml")
    assert yaml.safe_load(as_yaml.stdout) == expected
    wrong = run_cli(*args, "-o", "xml")
    assert wrong.returncode == 2 and "'xml' is not one of" in wrong.stderr


def test_version_option_and_command() -> None:
    option = run_cli("--version")
    assert option.returncode == 0, option.stderr
    assert option.stdout == f"{__version__}\n"
    assert run_cli("version").stdout == option.stdout


def test_shell_completion_is_enabled() -> None:
    script = run_cli("--show-completion", "bash")
    assert script.returncode == 0, script.stderr
    assert "_jobplan_completion" in script.stdout and "complete " in script.stdout
