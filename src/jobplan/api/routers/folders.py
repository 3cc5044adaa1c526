"""``/api/v1/folders``: the path namespace of plans."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from jobplan.api.deps import CallerDep, LimitQuery, OffsetQuery, ServicesDep, set_page_headers
from jobplan.api.openapi import AUTHENTICATED, problem_responses
from jobplan.service.records import FolderRecord

router = APIRouter(
    prefix="/api/v1/folders", tags=["folders"], responses=problem_responses(*AUTHENTICATED)
)


class FolderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = Field(min_length=1, max_length=512, examples=["finance/eod"])
    description: str = Field(default="", max_length=2000)


class FolderOut(BaseModel):
    id: str
    path: str
    description: str
    created_at: datetime

    @classmethod
    def of(cls, record: FolderRecord) -> FolderOut:
        return cls(
            id=record.id,
            path=record.path,
            description=record.description,
            created_at=record.created_at,
        )


FolderPathParam = Annotated[str, Path(max_length=64, description="Folder id.")]


@router.post(
    "",
    operation_id="create_folder",
    status_code=status.HTTP_201_CREATED,
    response_model=FolderOut,
    responses=problem_responses(404, 409),
)
def create_folder(body: FolderIn, caller: CallerDep, services: ServicesDep) -> FolderOut:
    return FolderOut.of(services.folders.create(caller, body.path, body.description))


@router.get("", operation_id="list_folders", response_model=list[FolderOut])
def list_folders(
    request: Request,
    response: Response,
    caller: CallerDep,
    services: ServicesDep,
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
) -> list[FolderOut]:
    page = services.folders.list(caller, limit, offset)
    set_page_headers(request, response, page)
    return [FolderOut.of(f) for f in page.items]


@router.get(
    "/{folder_id}",
    operation_id="get_folder",
    response_model=FolderOut,
    responses=problem_responses(404),
)
def get_folder(folder_id: FolderPathParam, caller: CallerDep, services: ServicesDep) -> FolderOut:
    return FolderOut.of(services.folders.get(caller, folder_id))


@router.delete(
    "/{folder_id}",
    operation_id="delete_folder",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404, 409),
)
def delete_folder(folder_id: FolderPathParam, caller: CallerDep, services: ServicesDep) -> None:
    services.folders.delete(caller, folder_id)
