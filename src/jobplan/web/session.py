"""Console sessions: the signed cookie, its CSRF token, and the caller behind them."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response

from jobplan.errors import AuthenticationFailed
from jobplan.service.auth import ConsoleSession
from jobplan.service.caller import Caller
from jobplan.service.container import Services

__all__ = [
    "COOKIE",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "CsrfRefused",
    "SessionDep",
    "SignInRequired",
    "WebSession",
    "check_csrf",
    "clear_cookie",
    "safe_next",
    "set_cookie",
]

COOKIE = "jobplan_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"


class SignInRequired(Exception):
    """The request has no live session: the browser is sent to the sign-in page."""

    def __init__(self, next_path: str, message: str | None = None) -> None:
        super().__init__(message or "sign in to continue")
        self.next_path = next_path
        self.message = message

    def redirect(self) -> Response:
        return RedirectResponse(f"/signin?next={quote(self.next_path, safe='/')}", 303)


@dataclass(frozen=True, slots=True)
class WebSession:
    """A signed-in browser: who it is and the token its forms must carry."""

    caller: Caller
    csrf_token: str
    services: Services


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a local path only (no scheme, host or ``//``)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/plans"
    return value


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def current_session(request: Request) -> WebSession:
    """The session of the request's cookie; :class:`SignInRequired` without a live one. A sync
    dependency: the session and caller are looked up in the thread pool."""
    services = _services(request)
    cookie = request.cookies.get(COOKIE)
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not cookie:
        raise SignInRequired(path)
    try:
        session = services.auth.console_session(cookie)
    except AuthenticationFailed as exc:
        raise SignInRequired(path, exc.message) from exc
    return WebSession(session.caller, session.csrf_token, services)


SessionDep = Annotated[WebSession, Depends(current_session)]


async def check_csrf(request: Request, session: WebSession) -> None:
    """Refuse a state-changing request whose CSRF token (header from htmx, or form field) is
    not the session's. SameSite cookies stop most forgeries; this stops the rest."""
    token = request.headers.get(CSRF_HEADER)
    if token is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        token = value if isinstance(value, str) else None
    if token is None or not _equal(token, session.csrf_token):
        raise CsrfRefused()


class CsrfRefused(Exception):
    """A state-changing request without the session's CSRF token."""

    def __init__(self) -> None:
        super().__init__(
            "refused: the form has expired or did not come from this console; reload the page"
        )


def _equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def set_cookie(request: Request, response: Response, session: ConsoleSession) -> None:
    response.set_cookie(
        COOKIE,
        session.cookie,
        expires=session.expires_at,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def clear_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/")
