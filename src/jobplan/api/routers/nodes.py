"""``/api/v1/nodes``: the nodes of the cluster and their state (cluster-wide, ``nodes:read``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from jobplan.api.deps import CallerDep, LimitQuery, OffsetQuery, ServicesDep, set_page_headers
from jobplan.api.openapi import AUTHENTICATED, problem_responses
from jobplan.service.nodes import NodeState, NodeView

router = APIRouter(
    prefix="/api/v1/nodes", tags=["nodes"], responses=problem_responses(*AUTHENTICATED)
)


class NodeOut(BaseModel):
    id: str
    name: str = Field(description="JOBPLAN_NODE_NAME, or host:pid.")
    host: str | None = Field(description="Host name (null for nodes of older versions).")
    pid: int | None = Field(description="Process id on its host.")
    version: str | None = Field(description="jobplan version the node runs.")
    loops: list[str] = Field(description="What the node runs: the engine's loops, transfers.")
    started_at: datetime
    heartbeat_at: datetime = Field(description="Its last heartbeat.")
    stopped_at: datetime | None = Field(description="When it shut down cleanly.")
    state: NodeState = Field(
        description="`live`; `stale`: no heartbeat for longer than JOBPLAN_LEASE_SECONDS "
        "(dead or hung; other nodes take over its job runs); `stopped`: shut down cleanly."
    )

    @classmethod
    def of(cls, view: NodeView) -> NodeOut:
        node = view.node
        return cls(
            id=node.id,
            name=node.name,
            host=node.host,
            pid=node.pid,
            version=node.version,
            loops=node.loops,
            started_at=node.started_at,
            heartbeat_at=node.heartbeat_at,
            stopped_at=node.stopped_at,
            state=view.state,
        )


@router.get("", operation_id="list_nodes", response_model=list[NodeOut])
def list_nodes(
    request: Request,
    response: Response,
    caller: CallerDep,
    services: ServicesDep,
    state: Annotated[NodeState | None, Query(description="Only nodes in this state.")] = None,
    limit: LimitQuery = 100,
    offset: OffsetQuery = 0,
) -> list[NodeOut]:
    """The nodes (each `jobplan serve`), the most recently started first (forgotten a week
    after their last heartbeat). Needs `nodes:read` (supervisors and admins)."""
    page = services.nodes.list(caller, state=state, limit=limit, offset=offset)
    set_page_headers(request, response, page)
    return [NodeOut.of(view) for view in page.items]
