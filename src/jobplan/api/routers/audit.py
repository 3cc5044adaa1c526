"""``/api/v1/audit``: who did what, how, from where, to what and what it changed.

Supervisors and admins read their tenant's records (``audit:read``); the export streams every
matching record as JSON Lines (one object per line, oldest first), for a SIEM or an archive.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from jobplan.api.deps import CallerDep, LimitQuery, OffsetQuery, ServicesDep, set_page_headers
from jobplan.api.openapi import AUTHENTICATED, problem_responses
from jobplan.service.audit import AuditQuery
from jobplan.service.records import AuditRecord

__all__ = ["JSON_LINES", "AuditRecordOut", "router"]

router = APIRouter(
    prefix="/api/v1/audit",
    tags=["audit"],
    responses=problem_responses(*AUTHENTICATED),
)

JSON_LINES = "application/jsonl"


class AuditActor(BaseModel):
    """Who acted: a user (and the API key they used), or, for a failed sign-in, the name
    tried; for the offline admin CLI, the operating-system user."""

    id: str | None
    name: str | None
    api_key_id: str | None


class AuditTarget(BaseModel):
    type: str | None
    id: str | None
    path: str | None = Field(description="A plan's folder/name, a user name, a key's name...")


class AuditChange(BaseModel):
    """One changed field (``settings.max_jobs``) or plan document path (``jobs.load.cron``).
    Secrets (passwords) appear as changed without values."""

    kind: str = Field(description="added, removed or changed")
    path: str
    before: Any = None
    after: Any = None


class AuditRecordOut(BaseModel):
    id: str
    time: datetime
    tenant_id: str | None
    tenant: str | None
    actor: AuditActor
    auth_method: str | None = Field(
        description="password, console, bearer, basic, api_key, client_credentials, "
        "refresh_token or local"
    )
    source: str | None = Field(description="The client's address.")
    user_agent: str | None
    action: str = Field(description="plan.apply, run.start, key.create, login, ...")
    target: AuditTarget
    outcome: str = Field(description="done, refused or failed")
    status: int | None = Field(description="The HTTP status of a refusal or failure.")
    message: str | None
    changes: list[AuditChange] | None
    request_id: str | None = Field(
        description="The `X-Request-ID` of the request that caused the record (also on each "
        "of its log lines); null for offline commands and the engine's own work."
    )

    @classmethod
    def of(cls, record: AuditRecord) -> AuditRecordOut:
        return cls(
            id=record.id,
            time=record.time,
            tenant_id=record.tenant_id,
            tenant=record.tenant_name,
            actor=AuditActor(
                id=record.actor_id, name=record.actor_name, api_key_id=record.api_key_id
            ),
            auth_method=record.auth_method,
            source=record.source,
            user_agent=record.user_agent,
            action=record.action,
            target=AuditTarget(
                type=record.target_type, id=record.target_id, path=record.target_path
            ),
            outcome=record.outcome,
            status=record.status,
            message=record.message,
            changes=[AuditChange(**change) for change in record.changes]
            if record.changes is not None
            else None,
            request_id=record.request_id,
        )


def _query(
    actor: Annotated[str | None, Query(max_length=200, description="A user's id or name.")] = None,
    action: Annotated[
        str | None,
        Query(max_length=64, description="An action (`plan.apply`), or a family (`plan.`)."),
    ] = None,
    target_type: Annotated[
        str | None, Query(max_length=32, description="plan, plan_run, job_run, user, ...")
    ] = None,
    target: Annotated[
        str | None, Query(max_length=700, description="A target's id or path.")
    ] = None,
    since: Annotated[datetime | None, Query(description="From this time (inclusive).")] = None,
    until: Annotated[datetime | None, Query(description="Before this time.")] = None,
    outcome: Annotated[
        str | None, Query(max_length=8, description="done, refused or failed.")
    ] = None,
    request_id: Annotated[
        str | None,
        Query(max_length=128, description="The records of one request (its `X-Request-ID`)."),
    ] = None,
) -> AuditQuery:
    return AuditQuery(actor, action, target_type, target, since, until, outcome, request_id)


QueryDep = Annotated[AuditQuery, Depends(_query)]


@router.get(
    "",
    operation_id="list_audit_records",
    response_model=list[AuditRecordOut],
)
def list_audit_records(
    request: Request,
    response: Response,
    caller: CallerDep,
    services: ServicesDep,
    query: QueryDep,
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
) -> list[AuditRecordOut]:
    """The tenant's audit records, newest first (supervisors and admins: `audit:read`)."""
    page = services.audit.list(caller, query, limit=limit, offset=offset)
    set_page_headers(request, response, page)
    return [AuditRecordOut.of(record) for record in page.items]


def _lines(records: Iterator[AuditRecord]) -> Iterator[bytes]:
    for record in records:
        yield AuditRecordOut.of(record).model_dump_json().encode() + b"\n"


@router.get(
    "/export",
    operation_id="export_audit_records",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {JSON_LINES: {}},
            "description": "One audit record (as the list shows it) per line, oldest first.",
        }
    },
)
def export_audit_records(
    caller: CallerDep,
    services: ServicesDep,
    query: QueryDep,
) -> StreamingResponse:
    """Every matching record as JSON Lines (`application/jsonl`), streamed in batches."""
    records = services.audit.export(caller, query)  # checks now: errors are problems
    return StreamingResponse(
        _lines(records),
        media_type=JSON_LINES,
        headers={"Content-Disposition": 'attachment; filename="audit.jsonl"'},
    )
