"""The fire in the job's context, end to end: a real engine runs a real process and calls a
real HTTP server on 127.0.0.1, for a scheduled fire (across a DST change) and a manual run."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo

import pytest

from jobplan.engine.executors import (
    CommandExecutor,
    ExecutionRequest,
    ExecutionResult,
    Executor,
    HttpExecutor,
    OutputSink,
)
from jobplan.service.backfills import BackfillService
from jobplan.settings import Settings
from jobplan.store import Database
from support.api import wait_for
from support.engine import Harness
from support.live import live_engine

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a POSIX shell")

PARIS = ZoneInfo("Europe/Paris")
# Paris moved its clocks from 02:00 to 03:00 on 2026-03-29, so that day had no 02:30
FIRE = datetime(2026, 3, 30, 0, 30, tzinfo=UTC)
REGION = "a b/c&d=é ü?#"
QUOTE = 'he said "hi" \\ }{ ${not a reference}'
INERT = "`touch PWNED`; $(touch PWNED) > PWNED; echo $HOME"


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """An HTTP server recording each request: raw target, headers, body."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            received.append(
                {
                    "target": self.path,
                    "headers": dict(self.headers.items()),
                    "body": self.rfile.read(length),
                }
            )
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


class OneShotHttp:
    """The HTTP executor, opened in the engine's event loop for each request (the engine
    runs in a thread of its own)."""

    async def execute(self, request: ExecutionRequest, sink: OutputSink) -> ExecutionResult:
        async with HttpExecutor() as http:
            return await http.execute(request, sink)


def _plan(base: str, workdir: Path) -> dict[str, Any]:
    show = (
        'printf "%s\\n" "$JOBPLAN_SCHEDULED_FOR" "$JOBPLAN_SCHEDULED_FOR_UTC" '
        '"$JOBPLAN_PREVIOUS_SCHEDULED_FOR" "$JOBPLAN_TRIGGER" "$JOBPLAN_TENANT" "$day" "$inert"'
    )
    return {
        "window": {"cron": "0 30 2 * * ?", "timezone": "Europe/Paris"},
        "policies": {"overlap": "allow", "max_retries": 0},
        "parameters": [
            {"name": "day", "default": "${scheduled_for:%Y-%m-%d}"},
            {"name": "region", "default": REGION},
            {"name": "quote", "default": QUOTE.replace("${", "$${")},
            {"name": "inert", "default": INERT + " ${tenant}"},
        ],
        "jobs": [
            {
                "name": "show",
                "kind": "command",
                "command": show,
                "working_directory": str(workdir),
            },
            {
                "name": "call",
                "kind": "http",
                "method": "POST",
                "url": base + "/r/${region}/${day}?region=${region}&t=${trigger}",
                "headers": {"X-Day": "${day}", "X-Prev": "${previous_scheduled_for:%d %H:%M}"},
                "body": {"quote": "${quote}", "region": "${region}", "n": 1},
            },
        ],
    }


def test_commands_and_http_calls_know_the_fire_they_serve(
    database: Database, tmp_path: Path, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    base, received = receiver
    received.clear()
    h = Harness(database)
    plan = h.plan("nightly", **_plan(base, tmp_path))
    # the run of the fire at FIRE, opened as the scheduler does; the window then stays quiet
    h.set_next_fire(plan, FIRE)
    (opened,) = h.tick(FIRE)
    h.set_next_fire(plan, None)
    scheduled = opened.run
    assert scheduled is not None
    settings = Settings(home=tmp_path / "home", engine_poll_seconds=0.2)
    executors: dict[str, Executor] = {
        "command": CommandExecutor(kill_grace_seconds=0.2),
        "http": OneShotHttp(),
    }
    with live_engine(settings, database, executors):
        wait_for(lambda: h.status(scheduled) == "COMPLETE", 30, "the scheduled run")
        asked_from = datetime.now(UTC).replace(microsecond=0)
        outcome = h.runs.start(h.caller, "nightly")
        assert outcome.run is not None
        manual = outcome.run
        wait_for(lambda: h.status(manual) == "COMPLETE", 30, "the manual run")
        # a backfill of three days, across the DST change: two fires (the 29th had no 02:30)
        backfills = BackfillService(database, h.state, h.plans)
        backfills.create(
            h.caller,
            "nightly",
            datetime(2026, 3, 28, tzinfo=PARIS),
            datetime(2026, 3, 31, tzinfo=PARIS),
            max_active=2,
        )
        wait_for(
            lambda: len([r for r in h.runs_of(plan, "COMPLETE") if r.trigger == "backfill"]) == 2,
            30,
            "both backfilled runs",
        )
        backfilled = [r for r in h.runs_of(plan, "COMPLETE") if r.trigger == "backfill"]

    # the scheduled fire, served across the DST change
    lines = h.read_output(h.job(scheduled, "show")).splitlines()
    assert lines == [
        "2026-03-30T02:30:00+02:00",
        "2026-03-30T00:30:00Z",
        "2026-03-28T02:30:00+01:00",  # the 29th's fire fell in the gap
        "schedule",
        "acme",
        "2026-03-30",
        INERT + " acme",  # shell syntax in a value stays text
    ]
    assert not (tmp_path / "PWNED").exists()
    by_trigger = {parse_qs(urlsplit(r["target"]).query)["t"][0]: r for r in received}
    call = by_trigger["schedule"]
    path = urlsplit(call["target"]).path.split("/")
    assert [unquote(segment) for segment in path] == ["", "r", REGION, "2026-03-30"]
    assert parse_qs(urlsplit(call["target"]).query) == {"region": [REGION], "t": ["schedule"]}
    assert (call["headers"]["X-Day"], call["headers"]["X-Prev"]) == ("2026-03-30", "28 02:30")
    assert json.loads(call["body"]) == {"quote": QUOTE, "region": REGION, "n": 1}

    # the manual run serves the moment it was asked for; its previous fire is the window's
    lines = h.read_output(h.job(manual, "show")).splitlines()
    served = datetime.fromisoformat(lines[0])
    assert asked_from <= served <= datetime.now(UTC)
    assert served.utcoffset() == served.astimezone(PARIS).utcoffset()
    assert lines[1] == served.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    previous = datetime.fromisoformat(lines[2])
    assert (previous.hour, previous.minute) == (2, 30) and previous < served
    assert served - previous <= timedelta(days=1)
    assert lines[3:6] == ["manual", "acme", served.strftime("%Y-%m-%d")]
    call = by_trigger["manual"]
    assert call["headers"]["X-Day"] == served.strftime("%Y-%m-%d")
    assert json.loads(call["body"])["quote"] == QUOTE

    # each backfilled run serves its own fire time
    shown = sorted(tuple(h.read_output(h.job(run, "show")).splitlines()) for run in backfilled)
    assert [lines[:6] for lines in shown] == [
        (
            "2026-03-28T02:30:00+01:00",
            "2026-03-28T01:30:00Z",
            "2026-03-27T02:30:00+01:00",
            "backfill",
            "acme",
            "2026-03-28",
        ),
        (
            "2026-03-30T02:30:00+02:00",
            "2026-03-30T00:30:00Z",
            "2026-03-28T02:30:00+01:00",
            "backfill",
            "acme",
            "2026-03-30",
        ),
    ]
    days = sorted(
        r["headers"]["X-Day"]
        for r in received
        if parse_qs(urlsplit(r["target"]).query)["t"] == ["backfill"]
    )
    assert days == ["2026-03-28", "2026-03-30"]
