"""The Agents page (an administration tab): the tenant's remote agents, online or offline;
admins register one (its key shown once) and revoke them."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from jobplan.service.caller import Permission
from jobplan.web.admin import tabs_of
from jobplan.web.render import page
from jobplan.web.routing import acting, blocking, console_router, viewing
from jobplan.web.session import SessionDep

__all__ = ["router"]

router = console_router()
_LIMIT = 200


def _agents_page(
    request: Request,
    session: SessionDep,
    *,
    created: str | None = None,
    created_name: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    caller = session.caller
    found = session.services.agents.list(caller, limit=_LIMIT)
    return page(
        request,
        "admin_agents.html",
        session,
        status_code=status_code,
        title="Agents",
        tabs=tabs_of(session),
        items=found.items,
        total=found.total,
        created=created,
        created_name=created_name,
        can_write=caller.can(Permission.AGENTS_WRITE),
        lease=session.services.settings.lease_seconds,
    )


@router.get("/admin/agents")
def agents_page(request: Request, session: SessionDep) -> HTMLResponse:
    viewing(request, session)
    return _agents_page(request, session)


@router.post("/admin/agents")
async def create_agent(
    request: Request,
    session: SessionDep,
    name: Annotated[str, Form(max_length=200)],
    labels: Annotated[str, Form(max_length=4000)] = "",
) -> HTMLResponse:
    """Register an agent; the page shows its key this once."""
    await acting(request, session)
    wanted = [label for label in labels.replace(",", " ").split() if label]
    new = await blocking(session.services.agents.register, session.caller, name.strip(), wanted)
    return await blocking(
        _agents_page,
        request,
        session,
        created=new.key,
        created_name=new.status.record.name,
        status_code=201,
    )


@router.post("/admin/agents/{agent_id}/revoke")
async def revoke_agent(request: Request, session: SessionDep, agent_id: str) -> Response:
    await acting(request, session)
    await blocking(session.services.agents.revoke, session.caller, agent_id)
    return RedirectResponse("/admin/agents", status_code=303)
