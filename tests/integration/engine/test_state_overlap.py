"""Run state: overlap policies (a run is asked for while another is open) and the TTL."""

from __future__ import annotations

import pytest

from jobplan.errors import Conflict
from jobplan.store import Database
from jobplan.store.records import PlanRecord
from support.engine import T0, Harness, at, cmd


@pytest.fixture
def h(database: Database) -> Harness:
    return Harness(database)


def overlap_plan(h: Harness, policy: str, **extra: object) -> PlanRecord:
    return h.plan(jobs=[cmd("a"), cmd("b", depends_on="a")], policies={"overlap": policy}, **extra)


def test_skip_drops_the_new_run_unless_forced(h: Harness) -> None:
    plan = overlap_plan(h, "skip")
    first = h.start(plan)
    outcome = h.open(plan, at(1))
    assert (outcome.outcome, outcome.run) == ("skipped", None)
    assert [r.id for r in h.runs_of(plan)] == [first.id]

    forced = h.open(plan, at(2), force=True)
    assert forced.outcome == "started"
    assert forced.run is not None
    assert h.status(forced.run) == "RUNNING"
    assert len(h.runs_of(plan, "RUNNING")) == 2

    for run in (first, forced.run):
        h.stop(run, at(3))
    assert h.open(plan, at(4)).outcome == "started", "nothing open: a new run starts"


def test_buffer_one_queues_one_run_and_skips_further_ones(h: Harness) -> None:
    plan = overlap_plan(h, "buffer_one")
    first = h.start(plan)
    queued = h.open(plan, at(1))
    assert queued.outcome == "queued"
    assert queued.run is not None
    record = h.plan_run(queued.run)
    assert record is not None
    assert (record.status, record.started_at) == ("QUEUED", None)
    assert h.statuses(queued.run) == {"a": "WAITING", "b": "WAITING"}
    assert h.job(queued.run, "a").wake_at is None, "a queued run's jobs are not armed"
    assert h.open(plan, at(2)).outcome == "skipped"

    assert h.step(at(3)) == ["a"], "only the running run's jobs are claimed"
    assert h.step(at(4)) == ["b"]
    assert h.status(first) == "COMPLETE"

    started = h.plan_run(queued.run)
    assert started is not None
    assert (started.status, started.started_at) == ("RUNNING", at(4))
    assert h.job(started, "a").wake_at == at(4)
    assert h.step(at(5)) == ["a"]


def test_buffer_all_queues_every_run_and_starts_them_in_order(h: Harness) -> None:
    plan = overlap_plan(h, "buffer_all")
    first = h.start(plan)
    queued = [h.open(plan, at(i)) for i in (1, 2, 3)]
    assert [o.outcome for o in queued] == ["queued"] * 3
    ids = [o.run.id for o in queued if o.run is not None]

    order = []
    current = first.id
    for second in range(10, 50, 10):
        h.step(at(second))
        h.step(at(second))
        assert h.status(current) == "COMPLETE"
        running = h.runs_of(plan, "RUNNING")
        if not running:
            break
        assert len(running) == 1
        current = running[0].id
        order.append(current)
    assert order == ids


def test_stopping_the_running_run_starts_the_buffered_one_and_a_queued_run_is_deleted(
    h: Harness,
) -> None:
    plan = overlap_plan(h, "buffer_one")
    first = h.start(plan)
    queued = h.open(plan, at(1)).run
    assert queued is not None
    h.stop(first, at(2))
    assert (h.status(first), h.status(queued)) == ("ENDED", "RUNNING")

    # stopping a queued run deletes it
    again = h.open(plan, at(3)).run
    assert again is not None and h.status(again) == "QUEUED"
    h.stop(again, at(4))
    assert h.plan_run(again) is None
    assert h.jobs(again) == {}
    assert h.status(queued) == "RUNNING"


def test_cancel_other_ends_the_open_run_and_stops_its_jobs(h: Harness) -> None:
    plan = overlap_plan(h, "cancel_other")
    first = h.start(plan)
    assert h.claim_names(T0) == ["a"]

    outcome = h.open(plan, at(5))
    assert outcome.outcome == "started"
    assert outcome.cancelled == [first.id]
    ended = h.plan_run(first)
    assert ended is not None
    assert (ended.status, ended.ended_at) == ("ENDED", at(5))
    assert ended.reason is not None and "cancel_other" in ended.reason
    a = h.job(first, "a")
    assert (a.status, a.stop_requested) == ("RUNNING", True)
    assert h.job(first, "b").wake_at is None

    h.finish(a, at(6))
    assert h.job(first, "a").status == "KILLED"
    assert h.status(first) == "ENDED"
    assert outcome.run is not None
    assert h.status(outcome.run) == "RUNNING"


def test_allow_runs_both(h: Harness) -> None:
    plan = overlap_plan(h, "allow")
    first = h.start(plan)
    second = h.start(plan, at(1))
    assert {r.id for r in h.runs_of(plan, "RUNNING")} == {first.id, second.id}
    assert h.step(at(1)) == ["a", "a"]


def test_an_open_run_in_error_counts_for_the_overlap_policy(h: Harness) -> None:
    skipping = overlap_plan(h, "skip")
    first = h.start(skipping)
    h.step(T0, ok=False)
    assert h.status(first) == "ERROR"
    assert h.open(skipping, at(1)).outcome == "skipped"

    # buffer_one: a run asked for while the running one is in ERROR must not overtake the
    # run already buffered
    buffering = h.plan("buffering", jobs=[cmd("x")], policies={"overlap": "buffer_one"})
    failing = h.start(buffering, at(2))
    buffered = h.open(buffering, at(3)).run
    assert buffered is not None
    h.step(at(4), ok=False)
    assert h.status(failing) == "ERROR"
    assert h.open(buffering, at(5)).outcome == "skipped"


# --- TTL --------------------------------------------------------------------------------------


def ttl_plan(h: Harness, **policies: object) -> PlanRecord:
    return h.plan(
        jobs=[cmd("a"), cmd("b", depends_on="a")],
        window={"cron": "0 0 3 * * ?", "ttl_seconds": 60},
        policies={"overlap": "buffer_one", **policies},
    )


def test_ttl_sets_a_deadline_and_ends_the_run_when_it_passes(h: Harness) -> None:
    plan = ttl_plan(h)
    run = h.start(plan)
    assert run.deadline_at == at(60)
    h.claim(T0)
    assert h.expire(at(59)) == 0
    assert h.status(run) == "RUNNING"

    assert h.expire(at(60)) == 1
    ended = h.plan_run(run)
    assert ended is not None
    assert (ended.status, ended.reason, ended.ended_at) == ("ENDED", "TTL reached", at(60))
    assert h.job(run, "a").stop_requested
    assert h.job(run, "b").queued_at is None
    assert h.expire(at(120)) == 0, "an ended run does not expire again"


def test_a_buffered_run_gets_its_deadline_when_it_starts(h: Harness) -> None:
    plan = ttl_plan(h)
    first = h.start(plan)
    queued = h.open(plan, at(10)).run
    assert queued is not None
    record = h.plan_run(queued)
    assert record is not None
    assert record.deadline_at is None
    h.expire(at(60))
    assert h.status(first) == "ENDED"
    started = h.plan_run(queued)
    assert started is not None
    assert (started.status, started.deadline_at) == ("RUNNING", at(120))


def test_ttl_on_a_failed_run_ends_it_as_error(h: Harness) -> None:
    plan = ttl_plan(h)
    run = h.start(plan)
    h.step(T0, ok=False)
    assert h.status(run) == "ERROR"
    assert h.expire(at(60)) == 1
    ended = h.plan_run(run)
    assert ended is not None
    assert (ended.status, ended.reason) == ("ERROR", "TTL reached")
    assert ended.ended_at == at(60)


@pytest.mark.parametrize("overlap", ["skip", "buffer_one"])
def test_on_error_hold_keeps_a_failed_run_open_and_blocks_the_next(
    h: Harness, overlap: str
) -> None:
    plan = overlap_plan(h, overlap)
    run = h.start(plan)
    assert h.step(at(1), ok=False) == ["a"]
    record = h.plan_run(run)
    assert record is not None
    assert (record.status, record.ended_at) == ("ERROR", None), "held for an operator"
    assert h.open(plan, at(2)).outcome in ("skipped", "queued")


@pytest.mark.parametrize("overlap", ["skip", "buffer_one", "buffer_all"])
def test_on_error_end_ends_a_failed_run_so_the_next_fire_starts(h: Harness, overlap: str) -> None:
    plan = h.plan(
        jobs=[cmd("a"), cmd("b"), cmd("c", depends_on="a")],
        policies={"overlap": overlap, "on_error": "end"},
    )
    run = h.start(plan)
    tickets = {t.job_run.job_name: t for t in h.claim(at(1))}
    assert sorted(tickets) == ["a", "b"]
    assert h.finish(tickets["a"], at(2), ok=False)
    record = h.plan_run(run)
    assert record is not None
    assert record.status == "RUNNING", "b is still running: the run has not stalled yet"
    assert h.finish(tickets["b"], at(3), ok=True)
    record = h.plan_run(run)
    assert record is not None
    assert (record.status, record.ended_at) == ("ERROR", at(3))
    assert record.reason == "ended because job 'a' failed (on_error: end)"
    assert h.statuses(run) == {"a": "ERROR", "b": "COMPLETE", "c": "WAITING"}
    assert h.job(run, "c").wake_at is None, "the ended run's waiting job is disarmed"
    stats = h.stats(plan)
    assert stats is not None
    assert (stats.total, stats.failed, stats.last_status) == (1, 1, "ERROR")

    following = h.open(plan, at(4))
    assert following.outcome == "started", "nothing is open any more"
    assert following.run is not None
    # operator actions on the ended run's jobs are refused like on any ended run
    with pytest.raises(Conflict):
        h.act(run, "a", "reset", at(5))
