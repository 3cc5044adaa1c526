"""``/api/v1/agent/*``: the agent protocol (docs/agents.md#protocol). Only agent keys open it
(``Authorization: Bearer jpa_...`` or ``X-API-Key``); a user's credentials are refused (403).
The logic lives in :mod:`jobplan.service.agent_protocol`; the messages are pinned in
:mod:`jobplan.agent.protocol`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Security
from fastapi.security import (
    APIKeyHeader,
    HTTPAuthorizationCredentials,
    HTTPBearer,
)

from jobplan.agent.protocol import (
    ClaimAnswer,
    ClaimRequest,
    HeartbeatAnswer,
    HeartbeatRequest,
    HelloAnswer,
    HelloRequest,
    OutputAnswer,
    OutputRequest,
    ResultsAnswer,
    ResultsRequest,
)
from jobplan.api.deps import ServicesDep
from jobplan.api.openapi import AUTHENTICATED, problem_responses
from jobplan.errors import AuthenticationFailed, PermissionDenied
from jobplan.service.auth import parse_agent_key
from jobplan.service.caller import AgentIdentity

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v1/agent",
    tags=["agent protocol"],
    responses=problem_responses(*AUTHENTICATED, 413),
)

_bearer = HTTPBearer(auto_error=False, description="The agent's key (jpa_...).")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="The agent's key.")
USERS_REFUSED = (
    "the agent protocol takes only an agent's key (jpa_...), never a user's credentials: "
    "register an agent with 'jobplan agents create' and give its key to 'jobplan agent'"
)


def current_agent(
    request: Request,
    services: ServicesDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    api_key: Annotated[str | None, Security(_api_key)],
) -> AgentIdentity:
    """The agent whose key the request presents (looked up afresh: a revoked agent is
    refused at once). A sync dependency: the lookup runs in the thread pool."""
    secret = api_key or (bearer.credentials if bearer is not None else None)
    if secret is None:
        if request.headers.get("authorization"):  # HTTP Basic: a user's password
            raise PermissionDenied(USERS_REFUSED)
        raise AuthenticationFailed(
            "an agent key is required: Authorization: Bearer jpa_... or X-API-Key"
        )
    if parse_agent_key(secret) is None:
        raise PermissionDenied(USERS_REFUSED)
    return services.auth.authenticate_agent(secret)


AgentDep = Annotated[AgentIdentity, Depends(current_agent)]


@router.post(
    "/hello",
    operation_id="agent_hello",
    response_model=HelloAnswer,
    responses=problem_responses((409, "The agent speaks another protocol version.")),
)
async def hello(body: HelloRequest, agent: AgentDep, services: ServicesDep) -> HelloAnswer:
    """First call of each connection: the agent's host, version and slots, and the job runs
    it still holds; the answer has the lease and heartbeat intervals and the held job runs
    that are no longer the agent's (`drop`)."""
    return await services.agent_protocol.hello(agent, body)


@router.post("/claim", operation_id="agent_claim", response_model=ClaimAnswer)
async def claim(body: ClaimRequest, agent: AgentDep, services: ServicesDep) -> ClaimAnswer:
    """Long-poll: up to `free` job runs to start (it now holds them, leased) and the stop
    requests of those it holds; waits up to `wait_seconds` while there is neither."""
    return await services.agent_protocol.claim(agent, body)


@router.post("/heartbeat", operation_id="agent_heartbeat", response_model=HeartbeatAnswer)
async def heartbeat(
    body: HeartbeatRequest, agent: AgentDep, services: ServicesDep
) -> HeartbeatAnswer:
    """Renews the leases of the job runs the agent holds; answers stop requests and the held
    job runs that are no longer its own."""
    return await services.agent_protocol.heartbeat(agent, body)


@router.post("/output", operation_id="agent_output", response_model=OutputAnswer)
async def output(body: OutputRequest, agent: AgentDep, services: ServicesDep) -> OutputAnswer:
    """Live output of running job runs, in numbered chunks: a repeated `seq` is ignored;
    output past the server's cap (JOBPLAN_OUTPUT_LIMIT_BYTES per attempt) is dropped."""
    return await services.agent_protocol.output(agent, body)


@router.post("/results", operation_id="agent_results", response_model=ResultsAnswer)
async def results(body: ResultsRequest, agent: AgentDep, services: ServicesDep) -> ResultsAnswer:
    """How attempts ended (or a file job's poll): each is `recorded`, or `refused` with the
    reason when the agent does not hold that job run at that attempt."""
    return await services.agent_protocol.results(agent, body)
