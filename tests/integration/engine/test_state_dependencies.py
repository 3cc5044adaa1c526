"""Run state: dependency conditions, stages, startup control and time gates."""

from __future__ import annotations

import pytest

from jobplan.errors import InvalidInput
from jobplan.store import Database
from support.engine import T0, Harness, at, cmd, gate


@pytest.fixture
def h(database: Database) -> Harness:
    return Harness(database)


# --- and / or / not ---------------------------------------------------------------------------


def test_and_waits_for_every_operand(h: Harness) -> None:
    plan = h.plan(jobs=[cmd("a"), cmd("b"), cmd("c", depends_on={"and": ["a", "b"]})])
    run = h.start(plan)
    assert h.claim_names(T0) == ["a", "b"]
    assert h.job(run, "c").queued_at is None

    assert h.finish(h.job(run, "a"), at(1))
    assert h.statuses(run)["c"] == "WAITING"
    assert h.job(run, "c").queued_at is None, "c must not be armed while b is running"
    assert h.claim_names(at(1)) == []

    assert h.finish(h.job(run, "b"), at(2))
    c = h.job(run, "c")
    assert (c.queued_at, c.wake_at) == (at(2), at(2))
    assert h.step(at(2)) == ["c"]
    assert h.status(run) == "COMPLETE"


def test_or_starts_when_any_operand_is_done(h: Harness) -> None:
    plan = h.plan(jobs=[cmd("a"), cmd("b"), cmd("c", depends_on={"or": ["a", "b"]})])
    run = h.start(plan)
    h.claim(T0)
    assert h.finish(h.job(run, "a"), at(1))
    assert h.job(run, "c").wake_at == at(1)
    assert h.claim_names(at(1)) == ["c"]
    assert h.statuses(run) == {"a": "COMPLETE", "b": "RUNNING", "c": "RUNNING"}


def test_or_of_a_failed_and_a_done_job_still_holds(h: Harness) -> None:
    plan = h.plan(jobs=[cmd("a"), cmd("b"), cmd("c", depends_on={"or": ["a", "b"]})])
    run = h.start(plan)
    h.claim(T0)
    h.finish(h.job(run, "a"), at(1), ok=False)
    assert h.job(run, "c").queued_at is None
    h.finish(h.job(run, "b"), at(2))
    assert h.claim_names(at(2)) == ["c"]


def test_not_runs_the_fallback_only_while_the_primary_is_not_done(h: Harness) -> None:
    # fallback may run once `check` is done, provided `primary` is not
    plan = h.plan(
        jobs=[
            cmd("primary", startup="manual"),
            cmd("check"),
            cmd("fallback", depends_on={"and": ["check", {"not": "primary"}]}),
        ]
    )
    run = h.start(plan)
    assert h.step(T0) == ["check"]
    assert h.job(run, "fallback").wake_at == T0
    assert h.step(at(1)) == ["fallback"]
    assert h.statuses(run)["primary"] == "ON_HOLD"
    assert h.status(run) == "RUNNING"


def test_not_that_can_no_longer_hold_skips_the_waiting_job_and_completes(h: Harness) -> None:
    plan = h.plan(
        jobs=[
            cmd("primary"),
            cmd("check", depends_on="primary"),
            cmd("fallback", depends_on={"and": ["check", {"not": "primary"}]}),
            cmd("after", depends_on="fallback"),
        ]
    )
    run = h.start(plan)
    assert h.step(T0) == ["primary"]
    assert h.job(run, "fallback").queued_at is None
    assert h.step(at(1)) == ["check"]

    jobs = h.jobs(run)
    assert {n: j.status for n, j in jobs.items()} == {
        "primary": "COMPLETE",
        "check": "COMPLETE",
        "fallback": "SKIPPED",
        "after": "SKIPPED",
    }
    assert jobs["fallback"].reason == "not run: its dependencies can no longer be met"
    assert jobs["fallback"].ended_at == at(1)
    final = h.plan_run(run)
    assert final is not None
    assert (final.status, final.ended_at) == ("COMPLETE", at(1))


# --- stages -----------------------------------------------------------------------------------


def test_stage_jobs_wait_for_the_stage_condition_and_stage_refs_wait_for_all_jobs(
    h: Harness,
) -> None:
    plan = h.plan(
        jobs=[cmd("first"), cmd("report", depends_on={"stage": "load"})],
        stages=[
            {
                "name": "load",
                "depends_on": "first",
                "jobs": [cmd("l1"), cmd("l2", depends_on="l1")],
                "stages": [{"name": "inner", "jobs": [cmd("deep")]}],
            }
        ],
    )
    run = h.start(plan)
    assert h.step(T0) == ["first"], "stage jobs must wait for the stage's depends_on"
    assert h.step(at(1)) == ["deep", "l1"], "nested stages inherit the stage condition"
    assert h.job(run, "report").queued_at is None, "l2 is not done yet"
    assert h.step(at(2)) == ["l2"]
    assert h.job(run, "report").wake_at == at(2)
    assert h.step(at(3)) == ["report"]
    assert h.status(run) == "COMPLETE"


def test_stage_ref_waits_for_nested_stage_jobs(h: Harness) -> None:
    plan = h.plan(
        jobs=[cmd("report", depends_on={"stage": "outer"})],
        stages=[
            {
                "name": "outer",
                "jobs": [cmd("o1")],
                "stages": [{"name": "inner", "jobs": [cmd("i1", startup="manual")]}],
            }
        ],
    )
    run = h.start(plan)
    assert h.step(T0) == ["o1"]
    assert h.job(run, "report").queued_at is None, "inner's job is still on hold"
    h.act(run, "i1", "release", at(1))
    assert h.step(at(1)) == ["i1"]
    assert h.step(at(2)) == ["report"]


# --- failure and reset ------------------------------------------------------------------------


def test_failed_job_puts_the_run_in_error_and_reset_resumes_it(h: Harness) -> None:
    plan = h.plan(jobs=[cmd("a"), cmd("b", depends_on="a")])
    run = h.start(plan)
    assert h.step(T0, ok=False) == ["a"]
    a = h.job(run, "a")
    assert (a.status, a.reason, a.ended_at) == ("ERROR", "exit code 1", T0)
    current = h.plan_run(run)
    assert current is not None
    assert (current.status, current.ended_at) == ("ERROR", None), "an ERROR run stays open"

    h.act(run, "a", "reset", at(10))
    assert h.status(run) == "RUNNING"
    a = h.job(run, "a")
    assert (a.status, a.wake_at, a.ended_at) == ("WAITING", at(10), None)
    assert h.claim_names(at(10)) == ["a"]
    assert h.statuses(run)["a"] == "RUNNING"
    h.finish(h.job(run, "a"), at(11))
    assert h.step(at(11)) == ["b"]
    assert h.status(run) == "COMPLETE"
    assert h.job(run, "a").attempt == 2


def test_failed_job_with_independent_work_left_keeps_the_run_running(h: Harness) -> None:
    plan = h.plan(jobs=[cmd("a"), cmd("b")])
    run = h.start(plan)
    h.claim(T0)
    h.finish(h.job(run, "a"), at(1), ok=False)
    assert h.status(run) == "RUNNING"
    h.finish(h.job(run, "b"), at(2))
    assert h.status(run) == "ERROR"


def test_skipping_the_failed_job_lets_its_dependants_run(h: Harness) -> None:
    plan = h.plan(jobs=[cmd("a"), cmd("b", depends_on="a")])
    run = h.start(plan)
    h.step(T0, ok=False)
    h.act(run, "a", "skip", at(5))
    assert h.status(run) == "RUNNING"
    assert h.step(at(5)) == ["b"]
    assert h.status(run) == "COMPLETE"


# --- startup control --------------------------------------------------------------------------


def test_manual_job_waits_on_hold_until_released(h: Harness) -> None:
    plan = h.plan(jobs=[cmd("m", startup="manual"), cmd("after", depends_on="m")])
    run = h.start(plan)
    m = h.job(run, "m")
    assert (m.status, m.wake_at) == ("ON_HOLD", None)
    assert h.claim_names(at(60)) == []
    assert h.status(run) == "RUNNING"

    released = h.act(run, "m", "release", at(61))
    assert released.status == "WAITING"
    assert released.reason == "released by ops"
    assert released.wake_at == at(61)
    assert h.step(at(61)) == ["m"]
    assert h.step(at(62)) == ["after"]
    assert h.status(run) == "COMPLETE"


def test_disabled_job_is_passed_over_and_counts_as_done(h: Harness) -> None:
    plan = h.plan(jobs=[cmd("off", startup="disabled"), cmd("after", depends_on="off")])
    run = h.start(plan)
    off = h.job(run, "off")
    assert (off.status, off.wake_at) == ("DISABLED", None)
    assert h.step(T0) == ["after"]
    assert h.statuses(run) == {"off": "DISABLED", "after": "COMPLETE"}
    assert h.status(run) == "COMPLETE"

    only_disabled = h.start(h.plan("only-off", jobs=[cmd("off", startup="disabled")]), at(1))
    final = h.plan_run(only_disabled)
    assert final is not None
    assert (final.status, final.ended_at) == ("COMPLETE", at(1)), "nothing to run: complete"


def test_disabled_stage_disables_all_its_jobs(h: Harness) -> None:
    plan = h.plan(
        jobs=[cmd("after", depends_on={"stage": "s"})],
        stages=[
            {
                "name": "s",
                "enabled": False,
                "jobs": [cmd("s1")],
                "stages": [{"name": "s_inner", "jobs": [cmd("s2")]}],
            }
        ],
    )
    run = h.start(plan)
    assert h.statuses(run) == {"s1": "DISABLED", "s2": "DISABLED", "after": "WAITING"}
    assert h.step(T0) == ["after"]
    assert h.status(run) == "COMPLETE"


def test_jobs_disabled_on_the_plan_are_disabled_in_new_runs_only(h: Harness) -> None:
    plan = h.plan(jobs=[cmd("a"), cmd("b", depends_on="a")])
    before = h.start(plan)
    assert h.runs.set_job_enabled(h.caller, plan.id, "a", False) == ["a"]
    assert h.reload(plan).disabled_jobs == ["a"]

    during = h.start(plan, at(1), force=True)
    assert h.statuses(during) == {"a": "DISABLED", "b": "WAITING"}
    assert h.job(during, "b").wake_at == at(1)
    assert h.statuses(before)["a"] == "WAITING", "an open run keeps its job runs"

    assert h.runs.set_job_enabled(h.caller, plan.id, "a", True) == []
    after = h.start(plan, at(2), force=True)
    assert h.statuses(after) == {"a": "WAITING", "b": "WAITING"}


# --- time gates -------------------------------------------------------------------------------


def test_time_gate_completes_at_its_first_fire_not_before_the_run_start(h: Harness) -> None:
    plan = h.plan(jobs=[gate("at13", "0 0 13 * * ?"), cmd("work", depends_on="at13")])
    run = h.start(plan)  # noon
    g = h.job(run, "at13")
    assert (g.status, g.wake_at) == ("WAITING", at(hours=1))

    assert h.claim(at(hours=1) - (at(1) - T0)) == []
    assert h.statuses(run) == {"at13": "WAITING", "work": "WAITING"}

    assert h.claim(at(hours=1, seconds=5)) == [], "time gates complete inside claim"
    g = h.job(run, "at13")
    assert (g.status, g.started_at, g.ended_at) == ("COMPLETE", at(hours=1), at(hours=1, seconds=5))
    assert h.job(run, "work").wake_at == at(hours=1, seconds=5)
    assert h.step(at(hours=1, seconds=5)) == ["work"]
    assert h.status(run) == "COMPLETE"


def test_time_gate_on_its_fire_time_opens_immediately_and_late_gates_wait(h: Harness) -> None:
    plan = h.plan(jobs=[gate("noon", "0 0 12 * * ?")])
    run = h.start(plan)  # exactly noon: the gate is due, so it completes while opening
    noon = h.job(run, "noon")
    assert (noon.status, noon.started_at, noon.ended_at) == ("COMPLETE", T0, T0)
    assert h.status(run) == "COMPLETE"

    # a gate armed after today's fire waits for tomorrow's
    late = h.plan("late", jobs=[cmd("slow"), gate("at13", "0 0 13 * * ?", depends_on="slow")])
    run = h.start(late)
    h.claim(T0)
    h.finish(h.job(run, "slow"), at(hours=2))  # 14:00
    assert h.job(run, "at13").wake_at == at(hours=25)


def test_time_gate_skips_fire_times_inside_its_blackouts(h: Harness) -> None:
    hourly = gate(
        "hourly",
        "0 0 * * * ?",
        blackouts=[{"start": "2030-01-07T13:00:00+00:00", "end": "2030-01-07T14:00:00+00:00"}],
    )
    plan = h.plan(jobs=[hourly])
    run = h.start(plan, at(minutes=30))
    assert h.job(run, "hourly").wake_at == at(hours=2)


def test_stage_window_delays_its_jobs_until_it_fires(h: Harness) -> None:
    plan = h.plan(
        jobs=[],
        stages=[{"name": "late", "window": {"cron": "0 0 13 * * ?"}, "jobs": [cmd("l1")]}],
    )
    run = h.start(plan)
    assert h.claim_names(T0) == []
    assert h.job(run, "l1").wake_at == at(hours=1)


# --- parameters -------------------------------------------------------------------------------


def test_ticket_environment_has_plan_parameters_overrides_and_run_ids(h: Harness) -> None:
    plan = h.plan(
        parameters=[{"name": "REGION", "default": "eu"}, {"name": "DAY", "default": "mon"}],
        jobs=[cmd("a", parameters=[{"name": "ONLY_A", "default": "x"}])],
    )
    with pytest.raises(InvalidInput, match="unknown parameter 'NOPE'"):
        h.open(plan, overrides={"NOPE": "1"})
    assert h.runs_of(plan) == []
    run = h.start(plan, overrides={"DAY": "tue"})
    (ticket,) = h.claim(T0)
    assert ticket.environment == {
        "REGION": "eu",
        "DAY": "tue",
        "ONLY_A": "x",
        "JOBPLAN_PLAN": "p",
        "JOBPLAN_PLAN_RUN_ID": run.id,
        # a manual run serves the moment it was asked for; the plan has no window
        "JOBPLAN_SCHEDULED_FOR": "2030-01-07T12:00:00+00:00",
        "JOBPLAN_SCHEDULED_FOR_UTC": "2030-01-07T12:00:00Z",
        "JOBPLAN_PREVIOUS_SCHEDULED_FOR": "",
        "JOBPLAN_TRIGGER": "manual",
        "JOBPLAN_TENANT": "acme",
    }


def test_job_parameters_override_plan_parameters(h: Harness) -> None:
    plan = h.plan(
        parameters=[{"name": "REGION", "default": "eu"}],
        jobs=[cmd("a", parameters=[{"name": "REGION", "default": "us"}])],
    )
    h.start(plan)
    (ticket,) = h.claim(T0)
    assert ticket.environment["REGION"] == "us"


def test_stage_parameters_reach_the_stage_jobs(h: Harness) -> None:
    plan = h.plan(
        parameters=[{"name": "REGION", "default": "eu"}],
        jobs=[],
        stages=[
            {"name": "s", "parameters": [{"name": "REGION", "default": "apac"}], "jobs": [cmd("a")]}
        ],
    )
    h.start(plan)
    (ticket,) = h.claim(T0)
    assert ticket.environment["REGION"] == "apac"
