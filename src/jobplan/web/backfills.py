"""Backfills on the plan page: the form (with a dry-run preview), each backfill's progress
(refreshed while one runs) and its cancel button (docs/backfill.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Form, Request
from fastapi.responses import HTMLResponse

from jobplan.errors import InvalidInput
from jobplan.service.caller import Permission
from jobplan.web.render import page
from jobplan.web.routing import acting, blocking, console_router, viewing
from jobplan.web.session import SessionDep

__all__ = ["router"]

router = console_router()
#: Backfills shown on a plan page, newest first; the rest: ``jobplan runs backfills``.
_SHOWN = 10
#: Fire times a preview lists before "and N more".
_PREVIEWED = 50
#: How often the list refreshes while a backfill runs (htmx polling).
_REFRESH = "2s"

Moment = Annotated[str, Form(max_length=40)]


def _moment(value: str, field: str) -> datetime:
    """A ``datetime-local`` value (or any ISO 8601 date-time): read in the window's zone
    when it has no offset (the service does that)."""
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(
            f"{value!r} is not a date-time (2026-11-26T06:00)", field=field
        ) from None


def _list(request: Request, session: SessionDep, plan_id: str) -> HTMLResponse:
    caller = session.caller
    found = session.services.backfills.list(caller, _SHOWN, 0, plan_ref=plan_id)
    return page(
        request,
        "_backfills.html",
        session,
        plan_id=plan_id,
        items=found.items,
        total=found.total,
        running=any(item.record.state == "running" for item in found.items),
        refresh=_REFRESH,
        can_run=caller.can(Permission.RUNS_WRITE),
    )


@router.get("/plans/{plan_id}/backfills")
def backfills(request: Request, session: SessionDep, plan_id: str) -> HTMLResponse:
    """The plan's backfills with their progress (a fragment of the plan page)."""
    viewing(request, session)
    return _list(request, session, plan_id)


@router.post("/plans/{plan_id}/backfill/preview")
async def preview(
    request: Request, session: SessionDep, plan_id: str, start: Moment, end: Moment
) -> HTMLResponse:
    """A dry run: the fire times the backfill would open runs for."""
    await acting(request, session)
    shown = await blocking(
        session.services.backfills.preview,
        session.caller,
        plan_id,
        _moment(start, "start"),
        _moment(end, "end"),
    )
    return page(
        request,
        "_backfill_preview.html",
        session,
        preview=shown,
        fires=[fire.astimezone(ZoneInfo(shown.timezone)) for fire in shown.fires[:_PREVIEWED]],
        more=max(0, len(shown.fires) - _PREVIEWED),
    )


@router.post("/plans/{plan_id}/backfill")
async def start(
    request: Request,
    session: SessionDep,
    plan_id: str,
    start: Moment,
    end: Moment,
    max_active: Annotated[int, Form(ge=1, le=50)] = 1,
) -> HTMLResponse:
    """Start a backfill; answers the refreshed list."""
    await acting(request, session)
    await blocking(
        session.services.backfills.create,
        session.caller,
        plan_id,
        _moment(start, "start"),
        _moment(end, "end"),
        max_active,
    )
    return await blocking(_list, request, session, plan_id)


@router.post("/backfills/{backfill_id}/cancel")
async def cancel(request: Request, session: SessionDep, backfill_id: str) -> HTMLResponse:
    """Cancel a backfill; answers its plan's refreshed list."""
    await acting(request, session)
    view = await blocking(session.services.backfills.cancel, session.caller, backfill_id)
    return await blocking(_list, request, session, view.record.plan_id)
