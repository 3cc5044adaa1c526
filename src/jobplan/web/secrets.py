"""The Secrets page (an administration tab): the tenant's secrets by name, when and by whom
they were set; operators set, replace and delete them. No page ever shows a value: the form's
field is a password input, and the page answering it holds only the name."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from jobplan.service.caller import Permission
from jobplan.service.secrets import MAX_VALUE_BYTES
from jobplan.web.admin import tabs_of
from jobplan.web.render import page
from jobplan.web.routing import acting, blocking, console_router, viewing
from jobplan.web.session import SessionDep

__all__ = ["router"]

router = console_router()
_LIMIT = 500


def _secrets_page(
    request: Request,
    session: SessionDep,
    *,
    stored: str | None = None,
    created: bool = False,
    status_code: int = 200,
) -> HTMLResponse:
    caller = session.caller
    found = session.services.secrets.list(caller, limit=_LIMIT)
    return page(
        request,
        "admin_secrets.html",
        session,
        status_code=status_code,
        title="Secrets",
        tabs=tabs_of(session),
        items=found.items,
        total=found.total,
        stored=stored,
        created=created,
        can_write=caller.can(Permission.SECRETS_WRITE),
        max_bytes=MAX_VALUE_BYTES,
    )


@router.get("/admin/secrets")
def secrets_page(request: Request, session: SessionDep) -> HTMLResponse:
    viewing(request, session)
    return _secrets_page(request, session)


@router.post("/admin/secrets")
async def set_secret(
    request: Request,
    session: SessionDep,
    name: Annotated[str, Form(max_length=200)],
    value: Annotated[str, Form(max_length=4 * MAX_VALUE_BYTES)] = "",
) -> HTMLResponse:
    """Create or replace a secret; the page answering names it, never its value."""
    await acting(request, session)
    info, created = await blocking(
        session.services.secrets.set, session.caller, name.strip(), value
    )
    return await blocking(
        _secrets_page,
        request,
        session,
        stored=info.name,
        created=created,
        status_code=201 if created else 200,
    )


@router.post("/admin/secrets/{name}/delete")
async def delete_secret(request: Request, session: SessionDep, name: str) -> Response:
    await acting(request, session)
    await blocking(session.services.secrets.delete, session.caller, name)
    return RedirectResponse("/admin/secrets", status_code=303)
