"""``/api/v1/services``: the tenant's service registry (service name -> base URL).

HTTP jobs naming a ``service`` (Volt MX jobs) call ``<base URL>/<operation>``, resolved when
they run; a job whose service is not registered fails with a message saying so.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from jobplan.api.deps import CallerDep, LimitQuery, OffsetQuery, ServicesDep, set_page_headers
from jobplan.api.openapi import AUTHENTICATED, problem_responses
from jobplan.service.registry import MAX_BASE_URL_CHARS, ServiceRecord

router = APIRouter(
    prefix="/api/v1/services", tags=["services"], responses=problem_responses(*AUTHENTICATED)
)


class ServiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    base_url: str = Field(
        min_length=1,
        max_length=MAX_BASE_URL_CHARS,
        examples=["https://api.example.com/services/Orders"],
    )
    description: str = Field(default="", max_length=2000)


class ServiceOut(BaseModel):
    name: str
    base_url: str
    description: str
    created_by: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, record: ServiceRecord) -> ServiceOut:
        return cls(
            name=record.name,
            base_url=record.base_url,
            description=record.description,
            created_by=record.created_by,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )


ServiceName = Annotated[str, Path(max_length=100, description="Service name.")]


@router.put(
    "/{name}",
    operation_id="register_service",
    response_model=ServiceOut,
    responses={
        200: {"description": "The service's base URL or description changed."},
        201: {"description": "The service is new.", "model": ServiceOut},
    },
)
def register_service(
    name: ServiceName,
    body: ServiceIn,
    response: Response,
    caller: CallerDep,
    services: ServicesDep,
) -> ServiceOut:
    """Register a service, or change its base URL (201 when new, 200 when changed)."""
    record, created = services.registry.register(caller, name, body.base_url, body.description)
    if created:
        response.status_code = status.HTTP_201_CREATED
    return ServiceOut.of(record)


@router.get("", operation_id="list_services", response_model=list[ServiceOut])
def list_services(
    request: Request,
    response: Response,
    caller: CallerDep,
    services: ServicesDep,
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
) -> list[ServiceOut]:
    page = services.registry.list(caller, limit, offset)
    set_page_headers(request, response, page)
    return [ServiceOut.of(s) for s in page.items]


@router.get(
    "/{name}",
    operation_id="get_service",
    response_model=ServiceOut,
    responses=problem_responses(404),
)
def get_service(name: ServiceName, caller: CallerDep, services: ServicesDep) -> ServiceOut:
    return ServiceOut.of(services.registry.get(caller, name))


@router.delete(
    "/{name}",
    operation_id="remove_service",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404),
)
def remove_service(name: ServiceName, caller: CallerDep, services: ServicesDep) -> None:
    services.registry.remove(caller, name)
