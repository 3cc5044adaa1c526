"""Backfills in the run state machine: the engine's sweep opens at most ``max_active`` runs
and never the same fire twice, ending a run opens the next in its own transaction, and on
PostgreSQL a second node's sweep skips a backfill another transaction is advancing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jobplan.store import Database, new_id
from jobplan.store import backfills as store
from jobplan.store.records import BackfillRecord, PlanRecord
from support.engine import T0, Harness, at, cmd


@pytest.fixture
def h(database: Database) -> Harness:
    return Harness(database)


def _backfill(h: Harness, plan: PlanRecord, fires: int, max_active: int) -> str:
    """A backfill as a node that crashed right after creating it left it: nothing opened."""
    record = BackfillRecord(
        id=new_id(),
        tenant_id=h.tenant_id,
        plan_id=plan.id,
        plan_path=plan.path,
        start=T0 - timedelta(days=fires),
        end=T0,
        max_active=max_active,
        timezone="UTC",
        fires=[(T0 - timedelta(days=fires - i)).isoformat() for i in range(fires)],
        opened=0,
        state="running",
        reason=None,
        created_by="tester",
        created_at=T0,
        ended_at=None,
    )
    h.tx(lambda c: store.insert_backfill(c, record))
    return record.id


def test_the_sweep_opens_max_active_oldest_first_and_each_end_opens_the_next(
    h: Harness,
) -> None:
    plan = h.plan(jobs=[cmd("a")], window={"cron": "0 0 0 * * ?"})
    backfill_id = _backfill(h, plan, fires=3, max_active=2)
    assert h.tx(lambda c: h.state.advance_backfills(c, at(1))) == 2
    assert h.tx(lambda c: h.state.advance_backfills(c, at(2))) == 0, "two are open: none more"
    runs = h.runs_of(plan)
    assert sorted((r.trigger, r.scheduled_for) for r in runs) == [
        ("backfill", T0 - timedelta(days=3)),
        ("backfill", T0 - timedelta(days=2)),
    ]
    # the two runs' jobs end: each end opens the next fire in the same transaction
    assert h.step(at(3)) == ["a", "a"]
    assert len(h.runs_of(plan)) == 3
    record = h.tx(lambda c: store.get_backfill(c, backfill_id))
    assert record is not None and (record.opened, record.state) == (3, "running")
    assert h.step(at(4)) == ["a"]
    record = h.tx(lambda c: store.get_backfill(c, backfill_id))
    assert record is not None and (record.state, record.ended_at) == ("complete", at(4))
    assert h.tx(lambda c: store.counts_of(c, [backfill_id]))[backfill_id] == (0, 3, 0)


@pytest.mark.postgres
def test_a_second_node_skips_a_backfill_being_advanced(h: Harness, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("row locks: PostgreSQL only (SQLite has one writer)")
    plan = h.plan(jobs=[cmd("a")], window={"cron": "0 0 0 * * ?"})
    _backfill(h, plan, fires=4, max_active=2)
    with h.database.transaction() as first:
        assert h.state.advance_backfills(first, at(1)) == 2
        with h.database.transaction() as second:
            assert h.state.advance_backfills(second, at(1)) == 0, "locked: skipped"
    assert h.tx(lambda c: h.state.advance_backfills(c, at(2))) == 0, "two are open: none more"
    assert len(h.runs_of(plan)) == 2


def test_deleting_the_plan_cancels_its_running_backfill(h: Harness) -> None:
    plan = h.plan(jobs=[cmd("a")], window={"cron": "0 0 0 * * ?"})
    backfill_id = _backfill(h, plan, fires=2, max_active=1)
    h.plans.delete(h.caller, plan.id)
    assert h.tx(lambda c: h.state.advance_backfills(c, at(1))) == 0
    record = h.tx(lambda c: store.get_backfill(c, backfill_id))
    assert record is not None
    assert (record.state, record.reason, record.opened) == ("cancelled", "the plan was deleted", 0)
