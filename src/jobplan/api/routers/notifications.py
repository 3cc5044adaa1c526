"""``/api/v1/notifications``: the messages sent (or not) about runs, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel

from jobplan.api.deps import CallerDep, LimitQuery, OffsetQuery, ServicesDep, set_page_headers
from jobplan.api.openapi import AUTHENTICATED, problem_responses
from jobplan.service.notifications import NotificationRecord

router = APIRouter(
    prefix="/api/v1/notifications",
    tags=["notifications"],
    responses=problem_responses(*AUTHENTICATED),
)


class NotificationOut(BaseModel):
    id: str
    event: str
    channel: str
    recipient: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    plan: str
    plan_id: str
    run_id: str | None
    job_run_id: str | None
    payload: dict[str, Any]
    created_at: datetime
    sent_at: datetime | None

    @classmethod
    def of(cls, record: NotificationRecord) -> NotificationOut:
        return cls(
            id=record.id,
            event=record.event,
            channel=record.channel,
            recipient=record.recipient,
            status=record.status,
            attempts=record.attempts,
            last_error=record.last_error,
            next_attempt_at=record.next_attempt_at,
            plan=record.plan_path,
            plan_id=record.plan_id,
            run_id=record.plan_run_id,
            job_run_id=record.job_run_id,
            payload=record.payload,
            created_at=record.created_at,
            sent_at=record.sent_at,
        )


@router.get(
    "",
    operation_id="list_notifications",
    response_model=list[NotificationOut],
    responses=problem_responses(404),
)
def list_notifications(
    request: Request,
    response: Response,
    caller: CallerDep,
    services: ServicesDep,
    status: Annotated[
        str | None, Query(max_length=16, description="pending, sent or failed.")
    ] = None,
    plan: Annotated[str | None, Query(max_length=700, description="Plan id or path.")] = None,
    run: Annotated[str | None, Query(max_length=36, description="Plan run id.")] = None,
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
) -> list[NotificationOut]:
    page = services.notifications.list(
        caller, status=status, plan_ref=plan, run_id=run, limit=limit, offset=offset
    )
    set_page_headers(request, response, page)
    return [NotificationOut.of(n) for n in page.items]


@router.get(
    "/{notification_id}",
    operation_id="get_notification",
    response_model=NotificationOut,
    responses=problem_responses(404),
)
def get_notification(
    notification_id: Annotated[str, Path(max_length=36)],
    caller: CallerDep,
    services: ServicesDep,
) -> NotificationOut:
    return NotificationOut.of(services.notifications.get(caller, notification_id))
