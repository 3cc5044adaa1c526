"""Reading the notification outbox: what was (or could not be) told to whom about runs.

Messages are written by the engine when runs fail, complete or become overdue (the plan's
``notifications``) and sent by its notifier; operators list them to see deliveries that
failed and why. Reading needs ``runs:read``.
"""

from __future__ import annotations

from jobplan.errors import InvalidInput, NotFound
from jobplan.service.caller import Caller, Permission
from jobplan.service.pagination import Page, check_page
from jobplan.service.plans import PlanService
from jobplan.store import Database
from jobplan.store import notifications as store
from jobplan.store.records import NotificationRecord

__all__ = ["NOTIFICATION_STATUSES", "NotificationRecord", "NotificationService"]

NOTIFICATION_STATUSES = ("pending", "sent", "failed")


class NotificationService:
    def __init__(self, database: Database, plans: PlanService) -> None:
        self._db = database
        self._plans = plans

    def list(
        self,
        caller: Caller,
        *,
        status: str | None = None,
        plan_ref: str | None = None,
        run_id: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[NotificationRecord]:
        """The tenant's messages, newest first."""
        caller.require(Permission.RUNS_READ)
        check_page(limit, offset)
        if status is not None and status not in NOTIFICATION_STATUSES:
            raise InvalidInput(
                f"unknown status '{status}' (one of: {', '.join(NOTIFICATION_STATUSES)})",
                field="status",
            )
        with self._db.read() as conn:
            plan_id = self._plans.resolve(conn, caller, plan_ref).id if plan_ref else None
            items, total = store.list_for_tenant(
                conn,
                caller.tenant_id,
                status=status,
                plan_id=plan_id,
                plan_run_id=run_id,
                limit=limit,
                offset=offset,
            )
        return Page(items, total, limit, offset)

    def get(self, caller: Caller, notification_id: str) -> NotificationRecord:
        caller.require(Permission.RUNS_READ)
        with self._db.read() as conn:
            record = store.get(conn, caller.tenant_id, notification_id)
        if record is None:
            raise NotFound("notification", notification_id)
        return record
