"""``/api/v1/plans``: plans, their immutable versions, and plans as code (``apply``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, status
from pydantic import BaseModel, Field

from jobplan.api.deps import CallerDep, LimitQuery, OffsetQuery, ServicesDep, set_page_headers
from jobplan.api.openapi import AUTHENTICATED, problem_responses
from jobplan.model import PlanDocument
from jobplan.service.plans import ApplyResult, PlanView
from jobplan.service.records import PlanRecord, PlanVersionRecord

router = APIRouter(
    prefix="/api/v1/plans", tags=["plans"], responses=problem_responses(*AUTHENTICATED)
)

PlanId = Annotated[str, Path(max_length=64, description="Plan id.")]
Comment = Annotated[str, Query(max_length=2000, description="Why this version was made.")]


class PlanSummary(BaseModel):
    id: str
    name: str
    folder: str
    path: str
    version: str | None
    version_id: str | None
    enabled: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, plan: PlanRecord) -> PlanSummary:
        return cls(
            id=plan.id,
            name=plan.name,
            folder=plan.folder,
            path=plan.path,
            version=plan.current_version,
            version_id=plan.current_version_id,
            enabled=plan.enabled,
            created_at=plan.created_at,
            updated_at=plan.updated_at,
        )


class PlanOut(PlanSummary):
    document: dict[str, Any]

    @classmethod
    def of_view(cls, view: PlanView) -> PlanOut:
        summary = PlanSummary.of(view.plan).model_dump()
        summary.update(version=view.version.version, version_id=view.version.id)
        return cls(**summary, document=view.document.model_dump(mode="json"))


class ApplyOut(BaseModel):
    created: bool
    changed: bool
    changes: list[str]
    plan: PlanOut
    warnings: list[str] = Field(
        default_factory=list,
        description="What may not work as meant, though the plan was stored: e.g. a job "
        "naming an agent that is not registered.",
    )

    @classmethod
    def of(cls, result: ApplyResult, warnings: Sequence[str] = ()) -> ApplyOut:
        return cls(
            created=result.created,
            changed=result.changed,
            changes=result.changes,
            plan=PlanOut.of_view(result.view),
            warnings=list(warnings),
        )


class VersionSummary(BaseModel):
    id: str
    plan_id: str
    version: str
    comment: str
    created_by: str
    created_at: datetime

    @classmethod
    def of(cls, record: PlanVersionRecord) -> VersionSummary:
        return cls(
            id=record.id,
            plan_id=record.plan_id,
            version=record.version,
            comment=record.comment,
            created_by=record.created_by,
            created_at=record.created_at,
        )


class VersionOut(VersionSummary):
    document: dict[str, Any]


@router.post(
    "",
    operation_id="create_plan",
    status_code=status.HTTP_201_CREATED,
    response_model=PlanOut,
    responses=problem_responses(404, 409),
)
def create_plan(
    document: PlanDocument, caller: CallerDep, services: ServicesDep, comment: Comment = ""
) -> PlanOut:
    """Create a plan; its first version is ``1.0.0`` unless the document names one."""
    return PlanOut.of_view(services.plans.create(caller, document, comment))


@router.post(
    "/apply",
    operation_id="apply_plan",
    response_model=ApplyOut,
    responses=problem_responses(404, 409),
)
def apply_plan(
    document: PlanDocument, caller: CallerDep, services: ServicesDep, comment: Comment = ""
) -> ApplyOut:
    """Create the plan named by the document, or store it as a new version if it changed."""
    result = services.plans.apply(caller, document, comment)
    return ApplyOut.of(result, services.agents.plan_warnings(caller, document))


@router.get(
    "",
    operation_id="list_plans",
    response_model=list[PlanSummary],
    responses=problem_responses(404),
)
def list_plans(
    request: Request,
    response: Response,
    caller: CallerDep,
    services: ServicesDep,
    folder: Annotated[str | None, Query(max_length=512, description="Only this folder.")] = None,
    recursive: Annotated[bool, Query(description="Include folders below `folder`.")] = False,
    name: Annotated[str | None, Query(max_length=100, description="Exact plan name.")] = None,
    q: Annotated[str | None, Query(max_length=100, description="Name contains.")] = None,
    enabled: bool | None = None,
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
) -> list[PlanSummary]:
    page = services.plans.list(
        caller,
        folder=folder,
        recursive=recursive,
        name=name,
        name_contains=q,
        enabled=enabled,
        limit=limit,
        offset=offset,
    )
    set_page_headers(request, response, page)
    return [PlanSummary.of(p) for p in page.items]


@router.get(
    "/{plan_id}", operation_id="get_plan", response_model=PlanOut, responses=problem_responses(404)
)
def get_plan(plan_id: PlanId, caller: CallerDep, services: ServicesDep) -> PlanOut:
    return PlanOut.of_view(services.plans.get(caller, plan_id))


@router.put(
    "/{plan_id}",
    operation_id="update_plan",
    response_model=ApplyOut,
    responses=problem_responses(404, 409),
)
def update_plan(
    plan_id: PlanId,
    document: PlanDocument,
    caller: CallerDep,
    services: ServicesDep,
    comment: Comment = "",
) -> ApplyOut:
    """Store the document as a new version (version auto-bumped unless given)."""
    result = services.plans.update(caller, plan_id, document, comment)
    return ApplyOut.of(result, services.agents.plan_warnings(caller, document))


@router.delete(
    "/{plan_id}",
    operation_id="delete_plan",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404),
)
def delete_plan(plan_id: PlanId, caller: CallerDep, services: ServicesDep) -> None:
    services.plans.delete(caller, plan_id)


@router.post(
    "/{plan_id}/enable",
    operation_id="enable_plan",
    response_model=PlanSummary,
    responses=problem_responses(404),
)
def enable_plan(plan_id: PlanId, caller: CallerDep, services: ServicesDep) -> PlanSummary:
    return PlanSummary.of(services.plans.set_enabled(caller, plan_id, True))


@router.post(
    "/{plan_id}/disable",
    operation_id="disable_plan",
    response_model=PlanSummary,
    responses=problem_responses(404),
)
def disable_plan(plan_id: PlanId, caller: CallerDep, services: ServicesDep) -> PlanSummary:
    return PlanSummary.of(services.plans.set_enabled(caller, plan_id, False))


@router.get(
    "/{plan_id}/versions",
    operation_id="list_plan_versions",
    response_model=list[VersionSummary],
    responses=problem_responses(404),
)
def list_versions(
    plan_id: PlanId, caller: CallerDep, services: ServicesDep
) -> list[VersionSummary]:
    return [VersionSummary.of(v) for v in services.plans.versions(caller, plan_id)]


@router.get(
    "/{plan_id}/versions/{version}",
    operation_id="get_plan_version",
    response_model=VersionOut,
    responses=problem_responses(404),
)
def get_version(
    plan_id: PlanId,
    version: Annotated[str, Path(max_length=64, description="Semantic version or version id.")],
    caller: CallerDep,
    services: ServicesDep,
) -> VersionOut:
    view = services.plans.get(caller, plan_id, version)
    return VersionOut(
        **VersionSummary.of(view.version).model_dump(),
        document=view.document.model_dump(mode="json"),
    )
