"""``/api/v1/calendars``: the tenant's named calendars of days, which plan windows skip
(``calendar: NAME``) or fire only on (``calendar_mode: only``). See docs/calendars.md."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field

from jobplan.api.deps import CallerDep, ServicesDep
from jobplan.api.openapi import AUTHENTICATED, problem_responses
from jobplan.model import CalendarDocument
from jobplan.model._types import Description, Name
from jobplan.model.calendar import MAX_CALENDAR_DAYS, CalendarDay
from jobplan.service.calendar_ics import MAX_ICS_BYTES
from jobplan.service.calendars import CalendarRecord, CalendarView

router = APIRouter(
    prefix="/api/v1/calendars", tags=["calendars"], responses=problem_responses(*AUTHENTICATED)
)

_DAYS = "`YYYY-MM-DD` dates, or `MM-DD` for that day every year (`12-25`)."


class CalendarBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: Description = ""
    days: list[CalendarDay] = Field(
        default_factory=list, max_length=MAX_CALENDAR_DAYS, description=_DAYS
    )


class CalendarIn(CalendarBody):
    name: Name = Field(description="How windows refer to it: `calendar: NAME`.")


class CalendarImportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    description: Description = ""
    ics: str = Field(
        max_length=MAX_ICS_BYTES,
        description="The iCalendar (.ics) file's text: its events' all-day dates (and "
        "yearly rules) become the calendar's days, replacing any it had.",
    )


class CalendarSummary(BaseModel):
    name: str
    description: str
    days: int = Field(description="How many days (dates and every-year days) it holds.")
    updated_at: datetime

    @classmethod
    def of(cls, record: CalendarRecord) -> CalendarSummary:
        return cls(
            name=record.name,
            description=record.description,
            days=len(record.days),
            updated_at=record.updated_at,
        )


class CalendarOut(BaseModel):
    id: str
    name: str
    description: str
    days: list[str] = Field(description=_DAYS)
    plans: list[str] = Field(description="The plans whose windows name it (`folder/name`).")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: CalendarView) -> CalendarOut:
        record = view.record
        return cls(
            id=record.id,
            name=record.name,
            description=record.description,
            days=record.days,
            plans=view.plans,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )


CalendarName = Annotated[str, Path(max_length=200, description="The calendar's name.")]


@router.get("", operation_id="list_calendars", response_model=list[CalendarSummary])
def list_calendars(caller: CallerDep, services: ServicesDep) -> list[CalendarSummary]:
    """The tenant's calendars by name (`plans:read`)."""
    return [CalendarSummary.of(record) for record in services.calendars.list(caller)]


@router.post(
    "",
    operation_id="create_calendar",
    status_code=status.HTTP_201_CREATED,
    response_model=CalendarOut,
    responses=problem_responses(409),
)
def create_calendar(body: CalendarIn, caller: CallerDep, services: ServicesDep) -> CalendarOut:
    """A new calendar (`plans:write`); 409 if the name is taken."""
    document = CalendarDocument(name=body.name, description=body.description, days=body.days)
    return CalendarOut.of(services.calendars.create(caller, document))


@router.post(
    "/import",
    operation_id="import_calendar",
    response_model=CalendarOut,
    responses={201: {"description": "Created", "model": CalendarOut}},
)
def import_calendar(
    body: CalendarImportIn, response: Response, caller: CallerDep, services: ServicesDep
) -> CalendarOut:
    """Create (201) or replace (200) a calendar from an iCalendar file (`plans:write`); a
    file that cannot be read is a 422 saying why. Plans using it are re-scheduled."""
    view, created = services.calendars.import_ics(
        caller, body.name, body.ics.encode(), body.description
    )
    if created:
        response.status_code = status.HTTP_201_CREATED
    return CalendarOut.of(view)


@router.get(
    "/{name}",
    operation_id="get_calendar",
    response_model=CalendarOut,
    responses=problem_responses(404),
)
def get_calendar(name: CalendarName, caller: CallerDep, services: ServicesDep) -> CalendarOut:
    """A calendar with its days and the plans using it."""
    return CalendarOut.of(services.calendars.get(caller, name))


@router.put(
    "/{name}",
    operation_id="put_calendar",
    response_model=CalendarOut,
    responses={201: {"description": "Created", "model": CalendarOut}},
)
def put_calendar(
    name: Annotated[Name, Path(description="The calendar's name.")],
    body: CalendarBody,
    response: Response,
    caller: CallerDep,
    services: ServicesDep,
) -> CalendarOut:
    """Create (201) or replace (200) a calendar's days (`plans:write`). The next fire times
    of the plans using it are re-computed at once."""
    document = CalendarDocument(name=name, description=body.description, days=body.days)
    view, created = services.calendars.put(caller, document)
    if created:
        response.status_code = status.HTTP_201_CREATED
    return CalendarOut.of(view)


@router.delete(
    "/{name}",
    operation_id="delete_calendar",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404, (409, "Plans still name the calendar (listed).")),
)
def delete_calendar(name: CalendarName, caller: CallerDep, services: ServicesDep) -> None:
    """Delete a calendar no plan uses (`plans:write`); 409 names the plans that do."""
    services.calendars.delete(caller, name)
