"""The scheduler tick's hot path: what it logs for runs that complete as they open, and the
collector pause around it. (Equivalence of the fast row paths with the plain ones:
test_run_rows_equivalence.py.)"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Connection
from structlog.testing import capture_logs

from jobplan.engine.documents import VersionCache
from jobplan.engine.graph import RunGraph
from jobplan.store import Database
from support.engine import T0, Harness, at, cmd, gate


@pytest.fixture
def h(database: Database) -> Harness:
    return Harness(database)


@contextmanager
def _root_level(level: int) -> Iterator[None]:
    root = logging.getLogger()
    before = root.level
    root.setLevel(level)
    try:
        yield
    finally:
        root.setLevel(before)


@pytest.fixture
def debug_level() -> Iterator[None]:
    with _root_level(logging.DEBUG):
        yield


def _lines(logs: list[dict[str, Any]], event: str) -> list[dict[str, Any]]:
    return [line for line in logs if line["event"] == event]


def _plans(h: Harness) -> tuple[str, str]:
    """A plan whose one job is a time gate already open (its run completes as it opens) and
    one with a command (its run stays open); both due at T0."""
    quick = h.plan(
        "quick",
        jobs=[gate("open", "* * * * * ?")],
        window={"cron": "0 * * * * ?"},
        policies={"overlap": "allow"},
    )
    slow = h.plan(
        "slow", jobs=[cmd("a")], window={"cron": "0 * * * * ?"}, policies={"overlap": "allow"}
    )
    h.set_next_fire(quick, T0)
    h.set_next_fire(slow, T0)
    return quick.id, slow.id


def test_a_tick_summarises_runs_that_completed_as_they_opened(
    h: Harness, debug_level: None
) -> None:
    quick, slow = _plans(h)
    with capture_logs() as logs:
        outcomes = h.tick(at(0.5))
    runs = {o.run.plan_id: o.run for o in outcomes if o.run is not None}
    assert runs[quick].status == "COMPLETE" and runs[slow].status == "RUNNING"
    opened = {line["plan_run"]: line["log_level"] for line in _lines(logs, "plan_run.opened")}
    # the run that completed at once is told at DEBUG, the one that goes on at INFO
    assert opened == {runs[quick].id: "debug", runs[slow].id: "info"}
    (ended,) = _lines(logs, "plan_run.ended")
    assert (ended["plan_run"], ended["log_level"]) == (runs[quick].id, "debug")
    (summary,) = _lines(logs, "scheduler.tick")
    assert summary["log_level"] == "info"
    assert {k: summary[k] for k in ("plans", "started", "queued", "skipped", "completed")} == {
        "plans": 2,
        "started": 2,
        "queued": 0,
        "skipped": 0,
        "completed": 1,
    }
    assert summary["first_fire_time"] == summary["last_fire_time"] == T0.isoformat()


def test_at_info_the_quiet_lines_are_not_even_built(h: Harness) -> None:
    _, slow = _plans(h)
    with _root_level(logging.INFO), capture_logs() as logs:
        outcomes = h.tick(at(0.5))
    runs = {o.run.plan_id: o.run for o in outcomes if o.run is not None}
    assert [line["plan_run"] for line in _lines(logs, "plan_run.opened")] == [runs[slow].id]
    assert _lines(logs, "plan_run.ended") == []
    assert [line["completed"] for line in _lines(logs, "scheduler.tick")] == [1]


def test_a_run_started_by_hand_keeps_its_info_lines(h: Harness, debug_level: None) -> None:
    quick = h.plan("quick", jobs=[gate("open", "* * * * * ?")])
    with capture_logs() as logs:
        run = h.start(quick, at(0.5))
    assert run.status == "COMPLETE"
    assert [line["log_level"] for line in _lines(logs, "plan_run.opened")] == ["info"]
    assert [line["log_level"] for line in _lines(logs, "plan_run.ended")] == ["info"]
    assert _lines(logs, "scheduler.tick") == []


def test_a_tick_that_completes_nothing_logs_no_summary(h: Harness) -> None:
    slow = h.plan(
        "slow", jobs=[cmd("a")], window={"cron": "0 * * * * ?"}, policies={"overlap": "allow"}
    )
    h.set_next_fire(slow, T0)
    with capture_logs() as logs:
        h.tick(at(0.5))
    assert _lines(logs, "scheduler.tick") == []


class _Watching(VersionCache):
    """Records whether the cyclic collector was enabled whenever the tick looks up a plan."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[bool] = []

    def graph(self, conn: Connection, version_id: str) -> RunGraph:
        self.seen.append(gc.isenabled())
        return super().graph(conn, version_id)


def test_the_collector_is_paused_during_a_tick_only(database: Database) -> None:
    versions = _Watching()
    h = Harness(database)
    h.state.versions = versions
    _plans(h)
    assert gc.isenabled()
    versions.seen.clear()
    assert len(h.tick(at(0.5))) == 2
    assert versions.seen and not any(versions.seen), "paused while the tick runs"
    assert gc.isenabled(), "and resumed after it"
