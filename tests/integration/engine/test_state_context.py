"""The fire in the job's context, as the state machine hands it to executors: the
``JOBPLAN_*`` variables, previous fires (DST, blackouts), resolved references, and the
failures of references that cannot be resolved."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jobplan.errors import InvalidInput
from jobplan.model import HttpJob
from jobplan.store import Database
from support.engine import Harness, cmd

# Europe/Paris moved its clocks from 02:00 to 03:00 on 2026-03-29: 02:30 did not exist
DAILY_0230 = {"cron": "0 30 2 * * ?", "timezone": "Europe/Paris"}
FIRE = datetime(2026, 3, 30, 0, 30, tzinfo=UTC)  # 02:30 CEST, the first fire after the gap


@pytest.fixture
def h(database: Database) -> Harness:
    return Harness(database)


def test_a_scheduled_fire_across_a_dst_change(h: Harness) -> None:
    plan = h.plan(
        "nightly",
        window=DAILY_0230,
        parameters=[
            {"name": "day", "default": "${scheduled_for:%Y-%m-%d}"},
            {"name": "since", "default": "${previous_scheduled_for:%d %H:%M %z}"},
        ],
        jobs=[cmd("load", environment={"UTC_HOUR": "${scheduled_for_utc:%H}"})],
    )
    h.set_next_fire(plan, FIRE)
    (outcome,) = h.tick(FIRE)
    assert outcome.run is not None and outcome.run.scheduled_for == FIRE
    (ticket,) = h.claim(FIRE)
    assert ticket.environment == {
        "day": "2026-03-30",
        # the fire of the 29th fell in the gap (skipped): the previous one is the 28th's,
        # an hour further from UTC
        "since": "28 02:30 +0100",
        "UTC_HOUR": "00",
        "JOBPLAN_SCHEDULED_FOR": "2026-03-30T02:30:00+02:00",
        "JOBPLAN_SCHEDULED_FOR_UTC": "2026-03-30T00:30:00Z",
        "JOBPLAN_PREVIOUS_SCHEDULED_FOR": "2026-03-28T02:30:00+01:00",
        "JOBPLAN_TRIGGER": "schedule",
        "JOBPLAN_TENANT": "acme",
        "JOBPLAN_PLAN": "nightly",
        "JOBPLAN_PLAN_RUN_ID": outcome.run.id,
    }


def test_the_previous_fire_passes_over_blacked_out_fires(h: Harness) -> None:
    blackout = {"start": "2026-03-28T00:00:00", "end": "2026-03-29T00:00:00"}
    plan = h.plan("bo", window={**DAILY_0230, "blackouts": [blackout]}, jobs=[cmd("a")])
    h.set_next_fire(plan, FIRE)
    h.tick(FIRE)
    (ticket,) = h.claim(FIRE)
    assert ticket.environment["JOBPLAN_PREVIOUS_SCHEDULED_FOR"] == "2026-03-27T02:30:00+01:00"


def test_a_manual_run_serves_the_moment_it_was_asked_for(h: Harness) -> None:
    plan = h.plan(
        "nightly",
        window=DAILY_0230,
        parameters=[{"name": "at", "default": "${scheduled_for:%H:%M:%S.%f}"}],
        jobs=[cmd("a")],
    )
    asked = datetime(2026, 3, 30, 9, 15, 42, 123456, tzinfo=UTC)
    run = h.start(plan, asked)
    (ticket,) = h.claim(asked)
    environment = ticket.environment
    assert (environment["JOBPLAN_TRIGGER"], environment["JOBPLAN_PLAN_RUN_ID"]) == (
        "manual",
        run.id,
    )
    assert environment["JOBPLAN_SCHEDULED_FOR"] == "2026-03-30T11:15:42+02:00"
    assert environment["JOBPLAN_SCHEDULED_FOR_UTC"] == "2026-03-30T09:15:42Z"
    assert environment["JOBPLAN_PREVIOUS_SCHEDULED_FOR"] == "2026-03-30T02:30:00+02:00"
    assert environment["at"] == "11:15:42.000000"  # to the second, like the variables


def test_run_values_may_hold_references_and_bad_ones_are_refused(h: Harness) -> None:
    plan = h.plan("p", parameters=[{"name": "day", "default": "x"}], jobs=[cmd("a")])
    with pytest.raises(InvalidInput) as caught:
        h.open(plan, overrides={"day": "${scheduled_for:%Q}"})
    assert caught.value.field == "parameters.day"
    assert "%Q is not allowed in a format" in caught.value.detail
    h.start(plan, overrides={"day": "${scheduled_for:%d/%m} $(id) `id` $${day}"})
    (ticket,) = h.claim(datetime(2030, 1, 7, 12, tzinfo=UTC))
    assert ticket.environment["day"] == "07/01 $(id) `id` ${day}"


def test_a_reference_nobody_resolves_fails_the_job_with_a_reason(h: Harness) -> None:
    plan = h.plan(
        "p",
        parameters=[{"name": "pw", "default": "${secret:db-password}"}],
        jobs=[cmd("a")],
        policies={"max_retries": 0},
    )
    run = h.start(plan)
    assert h.claim(datetime(2030, 1, 7, 12, tzinfo=UTC)) == []
    job = h.job(run, "a")
    assert job.status == "ERROR"
    assert job.reason == (
        "cannot resolve parameter 'pw': ${secret:db-password}: no secret named 'db-password'"
    )

    h.state.contexts.namespaces["secret"] = lambda conn, tenant: {"db-password": "pa$$"}.__getitem__
    again = h.start(plan, force=True)
    (ticket,) = h.claim(datetime(2030, 1, 7, 12, tzinfo=UTC))
    assert ticket.job_run.plan_run_id == again.id and ticket.environment["pw"] == "pa$$"
    assert ticket.secrets == ("pa$$",)  # what the engine masks in the job's output


def test_an_http_job_reaches_its_executor_resolved(h: Harness) -> None:
    plan = h.plan(
        "p",
        window=DAILY_0230,
        parameters=[{"name": "region", "default": "a b/c&d=é"}],
        jobs=[
            {
                "name": "call",
                "kind": "http",
                "method": "POST",
                "url": "https://api.test/v1/${region}/x?r=${region}&d=${scheduled_for:%Y-%m-%d}#${tenant}",
                "headers": {"X-Region": "${region}", "X-Literal": "$${region}"},
                "body": {"region": "${region}", "n": 1, "nested": ["${trigger}", None]},
            }
        ],
    )
    h.set_next_fire(plan, FIRE)
    h.tick(FIRE)
    (ticket,) = h.claim(FIRE)
    job = ticket.job
    assert isinstance(job, HttpJob)
    assert job.url == (
        "https://api.test/v1/a%20b%2Fc%26d%3D%C3%A9/x?r=a%20b/c%26d%3D%C3%A9&d=2026-03-30#acme"
    )
    # what is left is a valid job meaning exactly this (an agent may validate it again)
    assert job.headers == {"X-Region": "a b/c&d=é", "X-Literal": "$${region}"}
    assert job.body == {"region": "a b/c&d=é", "n": 1, "nested": ["schedule", None]}
    assert HttpJob.model_validate(job.model_dump()) == job
