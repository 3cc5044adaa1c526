"""Calendars: a tenant's named sets of days that plan windows skip (or fire only on).

Reading needs ``plans:read``; creating, replacing, importing and deleting need
``plans:write``, like the plans that use them. A change re-computes the next fire time of
every enabled plan whose window names the calendar, in the same transaction; a calendar in
use cannot be deleted (409 naming the plans).
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from jobplan.errors import AlreadyExists, Conflict, NotFound
from jobplan.model import CalendarDays, CalendarDocument
from jobplan.service.audit import audited, field_changes, record
from jobplan.service.calendar_ics import days_from_ics
from jobplan.service.caller import Caller, Permission
from jobplan.service.plans import PlanService, reschedule_calendar_users
from jobplan.store import Database
from jobplan.store import calendars as store
from jobplan.store.records import CalendarRecord

__all__ = ["CalendarRecord", "CalendarService", "CalendarView"]


@dataclass(frozen=True, slots=True)
class CalendarView:
    """A calendar and the plans (``folder/name`` paths) whose windows name it."""

    record: CalendarRecord
    plans: list[str]


class CalendarService:
    def __init__(self, database: Database, plans_service: PlanService) -> None:
        self._db = database
        self._plans = plans_service

    # --- reads ----------------------------------------------------------------------------

    def list(self, caller: Caller) -> builtins.list[CalendarRecord]:
        caller.require(Permission.PLANS_READ)
        with self._db.read() as conn:
            return store.list_calendars(conn, caller.tenant_id)

    def get(self, caller: Caller, name: str) -> CalendarView:
        caller.require(Permission.PLANS_READ)
        with self._db.read() as conn:
            found = self._find(conn, caller, name)
            using = [path for _, path, _ in store.plans_naming(conn, caller.tenant_id, name)]
        return CalendarView(found, using)

    def days(self, caller: Caller, names: Sequence[str]) -> dict[str, CalendarDays]:
        """The days of the tenant's calendars among ``names`` (for listing a window's fires)."""
        caller.require(Permission.PLANS_READ)
        if not names:
            return {}
        with self._db.read() as conn:
            return store.days_by_name(conn, caller.tenant_id, names)

    # --- writes ---------------------------------------------------------------------------

    @audited("calendar.create", "calendar", lambda a: a["document"].name)
    def create(self, caller: Caller, document: CalendarDocument) -> CalendarView:
        """A new calendar; :class:`AlreadyExists` if the tenant has one of that name."""
        caller.require(Permission.PLANS_WRITE)
        with self._db.transaction() as conn:
            if store.get_calendar(conn, caller.tenant_id, document.name) is not None:
                raise AlreadyExists("calendar", document.name)
            view = self._put(conn, caller, document)
        return view

    @audited("calendar.put", "calendar", lambda a: a["document"].name)
    def put(self, caller: Caller, document: CalendarDocument) -> tuple[CalendarView, bool]:
        """Create or replace a calendar; ``(view, created)``. Plans naming it are
        re-scheduled with its new days."""
        caller.require(Permission.PLANS_WRITE)
        with self._db.transaction() as conn:
            created = store.get_calendar(conn, caller.tenant_id, document.name) is None
            view = self._put(conn, caller, document)
        self._plans.notify()
        return view, created

    def import_ics(
        self, caller: Caller, name: str, data: bytes, description: str = ""
    ) -> tuple[CalendarView, bool]:
        """Create or replace calendar ``name`` with the days of an iCalendar file."""
        caller.require(Permission.PLANS_WRITE)
        document = CalendarDocument(name=name, description=description, days=days_from_ics(data))
        return self.put(caller, document)

    @audited("calendar.delete", "calendar", "name")
    def delete(self, caller: Caller, name: str) -> None:
        """Delete a calendar no plan's current version names (else :class:`Conflict`)."""
        caller.require(Permission.PLANS_WRITE)
        with self._db.transaction() as conn:
            found = self._find(conn, caller, name)
            using = [path for _, path, _ in store.plans_naming(conn, caller.tenant_id, name)]
            if using:
                raise Conflict(
                    f"calendar '{name}' is used by {len(using)} plan(s): {', '.join(using[:20])}"
                    f"{' …' if len(using) > 20 else ''}; change their windows first"
                )
            store.delete_calendar(conn, caller.tenant_id, name)
            record(conn, target_id=found.id, target_path=name, changes=[])

    def put_many(
        self, conn: Connection, caller: Caller, documents: Sequence[CalendarDocument]
    ) -> None:
        """Create or replace calendars inside the caller's transaction (a bundle import
        writes its calendars before its plans, all or nothing)."""
        caller.require(Permission.PLANS_WRITE)
        for document in documents:
            self._put(conn, caller, document)

    # --- helpers --------------------------------------------------------------------------

    def _find(self, conn: Connection, caller: Caller, name: str) -> CalendarRecord:
        found = store.get_calendar(conn, caller.tenant_id, name)
        if found is None:
            raise NotFound("calendar", name)
        return found

    def _put(self, conn: Connection, caller: Caller, document: CalendarDocument) -> CalendarView:
        before = store.get_calendar(conn, caller.tenant_id, document.name)
        saved, _ = store.put_calendar(
            conn, caller.tenant_id, document.name, document.description, document.days
        )
        old = {"description": before.description, "days": before.days} if before else {}
        new = {"description": saved.description, "days": saved.days}
        record(conn, target_id=saved.id, target_path=saved.name, changes=field_changes(old, new))
        return CalendarView(saved, reschedule_calendar_users(conn, caller.tenant_id, saved.name))
