"""The engine reads plan versions through the same loader as the service: a version stored in
a format this server does not read, or one that no longer validates, is refused with the
service's errors instead of being run."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from jobplan.errors import Conflict, StoreError
from jobplan.model import PlanRunStatus, StartOutcome
from jobplan.store import Database
from jobplan.store.tables import plan_versions
from support.engine import Harness


def test_a_version_in_an_unknown_format_is_not_run(database: Database) -> None:
    h = Harness(database)
    plan = h.plan("p")
    h.tx(
        lambda c: c.execute(
            update(plan_versions)
            .where(plan_versions.c.id == plan.current_version_id)
            .values(format_version=99)
        )
    )
    with pytest.raises(Conflict, match="stored in format 99; this server reads format 1"):
        h.open(plan)


def test_an_unreadable_version_is_a_store_error(database: Database) -> None:
    h = Harness(database)
    plan = h.plan("p")
    h.tx(
        lambda c: c.execute(
            update(plan_versions)
            .where(plan_versions.c.id == plan.current_version_id)
            .values(document={"name": "p", "jobs": "not a list"})
        )
    )
    with pytest.raises(StoreError, match="cannot be read"):
        h.open(plan)


def test_a_buffered_start_is_a_queued_plan_run(database: Database) -> None:
    h = Harness(database)
    plan = h.plan("p", policies={"overlap": "buffer_one"})
    assert h.open(plan).outcome == StartOutcome.STARTED
    queued = h.open(plan)
    assert queued.outcome == StartOutcome.QUEUED
    assert queued.run is not None and queued.run.status == PlanRunStatus.QUEUED


def test_job_runs_change_only_through_named_transitions(database: Database) -> None:
    from jobplan.store import runs as store

    assert not hasattr(store, "update_job_run"), "no free-form job-run update"
    h = Harness(database)
    run = h.start(h.plan("p"))
    job_run = h.job(run, "a")
    with pytest.raises(ValueError, match="not an evaluated field"):
        h.tx(lambda c: store.settle_job_run(c, job_run.id, {"owner_node": "n9"}))
