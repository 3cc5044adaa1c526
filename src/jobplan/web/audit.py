"""The audit log page: who did what, filtered, with what each change changed."""

from __future__ import annotations

import json
import math
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request
from fastapi.responses import HTMLResponse

from jobplan.service.audit import AuditQuery
from jobplan.web.render import page
from jobplan.web.routing import console_router, viewing
from jobplan.web.session import SessionDep

__all__ = ["router"]

router = console_router()
_PAGE_SIZE = 50
_OUTCOMES = ("done", "refused", "failed")


def _shown(value: Any) -> str:
    """A changed value as the page shows it: JSON, so strings, numbers and lists read apart."""
    return json.dumps(value, ensure_ascii=False)


@router.get("/audit")
def audit_page(
    request: Request,
    session: SessionDep,
    actor: Annotated[str, Query(max_length=200)] = "",
    action: Annotated[str, Query(max_length=64)] = "",
    target: Annotated[str, Query(max_length=700)] = "",
    outcome: Annotated[str, Query(max_length=8)] = "",
    page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """Supervisors and admins: the tenant's records, newest first."""
    viewing(request, session)
    query = AuditQuery(
        actor=actor.strip() or None,
        action=action.strip() or None,
        target=target.strip() or None,
        outcome=outcome or None,
    )
    found = session.services.audit.list(
        session.caller, query, limit=_PAGE_SIZE, offset=(page_number - 1) * _PAGE_SIZE
    )
    filters = {"actor": actor, "action": action, "target": target, "outcome": outcome}
    return page(
        request,
        "audit.html",
        session,
        title="Audit log",
        items=found.items,
        total=found.total,
        filters=filters,
        query=urlencode({k: v for k, v in filters.items() if v}),
        outcomes=_OUTCOMES,
        shown=_shown,
        page_number=page_number,
        pages=max(1, math.ceil(found.total / _PAGE_SIZE)),
    )
