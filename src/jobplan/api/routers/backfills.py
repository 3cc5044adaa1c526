"""``/api/v1`` backfills: one run per past fire time of a plan's window, a few at a time
(docs/backfill.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from jobplan.api.deps import CallerDep, LimitQuery, OffsetQuery, ServicesDep, set_page_headers
from jobplan.api.openapi import AUTHENTICATED, problem_responses
from jobplan.service.backfills import MAX_BACKFILL_ACTIVE, BackfillView

router = APIRouter(
    prefix="/api/v1", tags=["backfills"], responses=problem_responses(*AUTHENTICATED)
)

PlanId = Annotated[str, Path(max_length=64, description="Plan id.")]
BackfillId = Annotated[str, Path(max_length=64, description="Backfill id.")]
_NAIVE = "Without a UTC offset, read in the time zone of the plan's window."


class BackfillIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: datetime = Field(description=f"First instant of the range (inclusive). {_NAIVE}")
    end: datetime = Field(
        description=f"End of the range (exclusive); after start, not in the future. {_NAIVE}"
    )
    max_active: int = Field(
        default=1,
        ge=1,
        le=MAX_BACKFILL_ACTIVE,
        description="The most runs of this backfill open at once; the next opens as one ends.",
    )
    dry_run: bool = Field(default=False, description="Only list the fire times; open nothing.")


class BackfillOut(BaseModel):
    id: str
    plan_id: str
    plan_path: str
    start: datetime
    end: datetime
    max_active: int
    timezone: str = Field(description="The window's time zone the fire times were read in.")
    state: Literal["running", "complete", "cancelled"] = Field(
        description="running: opening runs; complete: every fire's run has ended; "
        "cancelled: no more runs open (those open go on)."
    )
    total: int = Field(description="Fire times in the range.")
    opened: int = Field(description="Fire times that have a run (oldest first).")
    active: int = Field(description="Runs of this backfill open now.")
    done: int = Field(description="Runs that have ended, whatever their outcome.")
    failed: int = Field(description="Runs that ended without completing (ERROR or ENDED).")
    reason: str | None
    created_by: str
    created_at: datetime
    ended_at: datetime | None

    @classmethod
    def of(cls, view: BackfillView) -> BackfillOut:
        r = view.record
        return cls(
            id=r.id,
            plan_id=r.plan_id,
            plan_path=r.plan_path,
            start=r.start,
            end=r.end,
            max_active=r.max_active,
            timezone=r.timezone,
            state=r.state,
            total=view.total,
            opened=view.opened,
            active=view.active,
            done=view.done,
            failed=view.failed,
            reason=r.reason,
            created_by=r.created_by,
            created_at=r.created_at,
            ended_at=r.ended_at,
        )


class BackfillStartOut(BaseModel):
    dry_run: bool
    timezone: str = Field(description="The window's time zone: fire times are shown in it.")
    fires: list[datetime] = Field(description="The fire times of the range, oldest first.")
    backfill: BackfillOut | None = Field(description="The backfill started (none on a dry run).")


@router.post(
    "/plans/{plan_id}/backfill",
    operation_id="backfill_plan",
    status_code=status.HTTP_201_CREATED,
    response_model=BackfillStartOut,
    responses={
        200: {
            "model": BackfillStartOut,
            "description": "A dry run: the fire times, nothing opened.",
        },
        **problem_responses(
            404,
            (409, "The plan has no window, or a running backfill of it overlaps the range."),
        ),
    },
)
def backfill_plan(
    plan_id: PlanId,
    body: BackfillIn,
    response: Response,
    caller: CallerDep,
    services: ServicesDep,
) -> BackfillStartOut:
    """Open one run per fire time of the plan's window in `[start, end)` (at most 1000, a
    larger range is refused), oldest first, `max_active` at a time, each with the trigger
    `backfill` and `scheduled_for` its fire time. With `dry_run`, only list the fire times
    (answer 200)."""
    if body.dry_run:
        preview = services.backfills.preview(caller, plan_id, body.start, body.end)
        response.status_code = status.HTTP_200_OK
        return BackfillStartOut(
            dry_run=True,
            timezone=preview.timezone,
            fires=_local(preview.fires, preview.timezone),
            backfill=None,
        )
    view = services.backfills.create(caller, plan_id, body.start, body.end, body.max_active)
    zone = view.record.timezone
    return BackfillStartOut(
        dry_run=False, timezone=zone, fires=_local(view.fires, zone), backfill=BackfillOut.of(view)
    )


@router.get("/backfills", operation_id="list_backfills", response_model=list[BackfillOut])
def list_backfills(
    request: Request,
    response: Response,
    caller: CallerDep,
    services: ServicesDep,
    plan: Annotated[
        str | None, Query(max_length=700, description="Plan id or folder/name.")
    ] = None,
    state: Annotated[
        Literal["running", "complete", "cancelled"] | None,
        Query(description="Only the backfills in this state."),
    ] = None,
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
) -> list[BackfillOut]:
    """The tenant's backfills, newest first (`runs:read`)."""
    page = services.backfills.list(caller, limit, offset, plan_ref=plan, state=state)
    set_page_headers(request, response, page)
    return [BackfillOut.of(view) for view in page.items]


@router.get(
    "/backfills/{backfill_id}",
    operation_id="get_backfill",
    response_model=BackfillOut,
    responses=problem_responses(404),
)
def get_backfill(backfill_id: BackfillId, caller: CallerDep, services: ServicesDep) -> BackfillOut:
    return BackfillOut.of(services.backfills.get(caller, backfill_id))


@router.post(
    "/backfills/{backfill_id}/cancel",
    operation_id="cancel_backfill",
    response_model=BackfillOut,
    responses=problem_responses(404),
)
def cancel_backfill(
    backfill_id: BackfillId, caller: CallerDep, services: ServicesDep
) -> BackfillOut:
    """Open no more runs; the backfill's open runs go on (stop them as any run)."""
    return BackfillOut.of(services.backfills.cancel(caller, backfill_id))


@router.delete(
    "/backfills/{backfill_id}",
    operation_id="delete_backfill",
    response_model=BackfillOut,
    responses=problem_responses(404),
)
def delete_backfill(
    backfill_id: BackfillId, caller: CallerDep, services: ServicesDep
) -> BackfillOut:
    """The same as `POST .../cancel` (the record stays, for its history)."""
    return BackfillOut.of(services.backfills.cancel(caller, backfill_id))


def _local(fires: list[datetime], zone: str) -> list[datetime]:
    tz = ZoneInfo(zone)
    return [fire.astimezone(tz) for fire in fires]
