"""``/api/v1/agents``: the registry of remote agents. An agent's key is returned once, when
it is registered; revoking (``DELETE``) keeps the record, as for API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from jobplan.api.deps import CallerDep, LimitQuery, OffsetQuery, ServicesDep, set_page_headers
from jobplan.api.openapi import AUTHENTICATED, problem_responses
from jobplan.service.agents import MAX_LABELS, AgentStatus

router = APIRouter(
    prefix="/api/v1/agents", tags=["agents"], responses=problem_responses(*AUTHENTICATED)
)

_GRAMMAR = "1-100 letters, digits, '_', '.' and '-'"


class AgentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=200, description=f"Unique in the tenant: {_GRAMMAR}.")
    labels: list[Annotated[str, Field(max_length=200)]] = Field(
        default_factory=list,
        max_length=MAX_LABELS,
        description=f"What jobs may route by (`agent: label:linux`): {_GRAMMAR} each.",
        examples=[["linux", "eu"]],
    )


class AgentOut(BaseModel):
    id: str
    name: str
    labels: list[str]
    state: Literal["online", "offline", "revoked"] = Field(
        description="online: a heartbeat within the lease (JOBPLAN_LEASE_SECONDS)."
    )
    host: str | None
    version: str | None
    connected_since: datetime | None
    last_heartbeat: datetime | None
    slots: int | None
    running_job_runs: int
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, status: AgentStatus) -> AgentOut:
        record = status.record
        return cls(
            id=record.id,
            name=record.name,
            labels=record.labels,
            state=status.state,
            host=record.host,
            version=record.version,
            connected_since=record.connected_since,
            last_heartbeat=record.last_heartbeat,
            slots=record.slots,
            running_job_runs=status.running_job_runs,
            created_at=record.created_at,
            revoked_at=record.revoked_at,
        )


class NewAgentOut(AgentOut):
    key: str = Field(
        description="The agent's key (jpa_...). Shown only now: give it to `jobplan agent --key`."
    )


AgentRef = Annotated[str, Path(max_length=200, description="The agent's name or id.")]


@router.post(
    "",
    operation_id="create_agent",
    status_code=status.HTTP_201_CREATED,
    response_model=NewAgentOut,
    responses=problem_responses(409),
)
def create_agent(body: AgentIn, caller: CallerDep, services: ServicesDep) -> NewAgentOut:
    """Register an agent (admins: `agents:write`). The answer holds its key, once."""
    created = services.agents.register(caller, body.name, body.labels)
    return NewAgentOut(**AgentOut.of(created.status).model_dump(), key=created.key)


@router.get("", operation_id="list_agents", response_model=list[AgentOut])
def list_agents(
    request: Request,
    response: Response,
    caller: CallerDep,
    services: ServicesDep,
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
    state: Annotated[
        Literal["online", "offline", "revoked"] | None,
        Query(description="Only the agents in this state."),
    ] = None,
) -> list[AgentOut]:
    """The tenant's agents by name (`agents:read`)."""
    page = services.agents.list(caller, limit, offset, state=state)
    set_page_headers(request, response, page)
    return [AgentOut.of(a) for a in page.items]


@router.get(
    "/{ref}", operation_id="get_agent", response_model=AgentOut, responses=problem_responses(404)
)
def get_agent(ref: AgentRef, caller: CallerDep, services: ServicesDep) -> AgentOut:
    return AgentOut.of(services.agents.get(caller, ref))


@router.delete(
    "/{ref}", operation_id="revoke_agent", response_model=AgentOut, responses=problem_responses(404)
)
def revoke_agent(ref: AgentRef, caller: CallerDep, services: ServicesDep) -> AgentOut:
    """Revoke an agent: its key stops working at once. The record stays, for audit."""
    return AgentOut.of(services.agents.revoke(caller, ref))
