"""Backfills: one run per past fire time of a plan's window in ``[start, end)``.

The fire times are the scheduler's own (:func:`jobplan.engine.scheduler.window_fires`: the
window's cron in its zone with its DST rule, calendars and blackouts applied), fixed when
the backfill is created and stored with it. The first ``max_active`` runs open in the
creating transaction; the engine opens the next, oldest first, as each one ends (in the
transaction that ends it) and sweeps running backfills on every scheduler tick (after a
restart, or on another node). Each run has the trigger ``backfill`` and ``scheduled_for``
its fire time, and is not weighed by the plan's overlap policy: ``max_active`` is what
limits backfill runs (docs/backfill.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from jobplan.engine.scheduler import window_fires
from jobplan.engine.state import BACKFILL_RUNNING, RunState
from jobplan.errors import Conflict, InvalidInput, NotFound
from jobplan.model import Window
from jobplan.service.audit import audited, field_changes, record
from jobplan.service.caller import Caller, Permission
from jobplan.service.oplog import operator_action
from jobplan.service.pagination import Page, check_page
from jobplan.service.plans import PlanService
from jobplan.store import Database, new_id
from jobplan.store import backfills as store
from jobplan.store import calendars as calendar_store
from jobplan.store.records import BackfillRecord, PlanRecord

__all__ = [
    "MAX_BACKFILL_ACTIVE",
    "MAX_BACKFILL_FIRES",
    "STATES",
    "BackfillPreview",
    "BackfillService",
    "BackfillView",
]

#: The most fire times one backfill may cover (split a longer range into several).
MAX_BACKFILL_FIRES = 1000
#: The most runs one backfill may keep open at once.
MAX_BACKFILL_ACTIVE = 50
STATES = ("running", "complete", "cancelled")


@dataclass(frozen=True, slots=True)
class BackfillView:
    """A backfill and its progress: of ``total`` fire times, ``opened`` have a run, of
    which ``active`` are open and ``done`` have ended (``failed`` of them without
    completing)."""

    record: BackfillRecord
    active: int
    done: int
    failed: int

    @property
    def total(self) -> int:
        return len(self.record.fires)

    @property
    def opened(self) -> int:
        return self.record.opened

    @property
    def fires(self) -> list[datetime]:
        return [datetime.fromisoformat(fire) for fire in self.record.fires]


@dataclass(frozen=True, slots=True)
class BackfillPreview:
    """What a backfill would open: the plan, the range as read, the fire times (UTC)."""

    plan: PlanRecord
    start: datetime
    end: datetime
    timezone: str
    fires: list[datetime]


def _aware(value: datetime, zone: str) -> datetime:
    """A date-time without a UTC offset is read in the window's time zone."""
    return value if value.tzinfo is not None else value.replace(tzinfo=ZoneInfo(zone))


class BackfillService:
    """Preview, start, list, show and cancel backfills."""

    def __init__(
        self,
        database: Database,
        state: RunState,
        plans: PlanService,
        notify: Callable[[], None] | None = None,
    ) -> None:
        self._db = database
        self._state = state
        self._plans = plans
        self.notify: Callable[[], None] = notify or (lambda: None)

    def _fires(
        self,
        conn: Connection,
        caller: Caller,
        plan_ref: str,
        start: datetime,
        end: datetime,
        *,
        lock: bool = False,
    ) -> BackfillPreview:
        plan = self._plans.resolve(conn, caller, plan_ref, for_update=lock)
        window: Window | None = None
        if plan.current_version_id is not None:
            window = self._state.versions.graph(conn, plan.current_version_id).document.window
        if window is None:
            raise Conflict(f"plan '{plan.path}' has no window: it has no fire times to backfill")
        start, end = _aware(start, window.timezone), _aware(end, window.timezone)
        if end <= start:
            raise InvalidInput("must be after start", field="end")
        now = datetime.now(UTC)
        if end > now:
            raise InvalidInput(
                "must not be in the future: a backfill opens past fire times "
                "(the plan's window opens the coming ones)",
                field="end",
            )
        days = calendar_store.days_by_name(conn, caller.tenant_id, window.calendars)
        fires, more = window_fires(
            window, start, end, MAX_BACKFILL_FIRES, self._state.crons, calendars=days
        )
        if more:
            raise InvalidInput(
                f"the range holds more than {MAX_BACKFILL_FIRES} fire times, the limit of "
                "one backfill: split it into smaller ranges",
                field="end",
            )
        return BackfillPreview(
            plan, start.astimezone(UTC), end.astimezone(UTC), window.timezone, fires
        )

    def preview(
        self, caller: Caller, plan_ref: str, start: datetime, end: datetime
    ) -> BackfillPreview:
        """The fire times a backfill of ``[start, end)`` would open runs for (a dry run:
        nothing is written). Date-times without an offset are read in the window's zone."""
        caller.require(Permission.RUNS_WRITE)
        with self._db.read() as conn:
            return self._fires(conn, caller, plan_ref, start, end)

    @audited("backfill.create", "backfill", "plan_ref")
    def create(
        self,
        caller: Caller,
        plan_ref: str,
        start: datetime,
        end: datetime,
        max_active: int = 1,
    ) -> BackfillView:
        """Start a backfill of ``[start, end)``: its first ``max_active`` runs are open
        when this returns, the engine opens the others as they end."""
        caller.require(Permission.RUNS_WRITE)
        if not 1 <= max_active <= MAX_BACKFILL_ACTIVE:
            raise InvalidInput(f"must be between 1 and {MAX_BACKFILL_ACTIVE}", field="max_active")
        now = datetime.now(UTC)
        with self._db.transaction() as conn:
            # the plan's row is locked (PostgreSQL) so two overlapping backfills of one plan
            # cannot both pass the check below
            preview = self._fires(conn, caller, plan_ref, start, end, lock=True)
            plan = preview.plan
            if not preview.fires:
                raise InvalidInput(
                    f"no fire time of the plan's window falls in [start, end) "
                    f"(read in {preview.timezone})",
                    field="start",
                )
            running, _ = store.list_backfills(
                conn, caller.tenant_id, 100, 0, plan_id=plan.id, state=BACKFILL_RUNNING
            )
            for other in running:
                if other.start < preview.end and preview.start < other.end:
                    raise Conflict(
                        f"backfill {other.id} of plan '{plan.path}' is still running over an "
                        "overlapping range: cancel it or wait for it to end"
                    )
            backfill = BackfillRecord(
                id=new_id(),
                tenant_id=caller.tenant_id,
                plan_id=plan.id,
                plan_path=plan.path,
                start=preview.start,
                end=preview.end,
                max_active=max_active,
                timezone=preview.timezone,
                fires=[fire.isoformat() for fire in preview.fires],
                opened=0,
                state=BACKFILL_RUNNING,
                reason=None,
                created_by=caller.username,
                created_at=now,
                ended_at=None,
            )
            store.insert_backfill(conn, backfill)
            self._state.advance_backfill(conn, backfill.id, now)
            record(
                conn,
                target_id=backfill.id,
                target_path=plan.path,
                changes=field_changes(
                    {},
                    {
                        "start": preview.start.isoformat(),
                        "end": preview.end.isoformat(),
                        "max_active": max_active,
                        "fires": len(preview.fires),
                    },
                ),
            )
            view = self._view(conn, backfill.id)
        self.notify()
        operator_action(
            caller, "backfill.create", plan=plan.path, backfill=backfill.id, fires=view.total
        )
        return view

    def list(
        self,
        caller: Caller,
        limit: int = 50,
        offset: int = 0,
        *,
        plan_ref: str | None = None,
        state: str | None = None,
    ) -> Page[BackfillView]:
        """The tenant's backfills, newest first; of one plan, or in one state."""
        caller.require(Permission.RUNS_READ)
        check_page(limit, offset)
        if state is not None and state not in STATES:
            raise InvalidInput(f"must be one of {', '.join(STATES)}", field="state")
        with self._db.read() as conn:
            plan_id = self._plans.resolve(conn, caller, plan_ref).id if plan_ref else None
            items, total = store.list_backfills(
                conn, caller.tenant_id, limit, offset, plan_id=plan_id, state=state
            )
            counts = store.counts_of(conn, [item.id for item in items])
        return Page([BackfillView(item, *counts[item.id]) for item in items], total, limit, offset)

    def get(self, caller: Caller, backfill_id: str) -> BackfillView:
        caller.require(Permission.RUNS_READ)
        with self._db.read() as conn:
            return self._view(conn, backfill_id, caller.tenant_id)

    @audited("backfill.cancel", "backfill", "backfill_id")
    def cancel(self, caller: Caller, backfill_id: str) -> BackfillView:
        """Stop opening runs: the backfill's open runs go on (stop them as any run); those
        not yet opened never are. Cancelling a backfill that has ended changes nothing."""
        caller.require(Permission.RUNS_WRITE)
        now = datetime.now(UTC)
        with self._db.transaction() as conn:
            backfill = store.get_backfill(conn, backfill_id, caller.tenant_id, lock=True)
            if backfill is None:
                raise NotFound("backfill", backfill_id)
            if backfill.state == BACKFILL_RUNNING:
                reason = f"cancelled by {caller.username}"
                store.update_backfill(
                    conn, backfill.id, state="cancelled", reason=reason, ended_at=now
                )
                record(
                    conn,
                    target_id=backfill.id,
                    target_path=backfill.plan_path,
                    changes=field_changes({"state": backfill.state}, {"state": "cancelled"}),
                )
            view = self._view(conn, backfill.id)
        operator_action(caller, "backfill.cancel", plan=backfill.plan_path, backfill=backfill.id)
        return view

    def _view(
        self, conn: Connection, backfill_id: str, tenant_id: str | None = None
    ) -> BackfillView:
        backfill = store.get_backfill(conn, backfill_id, tenant_id)
        if backfill is None:
            raise NotFound("backfill", backfill_id)
        return BackfillView(backfill, *store.counts_of(conn, [backfill.id])[backfill.id])
