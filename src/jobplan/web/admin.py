"""Administration pages: API keys, users and roles, the service registry, notifications."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from jobplan.errors import InvalidInput
from jobplan.model import Role
from jobplan.service.caller import Permission
from jobplan.service.notifications import NOTIFICATION_STATUSES
from jobplan.service.transfers import TransferKind
from jobplan.web.render import page
from jobplan.web.routing import acting, blocking, console_router, viewing
from jobplan.web.session import SessionDep

__all__ = ["router"]

router = console_router()
_PAGE_SIZE = 50
_SCOPES = [permission.value for permission in Permission]


def tabs_of(session: SessionDep) -> list[tuple[str, str]]:
    """The administration tabs the signed-in user may open."""
    caller = session.caller
    tabs = [("/admin/keys", "API keys")]
    if caller.can(Permission.USERS_READ):
        tabs.append(("/admin/users", "Users"))
    tabs.append(("/admin/services", "Services"))
    tabs.append(("/admin/calendars", "Calendars"))
    if caller.can(Permission.RUNS_READ):
        tabs.append(("/admin/notifications", "Notifications"))
    if caller.can(Permission.USERS_READ):
        tabs.append(("/admin/tenant", "Tenant settings"))
    if caller.can(Permission.NODES_READ):
        tabs.append(("/admin/nodes", "Nodes"))
    if caller.can(Permission.AGENTS_READ):
        tabs.append(("/admin/agents", "Agents"))
    if caller.can(Permission.SECRETS_READ):
        tabs.append(("/admin/secrets", "Secrets"))
    return tabs


# --- API keys ------------------------------------------------------------------------------


def _keys_page(
    request: Request, session: SessionDep, *, created: str | None = None, status_code: int = 200
) -> HTMLResponse:
    caller = session.caller
    every = caller.can(Permission.USERS_READ)
    keys = session.services.api_keys.list(caller, limit=200, all_users=every)
    return page(
        request,
        "admin_keys.html",
        session,
        status_code=status_code,
        title="API keys",
        tabs=tabs_of(session),
        keys=keys.items,
        total=keys.total,
        created=created,
        scopes=_SCOPES,
        can_write=caller.can(Permission.KEYS_WRITE),
        now=datetime.now(UTC),
    )


@router.get("/admin")
def admin_home() -> Response:
    return RedirectResponse("/admin/keys", status_code=303)


@router.get("/admin/keys")
def keys_page(request: Request, session: SessionDep) -> HTMLResponse:
    viewing(request, session)
    return _keys_page(request, session)


@router.post("/admin/keys")
async def create_key(
    request: Request,
    session: SessionDep,
    name: Annotated[str, Form(max_length=200)],
    expires_days: Annotated[str, Form(max_length=10)] = "",
) -> HTMLResponse:
    """Create a key; the page shows its secret this once."""
    await acting(request, session)
    form = await request.form()
    scopes = [value for value in form.getlist("scope") if isinstance(value, str)]
    expires_at = None
    if expires_days.strip():
        if not expires_days.strip().isdigit() or not 1 <= int(expires_days) <= 3650:
            raise InvalidInput(
                "must be a whole number of days from 1 to 3650", field="expires_days"
            )
        expires_at = datetime.now(UTC) + timedelta(days=int(expires_days))
    new = await blocking(
        session.services.api_keys.create,
        session.caller,
        name,
        expires_at=expires_at,
        scopes=scopes or None,
    )
    return await blocking(_keys_page, request, session, created=new.key, status_code=201)


@router.post("/admin/keys/{key_id}/revoke")
async def revoke_key(request: Request, session: SessionDep, key_id: str) -> Response:
    await acting(request, session)
    await blocking(session.services.api_keys.revoke, session.caller, key_id)
    return RedirectResponse("/admin/keys", status_code=303)


# --- users ---------------------------------------------------------------------------------


@router.get("/admin/users")
def users_page(
    request: Request,
    session: SessionDep,
    page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    viewing(request, session)
    members = session.services.users.list(
        session.caller, limit=_PAGE_SIZE, offset=(page_number - 1) * _PAGE_SIZE
    )
    return page(
        request,
        "admin_users.html",
        session,
        title="Users",
        tabs=tabs_of(session),
        members=members.items,
        total=members.total,
        page_number=page_number,
        pages=max(1, math.ceil(members.total / _PAGE_SIZE)),
        roles=[role.value for role in Role],
        can_write=session.caller.can(Permission.USERS_WRITE),
    )


@router.post("/admin/users")
async def create_user(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1024)],
    role: Annotated[Role, Form()],
) -> Response:
    await acting(request, session)
    await blocking(session.services.users.create, session.caller, username, password, role)
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/{user_id}")
async def update_user(
    request: Request,
    session: SessionDep,
    user_id: str,
    role: Annotated[Role | None, Form()] = None,
    disabled: Annotated[str, Form(pattern="^(|true|false)$")] = "",
) -> Response:
    """Change a member's role, or disable or enable the account."""
    await acting(request, session)
    await blocking(
        session.services.users.update,
        session.caller,
        user_id,
        role=role,
        disabled={"true": True, "false": False}.get(disabled),
    )
    return RedirectResponse("/admin/users", status_code=303)


# --- services ------------------------------------------------------------------------------


@router.get("/admin/services")
def services_page(request: Request, session: SessionDep) -> HTMLResponse:
    viewing(request, session)
    entries = session.services.registry.list(session.caller, limit=200)
    return page(
        request,
        "admin_services.html",
        session,
        title="Service registry",
        tabs=tabs_of(session),
        entries=entries.items,
        total=entries.total,
        can_write=session.caller.can(Permission.PLANS_WRITE),
    )


@router.post("/admin/services")
async def register_service(
    request: Request,
    session: SessionDep,
    name: Annotated[str, Form(max_length=200)],
    base_url: Annotated[str, Form(max_length=2000)],
    description: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    await acting(request, session)
    await blocking(session.services.registry.register, session.caller, name, base_url, description)
    return RedirectResponse("/admin/services", status_code=303)


@router.post("/admin/services/{name}/remove")
async def remove_service(request: Request, session: SessionDep, name: str) -> Response:
    await acting(request, session)
    await blocking(session.services.registry.remove, session.caller, name)
    return RedirectResponse("/admin/services", status_code=303)


# --- notifications -------------------------------------------------------------------------


@router.get("/admin/notifications")
def notifications_page(
    request: Request,
    session: SessionDep,
    status: Annotated[str, Query(max_length=20)] = "",
    page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    viewing(request, session)
    found = session.services.notifications.list(
        session.caller,
        status=status or None,
        limit=_PAGE_SIZE,
        offset=(page_number - 1) * _PAGE_SIZE,
    )
    return page(
        request,
        "admin_notifications.html",
        session,
        title="Notifications",
        tabs=tabs_of(session),
        items=found.items,
        total=found.total,
        status=status,
        statuses=NOTIFICATION_STATUSES,
        page_number=page_number,
        pages=max(1, math.ceil(found.total / _PAGE_SIZE)),
    )


# --- tenant settings -----------------------------------------------------------------------


def _tenant_page(
    request: Request, session: SessionDep, text: str | None = None, status_code: int = 200
) -> HTMLResponse:
    tenant = session.services.tenants.current(session.caller)
    limits = session.services.transfers.tenant_limits
    return page(
        request,
        "admin_tenant.html",
        session,
        status_code=status_code,
        title="Tenant settings",
        tabs=tabs_of(session),
        tenant=tenant,
        text=text if text is not None else json.dumps(tenant.settings, indent=2, sort_keys=True),
        export_limits=limits(session.caller, TransferKind.EXPORT),
        import_limits=limits(session.caller, TransferKind.IMPORT),
        can_write=session.caller.can(Permission.TENANTS_ADMIN),
    )


@router.get("/admin/tenant")
def tenant_page(request: Request, session: SessionDep) -> HTMLResponse:
    viewing(request, session)
    return _tenant_page(request, session)


@router.post("/admin/tenant")
async def update_tenant(
    request: Request,
    session: SessionDep,
    settings: Annotated[str, Form(max_length=70_000)],
) -> Response:
    """Replace the tenant's settings with a JSON object (system administrators)."""
    await acting(request, session)
    try:
        value = json.loads(settings)
    except ValueError as exc:
        raise InvalidInput(f"is not JSON: {exc}", field="settings") from None
    if not isinstance(value, dict):
        raise InvalidInput("must be a JSON object", field="settings")
    await blocking(
        session.services.tenants.update_settings, session.caller, session.caller.tenant_id, value
    )
    return RedirectResponse("/admin/tenant", status_code=303)
