"""Health endpoints: liveness (``/livez``, ``/healthz``) and readiness (``/readyz``).

All three are public: load balancers and orchestrators probe them without credentials. The
readiness report names each component and says why it fails in our own words (no host
names, SQL or exception messages), so it tells an anonymous caller nothing secret.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, Field

from jobplan import __version__
from jobplan.service.readiness import ReadinessProbe, State

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    version: str


class ComponentOut(BaseModel):
    status: State = Field(
        description="`ok`; `failing` (the node is not ready); `off`: not run on this node."
    )
    detail: str = Field(description="Why, in a short sentence.")


class ReadinessOut(BaseModel):
    status: Literal["ready", "unready"]
    version: str
    components: dict[str, ComponentOut] = Field(
        description="database, migrations, the engine's loops (scheduler, dispatcher, "
        "control, heartbeat, notifier), writer, transfers."
    )


@router.get("/healthz", operation_id="healthz", response_model=Health)
async def healthz() -> Health:
    """Answers 200 while the server is up (as ``/livez``)."""
    return Health(status="ok", version=__version__)


@router.get("/livez", operation_id="livez", response_model=Health)
async def livez() -> Health:
    """Answers 200 while the process answers HTTP; touches nothing else (not the database):
    restart the process when this fails."""
    return Health(status="ok", version=__version__)


@router.get(
    "/readyz",
    operation_id="readyz",
    response_model=ReadinessOut,
    responses={503: {"model": ReadinessOut, "description": "A component is failing."}},
)
async def readyz(request: Request, response: Response) -> ReadinessOut:
    """200 when every component of this node works; 503 naming the failing ones otherwise
    (send no traffic to the node meanwhile)."""
    response.headers["Cache-Control"] = "no-store"
    probe: ReadinessProbe | None = getattr(request.app.state, "readiness", None)
    if probe is None:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        starting = ComponentOut(status=State.FAILING, detail="the server is starting")
        return ReadinessOut(status="unready", version=__version__, components={"server": starting})
    report = await probe.check()
    if not report.ready:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return ReadinessOut(
        status="ready" if report.ready else "unready",
        version=__version__,
        components={
            name: ComponentOut(status=c.state, detail=c.detail)
            for name, c in report.components.items()
        },
    )
