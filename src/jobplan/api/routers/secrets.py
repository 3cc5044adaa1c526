"""``/api/v1/secrets``: a tenant's secrets. A value is set and deleted, never read back:
every answer carries names, when and by whom."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from jobplan.api.deps import CallerDep, LimitQuery, OffsetQuery, ServicesDep, set_page_headers
from jobplan.api.openapi import AUTHENTICATED, problem_responses
from jobplan.service.secrets import MAX_VALUE_BYTES, SecretInfo

router = APIRouter(
    prefix="/api/v1/secrets", tags=["secrets"], responses=problem_responses(*AUTHENTICATED)
)


class SecretIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: StrictStr = Field(
        description=f"The value: 1 to {MAX_VALUE_BYTES} bytes of UTF-8 text without NUL. "
        "Stored encrypted; no API answers it back.",
    )


class SecretOut(BaseModel):
    name: str
    created_at: datetime
    created_by: str = Field(description="Who created it (user name).")
    updated_at: datetime
    updated_by: str = Field(description="Who set its current value (user name).")

    @classmethod
    def of(cls, info: SecretInfo) -> SecretOut:
        return cls(
            name=info.name,
            created_at=info.created_at,
            created_by=info.created_by,
            updated_at=info.updated_at,
            updated_by=info.updated_by,
        )


SecretName = Annotated[
    str,
    Path(
        max_length=200,
        description="1-128 letters, digits, '_', '.' and '-'; plans refer to it as "
        "`${secret:NAME}`.",
    ),
]


@router.put(
    "/{name}",
    operation_id="set_secret",
    response_model=SecretOut,
    responses={201: {"description": "Created", "model": SecretOut}},
)
def set_secret(
    name: SecretName, body: SecretIn, response: Response, caller: CallerDep, services: ServicesDep
) -> SecretOut:
    """Create or replace a secret (`secrets:write`): 201 when created, 200 when replaced.
    The answer never holds the value."""
    info, created = services.secrets.set(caller, name, body.value)
    if created:
        response.status_code = status.HTTP_201_CREATED
    return SecretOut.of(info)


@router.get("", operation_id="list_secrets", response_model=list[SecretOut])
def list_secrets(
    request: Request,
    response: Response,
    caller: CallerDep,
    services: ServicesDep,
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
) -> list[SecretOut]:
    """The tenant's secrets by name, without values (`secrets:read`)."""
    page = services.secrets.list(caller, limit, offset)
    set_page_headers(request, response, page)
    return [SecretOut.of(s) for s in page.items]


@router.get(
    "/{name}",
    operation_id="get_secret",
    response_model=SecretOut,
    responses=problem_responses(404),
)
def get_secret(name: SecretName, caller: CallerDep, services: ServicesDep) -> SecretOut:
    """A secret's name, when and by whom it was set (never its value)."""
    return SecretOut.of(services.secrets.get(caller, name))


@router.delete(
    "/{name}",
    operation_id="delete_secret",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404),
)
def delete_secret(name: SecretName, caller: CallerDep, services: ServicesDep) -> None:
    """Delete a secret (`secrets:write`): jobs that start from now on and refer to it fail."""
    services.secrets.delete(caller, name)
