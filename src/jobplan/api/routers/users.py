"""``/api/v1/users``: users of the caller's tenant."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from jobplan.api.deps import CallerDep, LimitQuery, OffsetQuery, ServicesDep, set_page_headers
from jobplan.api.openapi import AUTHENTICATED, problem_responses
from jobplan.model import Role
from jobplan.service.users import Member

router = APIRouter(
    prefix="/api/v1/users", tags=["users"], responses=problem_responses(*AUTHENTICATED)
)


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    role: Role = Role.VIEWER
    display_name: str | None = Field(default=None, max_length=200)


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role | None = None
    display_name: str | None = Field(default=None, max_length=200)
    disabled: bool | None = None
    password: str | None = Field(default=None, min_length=1, max_length=1024)
    current_password: str | None = Field(default=None, max_length=1024)


class UserOut(BaseModel):
    id: str
    username: str
    display_name: str
    role: Role
    is_system_admin: bool
    disabled: bool
    created_at: datetime

    @classmethod
    def of(cls, member: Member) -> UserOut:
        user = member.user
        return cls(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            role=member.role,
            is_system_admin=user.is_system_admin,
            disabled=user.disabled,
            created_at=user.created_at,
        )


UserPath = Annotated[str, Path(max_length=64, description="User id, or 'me'.")]


@router.post(
    "",
    operation_id="create_user",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    responses=problem_responses(409),
)
def create_user(body: UserIn, caller: CallerDep, services: ServicesDep) -> UserOut:
    """Create a user in the caller's tenant. User names are unique per tenant, so another
    tenant's user of the same name neither blocks this one nor shows: `409` only when this
    tenant already has a member of that name. It signs in naming this tenant (`tenant`,
    `X-Tenant`); without one, a login is for the default tenant."""
    member = services.users.create(
        caller, body.username, body.password, body.role, body.display_name
    )
    return UserOut.of(member)


@router.get("", operation_id="list_users", response_model=list[UserOut])
def list_users(
    request: Request,
    response: Response,
    caller: CallerDep,
    services: ServicesDep,
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
) -> list[UserOut]:
    page = services.users.list(caller, limit, offset)
    set_page_headers(request, response, page)
    return [UserOut.of(m) for m in page.items]


@router.get(
    "/{user_id}", operation_id="get_user", response_model=UserOut, responses=problem_responses(404)
)
def get_user(user_id: UserPath, caller: CallerDep, services: ServicesDep) -> UserOut:
    return UserOut.of(services.users.get(caller, user_id))


@router.patch(
    "/{user_id}",
    operation_id="update_user",
    response_model=UserOut,
    responses=problem_responses(404, 409),
)
def update_user(
    user_id: UserPath, body: UserPatch, caller: CallerDep, services: ServicesDep
) -> UserOut:
    member = services.users.update(
        caller,
        user_id,
        role=body.role,
        display_name=body.display_name,
        disabled=body.disabled,
        password=body.password,
        current_password=body.current_password,
    )
    return UserOut.of(member)


@router.delete(
    "/{user_id}",
    operation_id="delete_user",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404, 409),
)
def delete_user(user_id: UserPath, caller: CallerDep, services: ServicesDep) -> None:
    services.users.remove(caller, user_id)
