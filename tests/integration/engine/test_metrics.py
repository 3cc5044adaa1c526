"""The engine's metrics move where the facts are born, and only once they are committed: ended
job and plan runs by kind and status, durations, misfires by policy, the delay of fires."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Connection

from jobplan.engine.executors.base import ExecutionResult
from jobplan.engine.scheduler import WindowScheduler
from jobplan.engine.writer import Writer
from jobplan.metrics import Metrics
from jobplan.store import Database
from jobplan.store.committed import call_after_commit
from support.engine import T0, Harness, at, cmd, gate


@pytest.fixture
def h(database: Database) -> Harness:
    return Harness(database)


def value(metrics: Metrics, name: str, **labels: str) -> float:
    found = metrics.registry.get_sample_value(name, labels)
    assert found is not None, f"no sample {name}{labels}"
    return found


def test_ended_job_and_plan_runs_are_counted_by_kind_and_status(h: Harness) -> None:
    m = h.state.metrics
    plan = h.plan(
        "p",
        jobs=[gate("g", "0 0 12 * * ?"), cmd("a", depends_on="g"), cmd("b", depends_on="a")],
        policies={"on_error": "end", "max_retries": 0},
    )
    run = h.start(plan, T0)  # the gate is due at once: it completes as the run opens
    assert value(m, "jobplan_job_runs_total", kind="time", status="COMPLETE") == 1
    assert h.run_job(run, "a", T0).status == "COMPLETE"
    assert h.claim_names(at(2)) == ["b"]
    assert h.finish(h.job(run, "b"), at(5), ok=False)

    assert h.status(run) == "ERROR"
    assert value(m, "jobplan_job_runs_total", kind="command", status="COMPLETE") == 1
    assert value(m, "jobplan_job_runs_total", kind="command", status="ERROR") == 1
    assert value(m, "jobplan_plan_runs_total", status="ERROR") == 1
    assert value(m, "jobplan_plan_runs_total", status="COMPLETE") == 0
    # a ran 0 s (claimed and finished at T0), b from its claim at 2 s to its end at 5 s
    assert value(m, "jobplan_job_run_duration_seconds_count", kind="command") == 2
    assert value(m, "jobplan_job_run_duration_seconds_sum", kind="command") == 3
    assert value(m, "jobplan_job_run_duration_seconds_count", kind="time") == 1


def test_a_skip_counts_once_and_a_failed_job_skipped_is_not_counted_again(h: Harness) -> None:
    m = h.state.metrics
    plan = h.plan("p", jobs=[cmd("a"), cmd("b", depends_on="a"), cmd("c", depends_on="a")])
    run = h.start(plan, T0)
    h.act(run, "b", "skip", T0)
    assert value(m, "jobplan_job_runs_total", kind="command", status="SKIPPED") == 1
    assert h.run_job(run, "a", T0, ok=False).status == "ERROR"
    assert h.status(run) == "ERROR", "held for an operator (on_error: hold)"
    assert value(m, "jobplan_plan_runs_total", status="ERROR") == 0, "an open run has not ended"

    h.act(run, "a", "skip", at(1))
    assert value(m, "jobplan_job_runs_total", kind="command", status="ERROR") == 1
    assert value(m, "jobplan_job_runs_total", kind="command", status="SKIPPED") == 1
    h.step(at(2))  # c runs now that a counts as done
    assert h.status(run) == "COMPLETE"
    assert value(m, "jobplan_plan_runs_total", status="COMPLETE") == 1


def test_misfires_are_counted_by_policy_and_on_time_fires_observe_their_delay(
    h: Harness,
) -> None:
    m = h.state.metrics
    durable = at(hours=1, seconds=2.5)
    h.scheduler = WindowScheduler(h.state, clock=lambda: durable)
    plans = {
        policy: h.plan(
            f"w-{policy}",
            jobs=[cmd("a")],
            window={"cron": "0 0 * * * ?"},
            policies={"overlap": "allow", "misfire": policy, "catchup_window_seconds": 5400},
        )
        for policy in ("skip", "run_all")
    }
    for plan in plans.values():
        h.set_next_fire(plan, at(hours=-2))  # down since 10:00; now 12:30
    outcomes = h.tx(lambda c: h.scheduler.tick(c, at(minutes=30)))
    assert {o.run.trigger for o in outcomes if o.run} == {"catchup"}
    assert value(m, "jobplan_misfires_total", policy="skip") == 1
    assert value(m, "jobplan_misfires_total", policy="run_all") == 1, "one per plan, not per fire"
    assert value(m, "jobplan_misfires_total", policy="run_once") == 0
    assert value(m, "jobplan_schedule_delay_seconds_count") == 0, (
        "catch-up runs are late on purpose"
    )

    h.tx(lambda c: h.scheduler.tick(c, at(hours=1)))  # both plans fire on time at 13:00
    assert value(m, "jobplan_misfires_total", policy="skip") == 1
    assert value(m, "jobplan_schedule_delay_seconds_count") == 2
    assert value(m, "jobplan_schedule_delay_seconds_sum") == 5.0  # durable 2.5 s after the fire


def test_nothing_is_counted_for_a_transaction_that_rolls_back(h: Harness) -> None:
    m = h.state.metrics
    run = h.start(h.plan("p", jobs=[cmd("a")]), T0)
    (ticket,) = h.claim(T0)

    def finish_then_fail(conn: Connection) -> None:
        result = ExecutionResult(succeeded=True, reason=None)
        assert h.state.finish(conn, ticket.job_run.id, "n1", result, at(1))
        raise RuntimeError("the commit never happens")

    with pytest.raises(RuntimeError):
        h.tx(finish_then_fail)
    assert value(m, "jobplan_job_runs_total", kind="command", status="COMPLETE") == 0
    assert value(m, "jobplan_plan_runs_total", status="COMPLETE") == 0
    assert h.finish(ticket, at(1))
    assert h.status(run) == "COMPLETE"
    assert value(m, "jobplan_job_runs_total", kind="command", status="COMPLETE") == 1
    assert value(m, "jobplan_plan_runs_total", status="COMPLETE") == 1


def test_the_writer_drops_what_a_failed_change_registered_and_keeps_the_rest(
    database: Database,
) -> None:
    called: list[str] = []

    def change(name: str, fail: bool, conn: Connection) -> str:
        call_after_commit(conn, lambda: called.append(name))
        if fail:
            raise ValueError(name)
        return name

    async def main() -> None:
        writer = Writer(database)
        writer.start()
        try:
            results = await asyncio.gather(
                writer.run(lambda c: change("kept", False, c)),
                writer.run(lambda c: change("dropped", True, c)),
                writer.run(lambda c: change("also kept", False, c)),
                return_exceptions=True,
            )
        finally:
            writer.stop()
        assert results[0] == "kept" and results[2] == "also kept"
        assert isinstance(results[1], ValueError)

    asyncio.run(main())
    assert sorted(called) == ["also kept", "kept"]
