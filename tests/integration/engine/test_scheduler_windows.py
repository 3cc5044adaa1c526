"""The window scheduler: due fires, misfire catch-up, blackouts, disabled plans and jitter."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jobplan.store import Database
from jobplan.store import plans as plan_store
from jobplan.store import runs as store
from jobplan.store.records import PlanRecord
from support.engine import T0, Harness, at, cmd, gate


@pytest.fixture
def h(database: Database) -> Harness:
    return Harness(database)


EVERY_MINUTE = "0 * * * * ?"
HOURLY = "0 0 * * * ?"


def windowed(
    h: Harness,
    cron: str = EVERY_MINUTE,
    *,
    name: str = "w",
    window: dict | None = None,
    **policies: object,
) -> PlanRecord:
    return h.plan(
        name,
        jobs=[cmd("a")],
        window={"cron": cron, **(window or {})},
        policies={"overlap": "allow", **policies},
    )


def test_fires_once_per_due_minute_and_never_twice(h: Harness) -> None:
    plan = windowed(h)
    h.set_next_fire(plan, T0)
    assert h.tick(at(-1)) == []

    (first,) = h.tick(at(0.5))
    assert first.outcome == "started" and first.run is not None
    assert (first.run.trigger, first.run.created_by) == ("schedule", "scheduler")
    assert (first.run.scheduled_for, first.run.created_at) == (T0, at(0.5))
    fresh = h.reload(plan)
    assert (fresh.next_fire_time, fresh.last_fire_time) == (at(60), T0)

    assert h.tick(at(0.5)) == [], "the same tick time does not fire again"
    assert h.tick(at(59.999)) == []
    (second,) = h.tick(at(60))
    assert second.run is not None and second.run.scheduled_for == at(60)
    assert h.tick(at(60)) == []
    assert h.reload(plan).next_fire_time == at(120)
    assert len(h.runs_of(plan)) == 2


def test_overlap_is_applied_to_scheduled_fires(h: Harness) -> None:
    plan = windowed(h, overlap="skip")
    h.set_next_fire(plan, T0)
    assert [o.outcome for o in h.tick(T0)] == ["started"]
    assert [o.outcome for o in h.tick(at(60))] == ["skipped"]
    assert h.reload(plan).next_fire_time == at(120), "a skipped fire still advances"
    assert len(h.runs_of(plan)) == 1


@pytest.mark.parametrize(
    ("misfire", "expected"),
    [
        ("skip", []),
        ("run_once", [at(hours=0)]),
        ("run_all", [at(hours=-1), at(hours=0)]),
    ],
)
def test_misfire_policy_after_downtime(h: Harness, misfire: str, expected: list) -> None:
    # the scheduler was down from 10:00 to 12:30; the catch-up window reaches back to 11:00
    plan = windowed(h, HOURLY, misfire=misfire, catchup_window_seconds=5400)
    h.set_next_fire(plan, at(hours=-2))
    now = at(minutes=30)
    outcomes = h.tick(now)
    assert [o.run.scheduled_for for o in outcomes if o.run] == expected
    assert all(o.run.trigger == "catchup" for o in outcomes if o.run)
    assert all(o.outcome == "started" for o in outcomes)
    fresh = h.reload(plan)
    assert fresh.next_fire_time == at(hours=1)
    if expected:
        assert fresh.last_fire_time == expected[-1]
    assert h.tick(now) == []
    assert h.tick(at(hours=1)) != [], "the schedule goes on after the catch-up"


def test_run_all_catches_up_every_minute_within_the_window(h: Harness) -> None:
    plan = windowed(h, misfire="run_all", catchup_window_seconds=600)
    h.set_next_fire(plan, at(hours=-2))
    outcomes = h.tick(at(30))  # 12:00:30; fires after 11:59:30 are on time
    runs = [o.run for o in outcomes if o.run]
    catchup = [r.scheduled_for for r in runs if r.trigger == "catchup"]
    on_time = [r.scheduled_for for r in runs if r.trigger == "schedule"]
    assert catchup == [at(minutes=m) for m in range(-9, 0)]
    assert on_time == [T0]
    assert h.reload(plan).next_fire_time == at(60)


def test_cron_blackout_suppresses_runs_but_the_schedule_advances(h: Harness) -> None:
    plan = windowed(h, HOURLY, window={"blackouts": [{"cron": "* * 12 * * ?"}]})
    h.set_next_fire(plan, T0)
    assert h.tick(T0) == []
    fresh = h.reload(plan)
    assert (fresh.next_fire_time, fresh.last_fire_time) == (at(hours=1), T0)
    assert h.runs_of(plan) == []
    (outcome,) = h.tick(at(hours=1))
    assert outcome.run is not None and outcome.run.scheduled_for == at(hours=1)


def test_date_range_blackout_in_the_window_time_zone(h: Harness) -> None:
    # 12:00 UTC is 13:00 in Paris (winter): blacked out by a 12:30-13:30 local range
    blackout = {"start": "2030-01-07T12:30:00", "end": "2030-01-07T13:30:00"}
    plan = windowed(h, HOURLY, window={"timezone": "Europe/Paris", "blackouts": [blackout]})
    h.set_next_fire(plan, T0)
    assert h.tick(T0) == []
    assert h.reload(plan).next_fire_time == at(hours=1)
    assert len(h.tick(at(hours=1))) == 1, "13:00 UTC is 14:00 in Paris, after the range"


def test_blacked_out_missed_fires_are_not_caught_up(h: Harness) -> None:
    blackout = {"start": "2030-01-07T10:30:00+00:00", "end": "2030-01-07T11:30:00+00:00"}
    plan = windowed(
        h,
        HOURLY,
        window={"blackouts": [blackout]},
        misfire="run_all",
        catchup_window_seconds=4 * 3600,
    )
    h.set_next_fire(plan, at(hours=-2))
    outcomes = h.tick(at(minutes=30))
    assert [o.run.scheduled_for for o in outcomes if o.run] == [at(hours=-2), at(hours=0)]


def test_disabled_plans_are_not_fired(h: Harness) -> None:
    plan = windowed(h)
    h.plans.set_enabled(h.caller, plan.id, False)
    assert h.reload(plan).next_fire_time is None
    h.set_next_fire(plan, T0)  # even with a due fire time left over
    assert h.tick(at(hours=1)) == []
    assert h.runs_of(plan) == []

    off = h.plan("off", jobs=[cmd("a")], enabled=False, window={"cron": EVERY_MINUTE})
    assert h.reload(off).next_fire_time is None
    h.set_next_fire(off, T0)
    assert h.tick(at(hours=1)) == []


def test_a_plan_whose_window_was_removed_stops_firing(h: Harness) -> None:
    plan = windowed(h)
    h.plan("w", jobs=[cmd("a")], policies={"overlap": "allow"})
    h.set_next_fire(plan, T0)
    assert h.tick(at(60)) == []
    assert h.reload(plan).next_fire_time is None


def test_window_jitter_delays_the_jobs_within_the_jitter(h: Harness) -> None:
    plans = [windowed(h, name=f"j{i}", window={"jitter_seconds": 30}) for i in range(6)]
    for plan in plans:
        h.set_next_fire(plan, T0)
    outcomes = h.tick(T0)
    assert len(outcomes) == 6
    wakes = []
    for outcome in outcomes:
        assert outcome.run is not None
        assert outcome.run.scheduled_for == T0
        wake = h.job(outcome.run, "a").wake_at
        assert wake is not None and T0 <= wake <= at(30)
        wakes.append(wake)
    assert any(w > T0 for w in wakes), "some jobs are delayed"
    claimed = h.claim_names(T0)
    assert len(claimed) == sum(1 for w in wakes if w == T0)
    assert len(h.claim(at(30))) == 6 - len(claimed)


def test_a_gate_with_the_window_cron_opens_even_when_the_tick_is_late(h: Harness) -> None:
    plan = h.plan(
        "gated",
        jobs=[gate("seven", "0 0 7 * * ?"), cmd("work", depends_on="seven")],
        window={"cron": "0 0 7 * * ?"},
    )
    seven = at(hours=-5)
    h.set_next_fire(plan, seven)
    # 5 s late is still on time (the misfire threshold is 60 s)
    (outcome,) = h.tick(seven + timedelta(seconds=5))
    assert outcome.run is not None and outcome.run.trigger == "schedule"
    assert outcome.run is not None
    gate_run = h.job(outcome.run, "seven")  # its fire is the run's own: open at once
    assert (gate_run.status, gate_run.ended_at) == ("COMPLETE", seven + timedelta(seconds=5))
    assert h.job(outcome.run, "work").queued_at == seven + timedelta(seconds=5)


def test_window_ttl_applies_to_scheduled_runs(h: Harness) -> None:
    plan = windowed(h, window={"ttl_seconds": 90})
    h.set_next_fire(plan, T0)
    (outcome,) = h.tick(at(2))
    assert outcome.run is not None
    assert outcome.run.deadline_at == at(92)


def test_buffer_all_catch_up_runs_start_in_fire_order(h: Harness) -> None:
    plan = windowed(h, overlap="buffer_all", misfire="run_all", catchup_window_seconds=600)
    h.set_next_fire(plan, at(minutes=-10))
    outcomes = h.tick(T0)
    assert [o.outcome for o in outcomes] == ["started"] + ["queued"] * 10
    started = []
    now = T0
    for _ in range(11):
        (running,) = h.runs_of(plan, "RUNNING")
        started.append(running.scheduled_for)
        now += timedelta(seconds=1)
        assert h.step(now) == ["a"]
    assert started == sorted(started)


def test_due_plans_read_as_the_store_reads_them(h: Harness) -> None:
    """The scheduler's raw SQLite read of due plans gives the records SQLAlchemy would."""
    plan = windowed(h, name="raw")
    h.set_next_fire(plan, T0)
    h.tx(lambda c: store.set_next_fire(c, plan.id, T0, at(-60)))
    h.tx(lambda c: plan_store.set_disabled_jobs(c, plan.id, ["a"]))
    (due,) = h.tx(lambda c: store.due_plans(c, at(1), 10))
    assert due == h.reload(plan)
    assert (due.next_fire_time, due.last_fire_time, due.disabled_jobs) == (T0, at(-60), ["a"])
    assert due.enabled is True


def test_statistics_of_runs_that_end_as_they_open_add_up_over_ticks(h: Harness) -> None:
    plans = [
        h.plan(
            f"g{index}",
            jobs=[gate("g", "* * * * * ?")],
            window={"cron": "* * * * * ?"},
            policies={"overlap": "allow"},
        )
        for index in range(3)
    ]
    for plan in plans:
        h.set_next_fire(plan, T0)
    assert [o.run.status for o in h.tick(at(0.5)) if o.run] == ["COMPLETE"] * 3
    assert len(h.tick(at(2.5))) == 6, "two fires each (1 s and 2 s) in the second tick"
    for plan in plans:
        stats = h.stats(plan)
        assert stats is not None
        assert (stats.total, stats.succeeded, stats.failed, stats.last_status) == (
            3,
            3,
            0,
            "COMPLETE",
        )
        assert stats.last_run_at == at(2.5)


# --- calendars -------------------------------------------------------------------------------


def calendar(h: Harness, name: str, *days: str) -> None:
    from jobplan.model import CalendarDocument
    from jobplan.service.calendars import CalendarService

    CalendarService(h.database, h.plans).put(h.caller, CalendarDocument(name=name, days=list(days)))


def test_a_window_excluding_a_calendar_skips_exactly_its_days(h: Harness) -> None:
    """T0 is Monday 7 January 2030 12:00 UTC; the window fires daily at 06:00 in New York
    (11:00 UTC). The 8th and the 10th are holidays: the scheduler, ticking past each day,
    opens runs for the 9th and 11th only, and no skipped day is counted as a misfire."""
    calendar(h, "hol", "2030-01-08", "2030-01-10")
    plan = windowed(h, "0 0 6 * * ?", window={"timezone": "America/New_York", "calendar": "hol"})
    h.set_next_fire(plan, at(hours=23))  # 8 Jan 11:00 UTC: a holiday, as a stale pointer
    opened = []
    for day in range(1, 5):
        outcomes = h.tick(at(30, hours=24 * day - 1))  # 11:00:30 UTC on the 8th to 11th
        opened += [o.run.scheduled_for for o in outcomes if o.run is not None]
    assert [fire.date().isoformat() for fire in opened] == ["2030-01-09", "2030-01-11"]
    assert all(o.trigger == "schedule" for o in h.runs_of(plan))
    assert h.reload(plan).next_fire_time == at(hours=24 * 5 - 1)  # 12 Jan 11:00 UTC


def test_a_window_on_only_mode_fires_on_the_calendars_days_alone(h: Harness) -> None:
    calendar(h, "month-end", "2030-01-31", "2030-02-28")
    plan = windowed(h, "0 0 18 * * ?", window={"calendar": "month-end", "calendar_mode": "only"})
    h.set_next_fire(plan, T0)
    h.tick(at(1))
    assert h.reload(plan).next_fire_time == at(hours=24 * 24 + 6)  # 31 Jan 18:00 UTC
    (run,) = h.tick(at(hours=24 * 24 + 6, minutes=1))
    assert run.run is not None and run.run.scheduled_for == at(hours=24 * 24 + 6)
    assert h.reload(plan).next_fire_time == at(hours=24 * 52 + 6)  # 28 Feb 18:00 UTC
