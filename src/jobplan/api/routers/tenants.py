"""``/api/v1/tenants``: tenant administration (system administrators only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from jobplan.api.deps import CallerDep, LimitQuery, OffsetQuery, ServicesDep, set_page_headers
from jobplan.api.openapi import AUTHENTICATED, problem_responses
from jobplan.service.records import TenantRecord
from jobplan.service.tenants import NewTenantAdmin

router = APIRouter(
    prefix="/api/v1/tenants", tags=["tenants"], responses=problem_responses(*AUTHENTICATED)
)


class TenantAdminIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class TenantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64, examples=["finance"])
    display_name: str | None = Field(default=None, max_length=200)
    settings: dict[str, Any] | None = None
    admin: TenantAdminIn | None = Field(
        default=None, description="First admin of the new tenant (created if missing)."
    )


class TenantOut(BaseModel):
    id: str
    name: str
    display_name: str
    settings: dict[str, Any]
    created_at: datetime

    @classmethod
    def of(cls, record: TenantRecord) -> TenantOut:
        return cls(
            id=record.id,
            name=record.name,
            display_name=record.display_name,
            settings=record.settings,
            created_at=record.created_at,
        )


TenantPath = Annotated[str, Path(max_length=64, description="Tenant id or name.")]


@router.post(
    "",
    operation_id="create_tenant",
    status_code=status.HTTP_201_CREATED,
    response_model=TenantOut,
    responses=problem_responses(409),
)
def create_tenant(body: TenantIn, caller: CallerDep, services: ServicesDep) -> TenantOut:
    admin = NewTenantAdmin(body.admin.username, body.admin.password) if body.admin else None
    return TenantOut.of(
        services.tenants.create(caller, body.name, body.display_name, body.settings, admin)
    )


@router.get("", operation_id="list_tenants", response_model=list[TenantOut])
def list_tenants(
    request: Request,
    response: Response,
    caller: CallerDep,
    services: ServicesDep,
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
) -> list[TenantOut]:
    page = services.tenants.list(caller, limit, offset)
    set_page_headers(request, response, page)
    return [TenantOut.of(t) for t in page.items]


@router.get(
    "/{tenant}",
    operation_id="get_tenant",
    response_model=TenantOut,
    responses=problem_responses(404),
)
def get_tenant(tenant: TenantPath, caller: CallerDep, services: ServicesDep) -> TenantOut:
    return TenantOut.of(services.tenants.get(caller, tenant))


class TenantPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    settings: dict[str, Any] = Field(
        description="The tenant's settings, replaced whole (e.g. export and import limits)."
    )


@router.patch(
    "/{tenant}",
    operation_id="update_tenant",
    response_model=TenantOut,
    responses=problem_responses(404),
)
def update_tenant(
    tenant: TenantPath, body: TenantPatch, caller: CallerDep, services: ServicesDep
) -> TenantOut:
    """Replace a tenant's settings (system administrators)."""
    return TenantOut.of(services.tenants.update_settings(caller, tenant, body.settings))


@router.delete(
    "/{tenant}",
    operation_id="delete_tenant",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404, 409),
)
def delete_tenant(tenant: TenantPath, caller: CallerDep, services: ServicesDep) -> None:
    services.tenants.delete(caller, tenant)
