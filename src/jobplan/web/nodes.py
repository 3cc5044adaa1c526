"""The Nodes page (an administration tab): each node of the cluster with its state."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from jobplan.web.admin import tabs_of
from jobplan.web.render import page
from jobplan.web.routing import console_router, viewing
from jobplan.web.session import SessionDep

__all__ = ["router"]

router = console_router()
_LIMIT = 200


@router.get("/admin/nodes")
def nodes_page(request: Request, session: SessionDep) -> HTMLResponse:
    viewing(request, session)
    nodes = session.services.nodes
    found = nodes.list(session.caller, limit=_LIMIT)
    return page(
        request,
        "admin_nodes.html",
        session,
        title="Nodes",
        tabs=tabs_of(session),
        items=found.items,
        total=found.total,
        stale_after=nodes.stale_after_seconds,
    )
