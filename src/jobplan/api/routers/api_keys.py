"""``/api/v1/api-keys``: keys for automation. The secret is returned once, at creation."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from jobplan.api.deps import CallerDep, LimitQuery, OffsetQuery, ServicesDep, set_page_headers
from jobplan.api.openapi import AUTHENTICATED, problem_responses
from jobplan.service.records import ApiKeyRecord

router = APIRouter(
    prefix="/api/v1/api-keys", tags=["api-keys"], responses=problem_responses(*AUTHENTICATED)
)


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, examples=["nightly-ci"])
    expires_at: AwareDatetime | None = None
    scopes: list[Annotated[str, Field(max_length=64)]] | None = Field(
        default=None,
        max_length=20,
        description="Narrow the key below its owner's role, e.g. ['plans:read', 'runs:write'].",
    )


class ApiKeyOut(BaseModel):
    id: str
    name: str
    user_id: str
    scopes: list[str] | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, record: ApiKeyRecord) -> ApiKeyOut:
        return cls(
            id=record.id,
            name=record.name,
            user_id=record.user_id,
            scopes=record.scopes,
            created_at=record.created_at,
            expires_at=record.expires_at,
            last_used_at=record.last_used_at,
            revoked_at=record.revoked_at,
        )


class NewApiKeyOut(ApiKeyOut):
    key: str = Field(description="The secret. Shown only now; store it safely.")


KeyPath = Annotated[str, Path(max_length=40)]


@router.post(
    "",
    operation_id="create_api_key",
    status_code=status.HTTP_201_CREATED,
    response_model=NewApiKeyOut,
    responses=problem_responses(409),
)
def create_api_key(body: ApiKeyIn, caller: CallerDep, services: ServicesDep) -> NewApiKeyOut:
    created = services.api_keys.create(caller, body.name, body.expires_at, body.scopes)
    return NewApiKeyOut(**ApiKeyOut.of(created.record).model_dump(), key=created.key)


@router.get("", operation_id="list_api_keys", response_model=list[ApiKeyOut])
def list_api_keys(
    request: Request,
    response: Response,
    caller: CallerDep,
    services: ServicesDep,
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
    all_users: Annotated[
        bool, Query(description="Every key of the tenant (supervisor and above).")
    ] = False,
) -> list[ApiKeyOut]:
    page = services.api_keys.list(caller, limit, offset, all_users=all_users)
    set_page_headers(request, response, page)
    return [ApiKeyOut.of(k) for k in page.items]


@router.get(
    "/{key_id}",
    operation_id="get_api_key",
    response_model=ApiKeyOut,
    responses=problem_responses(404),
)
def get_api_key(key_id: KeyPath, caller: CallerDep, services: ServicesDep) -> ApiKeyOut:
    return ApiKeyOut.of(services.api_keys.get(caller, key_id))


@router.delete(
    "/{key_id}",
    operation_id="revoke_api_key",
    response_model=ApiKeyOut,
    responses=problem_responses(404),
)
def revoke_api_key(key_id: KeyPath, caller: CallerDep, services: ServicesDep) -> ApiKeyOut:
    """Revoke a key; it stops working at once. The record stays, for audit."""
    return ApiKeyOut.of(services.api_keys.revoke(caller, key_id))
