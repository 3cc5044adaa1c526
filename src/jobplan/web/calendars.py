"""The Calendars page (an administration tab): the tenant's calendars of days, the plans
using each; supervisors and admins create them from a list of days or an iCalendar file,
replace their days and delete unused ones."""

from __future__ import annotations

from typing import Annotated

from fastapi import File, Form, Request, Response, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from jobplan.errors import InvalidInput
from jobplan.model import CalendarDocument, error_messages
from jobplan.service.calendar_ics import MAX_ICS_BYTES
from jobplan.service.caller import Permission
from jobplan.web.admin import tabs_of
from jobplan.web.render import page
from jobplan.web.routing import acting, blocking, console_router, viewing
from jobplan.web.session import SessionDep

__all__ = ["router"]

router = console_router()


def _calendars_page(request: Request, session: SessionDep) -> HTMLResponse:
    caller = session.caller
    services = session.services
    views = [services.calendars.get(caller, c.name) for c in services.calendars.list(caller)]
    return page(
        request,
        "admin_calendars.html",
        session,
        title="Calendars",
        tabs=tabs_of(session),
        items=views,
        can_write=caller.can(Permission.PLANS_WRITE),
    )


@router.get("/admin/calendars")
def calendars_page(request: Request, session: SessionDep) -> HTMLResponse:
    viewing(request, session)
    return _calendars_page(request, session)


@router.post("/admin/calendars")
async def put_calendar(
    request: Request,
    session: SessionDep,
    name: Annotated[str, Form(max_length=200)],
    days: Annotated[str, Form(max_length=200_000)] = "",
    description: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    """Create a calendar, or replace one's days: one day per line (or separated by spaces
    or commas)."""
    await acting(request, session)
    wanted = [day for day in days.replace(",", " ").split() if day]
    try:
        document = CalendarDocument(name=name.strip(), description=description, days=wanted)
    except ValidationError as exc:
        raise InvalidInput("; ".join(error_messages(exc))) from None
    await blocking(session.services.calendars.put, session.caller, document)
    return RedirectResponse("/admin/calendars", status_code=303)


@router.post("/admin/calendars/import")
async def import_calendar(
    request: Request,
    session: SessionDep,
    name: Annotated[str, Form(max_length=200)],
    file: Annotated[UploadFile, File()],
) -> Response:
    """Create or replace a calendar from an uploaded iCalendar file."""
    await acting(request, session)
    data = await file.read(MAX_ICS_BYTES + 1)
    await blocking(session.services.calendars.import_ics, session.caller, name.strip(), data)
    return RedirectResponse("/admin/calendars", status_code=303)


@router.post("/admin/calendars/{name}/delete")
async def delete_calendar(request: Request, session: SessionDep, name: str) -> Response:
    await acting(request, session)
    await blocking(session.services.calendars.delete, session.caller, name)
    return RedirectResponse("/admin/calendars", status_code=303)
