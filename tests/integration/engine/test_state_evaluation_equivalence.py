"""Evaluating a plan run from the narrow read of its job runs (``runs.job_run_states_of``,
what every finish does) against the plain path, evaluating from the full records
(``RunState.full_evaluation``): the same sequence of claims, finishes and operator actions
leaves the same job runs and the same plan run outcome."""

from __future__ import annotations

from typing import Any

import pytest

from jobplan.store import Database
from support.engine import Harness, at, cmd, gate

JOBS = [
    cmd("a"),
    cmd("b"),
    cmd("c", depends_on={"and": ["a", "b"]}),
    cmd("d", depends_on={"or": ["a", "b"]}),
    cmd("e", depends_on={"and": ["c", {"not": "b"}]}),
    gate("g", "0 0 13 * * ?", depends_on="a"),
    cmd("h", depends_on="g"),
    cmd("m", startup="manual"),
    cmd("n", depends_on="m"),
    *[cmd(f"w{i}", depends_on="d") for i in range(6)],
]
FIELDS = ("status", "attempt", "queued_at", "wake_at", "started_at", "ended_at", "reason")


def _play(h: Harness, failing: set[str], on_error: str) -> tuple[Any, dict[str, Any]]:
    """Run the plan through claims and finishes (``failing`` jobs fail), releasing the manual
    job half way; the plan run's outcome and every job run's evaluated fields."""
    plan = h.plan(jobs=JOBS, policies={"on_error": on_error, "max_retries": 0})
    run = h.start(plan)
    for step, now in enumerate([at(1), at(2), at(3), at(minutes=30), at(hours=1), at(hours=2)]):
        if step == 2:
            h.act(run, "m", "release", now)
        for ticket in h.claim(now):
            h.finish(ticket, now, ok=ticket.job_run.job_name not in failing)
    final = h.plan_run(run)
    assert final is not None
    jobs = {name: tuple(getattr(jr, field) for field in FIELDS) for name, jr in h.jobs(run).items()}
    return (final.status, final.ended_at, final.reason), jobs


@pytest.mark.parametrize(
    ("failing", "on_error"),
    [(set(), "end"), ({"b"}, "end"), ({"b"}, "hold"), ({"a", "w3"}, "hold")],
    ids=["all-succeed", "b-fails-end", "b-fails-hold", "a-and-w3-fail-hold"],
)
def test_narrow_evaluation_matches_the_full_one(
    database: Database, failing: set[str], on_error: str
) -> None:
    plain = Harness(database, "plain")
    plain.state.full_evaluation = True
    expected = _play(plain, failing, on_error)
    narrow = plain.other_tenant("narrow")
    assert not narrow.state.full_evaluation
    assert _play(narrow, failing, on_error) == expected
