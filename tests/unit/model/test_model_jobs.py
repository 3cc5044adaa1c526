"""Jobs of every kind: defaults, round trips and kind-specific validation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from jobplan.model import (
    CommandJob,
    DstGap,
    EventJob,
    FileJob,
    HttpJob,
    HttpMethod,
    JobKind,
    PlanDocument,
    StartupControl,
    TimeJob,
)
from jobplan.model.limits import MAX_COMMAND_CHARS

Errors = Callable[[dict[str, Any]], list[str]]


def _plan_with(job: dict[str, Any]) -> dict[str, Any]:
    return {"name": "p", "jobs": [job]}


def _only_job(job: dict[str, Any]) -> Any:
    plan = PlanDocument.model_validate(_plan_with(job))
    assert PlanDocument.model_validate(plan.model_dump(mode="json")) == plan
    return plan.jobs[0]


def test_command_job() -> None:
    job = _only_job(
        {
            "name": "run",
            "kind": "command",
            "command": 'echo "start"\nls -la\necho $region',
            "working_directory": "/srv/etl",
            "success_exit_codes": [0, 3],
            "environment": {"LANG": "C.UTF-8"},
            "startup": "manual",
            "agent": "scheduler-agent",
            "min_execution_seconds": 0.01,
            "max_execution_seconds": 1000,
            "timeout_seconds": 3600,
            "max_retries": 2,
            "parameters": [{"name": "region", "default": "eu"}],
        }
    )
    assert isinstance(job, CommandJob)
    assert job.kind is JobKind.COMMAND
    assert job.startup is StartupControl.MANUAL
    assert job.success_exit_codes == [0, 3]


def test_command_job_defaults() -> None:
    job = CommandJob(name="a", command="true")
    assert job.kind is JobKind.COMMAND
    assert job.success_exit_codes == [0]
    assert job.environment == {}
    assert job.startup is StartupControl.AUTOMATIC
    assert job.depends_on is None


def test_http_job_with_url() -> None:
    job = _only_job(
        {
            "name": "ping",
            "kind": "http",
            "method": "POST",
            "url": "https://api.example.com/v1/refresh?full=1",
            "headers": {"Content-Type": "application/json"},
            "body": {"full": True, "regions": ["eu", "us"]},
            "expected_statuses": [200, "3xx", "204"],
        }
    )
    assert isinstance(job, HttpJob)
    assert job.method is HttpMethod.POST
    assert job.expected_statuses == [200, "3xx", 204]
    assert job.accepts(200) and job.accepts(302) and job.accepts(204)
    assert not job.accepts(201) and not job.accepts(500)


def test_http_job_default_accepts_2xx() -> None:
    job = HttpJob(name="a", url="http://localhost:8080/")
    assert job.expected_statuses == ["2xx"]
    assert job.accepts(200) and job.accepts(299)
    assert not job.accepts(301) and not job.accepts(404)


def test_http_job_with_service_reference() -> None:
    job = _only_job(
        {
            "name": "weather",
            "kind": "http",
            "method": "POST",
            "service": "openweather",
            "operation": "getWeather",
            "service_type": "intSer",
            "service_version": "1.0",
            "security_level": "public",
            "body": '{"cityName":""}',
        }
    )
    assert isinstance(job, HttpJob)
    assert job.url is None
    assert job.body == '{"cityName":""}'


def test_time_job() -> None:
    job = _only_job(
        {
            "name": "seven-am",
            "kind": "time",
            "cron": "0 0 7 ? * MON-FRI",
            "timezone": "Europe/London",
            "dst_gap": "run_at_gap_end",
            "blackouts": [
                {"cron": "* * * ? * SAT,SUN"},
                {"start": "2025-12-25T00:00:00", "end": "2025-12-26T00:00:00"},
                {"start": "2025-01-01T00:00:00+00:00", "end": "2025-01-01T06:00:00+00:00"},
            ],
        }
    )
    assert isinstance(job, TimeJob)
    assert job.dst_gap is DstGap.RUN_AT_GAP_END
    assert job.schedule() is not None


def test_file_job() -> None:
    job = _only_job(
        {
            "name": "trades-file",
            "kind": "file",
            "path": "/data/in",
            "patterns": ["trades_*.csv", "file.1.txt"],
            "min_age_seconds": 30,
            "poll_cron": "0 0/1 * * * ?",
            "move_to": "/data/processing",
            "depth": 2,
        }
    )
    assert isinstance(job, FileJob)
    assert FileJob(name="f", path="/x", patterns=["*"]).poll_cron == "0 * * * * ?"


def test_event_job() -> None:
    job = _only_job({"name": "GlobalEventJob1", "kind": "event", "event": "GlobalEventJob1"})
    assert isinstance(job, EventJob)


@pytest.mark.parametrize(
    ("job", "expected"),
    [
        (
            {"name": "a"},
            "jobs[0].kind: missing job kind: use one of command, http, time, file, event",
        ),
        (
            {"name": "a", "kind": "shell", "command": "x"},
            "jobs[0].kind: unknown job kind 'shell': use one of command, http, time, file, event",
        ),
        ({"name": "a", "kind": "command"}, "jobs[0].command: Field required"),
        (
            {"name": "a", "kind": "command", "command": "  \n "},
            "jobs[0].command: command must not be blank",
        ),
        (
            {"name": "a", "kind": "command", "command": "x" * (MAX_COMMAND_CHARS + 1)},
            f"jobs[0].command: String should have at most {MAX_COMMAND_CHARS} characters",
        ),
        (
            {"name": "a", "kind": "command", "command": "x", "success_exit_codes": [0, 0]},
            "jobs[0].success_exit_codes[1]: exit code 0 is listed twice",
        ),
        (
            {"name": "a", "kind": "command", "command": "x", "success_exit_codes": [256]},
            "jobs[0].success_exit_codes[0]: Input should be less than or equal to 255",
        ),
        (
            {"name": "a", "kind": "command", "command": "x", "environment": {"1BAD": "x"}},
            "jobs[0].environment.1BAD.[key]: '1BAD' is not a valid variable name: it must start "
            "with a letter or '_' and contain only letters, digits and '_' (at most 100 "
            "characters), because it is passed as an environment variable",
        ),
        (
            {"name": "a", "kind": "command", "command": "x", "shell": "bash"},
            "jobs[0].shell: Extra inputs are not permitted",
        ),
        (
            {"name": "a", "kind": "command", "command": "x", "url": "http://x"},
            "jobs[0].url: Extra inputs are not permitted",
        ),
        (
            {
                "name": "a",
                "kind": "command",
                "command": "x",
                "min_execution_seconds": 10,
                "max_execution_seconds": 5,
            },
            "jobs[0].max_execution_seconds: max_execution_seconds must not be less than "
            "min_execution_seconds",
        ),
        (
            {
                "name": "a",
                "kind": "command",
                "command": "x",
                "parameters": [{"name": "p"}, {"name": "p"}],
            },
            "jobs[0].parameters[1].name: duplicate parameter name 'p' (also parameters[0])",
        ),
        (
            {"name": "a", "kind": "command", "command": "x", "startup": "held"},
            "jobs[0].startup: Input should be 'automatic', 'manual' or 'disabled'",
        ),
        ({"name": "a", "kind": "http"}, "jobs[0].url: an http job needs either url or service"),
        (
            {"name": "a", "kind": "http", "url": "http://x", "service": "s"},
            "jobs[0].service: give either url or service, not both",
        ),
        (
            {"name": "a", "kind": "http", "url": "http://x", "operation": "op"},
            "jobs[0].operation: operation is only allowed together with service",
        ),
        (
            {"name": "a", "kind": "http", "url": "ftp://files.example.com/x"},
            "jobs[0].url: 'ftp://files.example.com/x' is not an absolute http:// or https:// URL",
        ),
        (
            {"name": "a", "kind": "http", "url": "/relative/path"},
            "jobs[0].url: '/relative/path' is not an absolute http:// or https:// URL",
        ),
        (
            {"name": "a", "kind": "http", "url": "http://x", "method": "TRACE"},
            "jobs[0].method: Input should be 'GET', 'POST', 'PUT', 'PATCH', 'DELETE' or 'HEAD'",
        ),
        (
            {"name": "a", "kind": "http", "url": "http://x", "expected_statuses": ["6xx"]},
            "jobs[0].expected_statuses[0]: '6xx' is not an HTTP status: use a code from 100 to "
            "599 or a class such as '2xx'",
        ),
        (
            {"name": "a", "kind": "http", "url": "http://x", "expected_statuses": []},
            "jobs[0].expected_statuses: List should have at least 1 item after validation, not 0",
        ),
        (
            {"name": "a", "kind": "http", "url": "http://x", "headers": {"Bad Header": "v"}},
            "jobs[0].headers.Bad Header.[key]: 'Bad Header' is not a valid HTTP header name",
        ),
        (
            {"name": "a", "kind": "http", "url": "http://x", "headers": {"X-A": "1\r\nX-B: 2"}},
            "jobs[0].headers.X-A: header values must not contain line breaks or NUL",
        ),
        (
            {
                "name": "a",
                "kind": "http",
                "url": "http://x",
                "headers": {"Accept": "a", "accept": "b"},
            },
            "jobs[0].headers.accept: header 'accept' duplicates 'Accept' (names ignore case)",
        ),
        ({"name": "a", "kind": "time"}, "jobs[0].cron: Field required"),
        (
            {"name": "a", "kind": "time", "cron": "0 0 7 * * ?", "timezone": "Europe/Atlantis"},
            "jobs[0].timezone: unknown time zone 'Europe/Atlantis': use an IANA name such as "
            "'Europe/London', 'America/New_York' or 'UTC'",
        ),
        (
            {"name": "a", "kind": "time", "cron": "0 0 7 * * ?", "timezone": "../../etc/passwd"},
            "jobs[0].timezone: unknown time zone '../../etc/passwd': use an IANA name such as "
            "'Europe/London', 'America/New_York' or 'UTC'",
        ),
        (
            {"name": "a", "kind": "time", "cron": "0 0 7 * * ?", "blackouts": [{}]},
            "jobs[0].blackouts[0].start: a blackout needs either cron, or both start and end",
        ),
        (
            {
                "name": "a",
                "kind": "time",
                "cron": "0 0 7 * * ?",
                "blackouts": [{"start": "2025-01-02T00:00:00", "end": "2025-01-01T00:00:00"}],
            },
            "jobs[0].blackouts[0].end: end must be after start",
        ),
        (
            {
                "name": "a",
                "kind": "time",
                "cron": "0 0 7 * * ?",
                "blackouts": [{"start": "2025-01-01T00:00:00Z", "end": "2025-01-02T00:00:00"}],
            },
            "jobs[0].blackouts[0].end: start and end must both have a UTC offset, or both have "
            "none",
        ),
        (
            {
                "name": "a",
                "kind": "time",
                "cron": "0 0 7 * * ?",
                "blackouts": [{"cron": "* * 1 * * ?", "start": "2025-01-01T00:00:00", "end": None}],
            },
            "jobs[0].blackouts[0].start: give either cron or start/end, not both",
        ),
        (
            {"name": "a", "kind": "file", "path": "/in", "patterns": []},
            "jobs[0].patterns: List should have at least 1 item after validation, not 0",
        ),
        (
            {"name": "a", "kind": "file", "path": "/in", "patterns": ["sub/*.csv"]},
            "jobs[0].patterns[0]: patterns match file names, so they must not contain '/' (or NUL)",
        ),
        (
            {"name": "a", "kind": "file", "path": "/in", "patterns": ["*"], "depth": 0},
            "jobs[0].depth: Input should be greater than or equal to 1",
        ),
        (
            {"name": "a", "kind": "file", "path": "", "patterns": ["*"]},
            "jobs[0].path: String should have at least 1 character",
        ),
        ({"name": "a", "kind": "event"}, "jobs[0].event: Field required"),
        (
            {"name": "a", "kind": "event", "event": "has space"},
            "jobs[0].event: name 'has space' contains ' '; use only letters, digits, '_', '.' "
            "and '-'",
        ),
    ],
)
def test_job_errors_name_the_field(job: dict[str, Any], expected: str, plan_errors: Errors) -> None:
    assert plan_errors(_plan_with(job)) == [expected]


def test_oversized_http_body(plan_errors: Errors) -> None:
    job = {"name": "a", "kind": "http", "url": "http://x", "body": {"blob": "x" * 1_048_576}}
    (line,) = plan_errors(_plan_with(job))
    assert line.startswith("jobs[0].body: body must be at most 1048576 characters (got ")


def test_bad_cron_uses_the_cron_engine_message(plan_errors: Errors) -> None:
    (line,) = plan_errors(_plan_with({"name": "a", "kind": "time", "cron": "0 0 7 ? * 2#6"}))
    assert line.startswith("jobs[0].cron: invalid cron expression '0 0 7 ? * 2#6': ")
    assert "'#'" in line


def test_kind_can_be_given_as_enum_in_python() -> None:
    plan = PlanDocument(name="p", jobs=[EventJob(name="e", event="E")])
    assert plan.jobs[0].kind is JobKind.EVENT
    assert plan.model_dump(mode="json")["jobs"][0]["kind"] == "event"
