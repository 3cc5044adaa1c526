"""Templates and the pieces every page shares: the Jinja2 environment, filters, errors."""

from __future__ import annotations

from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from jobplan import __version__
from jobplan.api.errors import error_answer
from jobplan.errors import JobplanError
from jobplan.web.session import CSRF_FIELD, CSRF_HEADER, WebSession

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "STATUS_ICONS",
    "environment",
    "error_page",
    "page",
    "status_of_error",
]

#: A glyph beside every state's name: state is never told by colour alone.
STATUS_ICONS = {
    "WAITING": "\u25cb",  # ○
    "LOCK_QUEUED": "\u29d7",  # ⧗
    "QUEUED": "\u29d7",
    "RUNNING": "\u25b6",  # ▶
    "COMPLETE": "\u2714",  # ✔
    "ERROR": "\u2716",  # ✖
    "KILLED": "\u2620",  # ☠
    "SKIPPED": "\u21b7",  # ↷
    "ON_HOLD": "\u2016",  # ‖
    "DISABLED": "\u2298",  # ⊘
    "ENDED": "\u25a0",  # ■
}


#: Console pages run only the package's own scripts: no inline script, no other host, no
#: framing. Inline ``style`` attributes (bar positions) are the one allowance.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)


def _time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> Markup:
    """A ``<time>`` element: UTC in the markup and on hover; the console script shows it in
    the browser's zone."""
    if value is None:
        return Markup('<span class="muted">\u2014</span>')
    utc = value.astimezone(UTC)
    iso = utc.isoformat().replace("+00:00", "Z")
    text = utc.strftime(fmt) + " UTC"
    return Markup('<time datetime="{}" title="{}" data-local>{}</time>').format(iso, text, text)


def _duration(start: datetime | None, end: datetime | None) -> str:
    if start is None:
        return "\u2014"
    seconds = int(((end or datetime.now(UTC)) - start).total_seconds())
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


def _status(value: str | None) -> Markup:
    if not value:
        return Markup('<span class="muted">\u2014</span>')
    icon = STATUS_ICONS.get(value, "\u2022")
    return Markup('<span class="status st-{}"><span aria-hidden="true">{}</span> {}</span>').format(
        value, icon, value
    )


environment = Environment(
    loader=PackageLoader("jobplan.web", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters["time"] = _time
environment.filters["duration"] = _duration
environment.filters["status"] = _status
environment.globals.update(
    version=__version__, CSRF_FIELD=CSRF_FIELD, CSRF_HEADER=CSRF_HEADER, icons=STATUS_ICONS
)


def page(
    request: Request,
    template: str,
    session: WebSession | None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` with what every page needs (caller, CSRF token, current path)."""
    html = environment.get_template(template).render(
        request=request,
        path=request.url.path,
        session=session,
        caller=session.caller if session else None,
        csrf_token=session.csrf_token if session else "",
        **context,
    )
    response = HTMLResponse(html, status_code=status_code, headers=headers)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def status_of_error(exc: JobplanError) -> int:
    """The HTTP status the API's one error table gives ``exc``; invalid input is 400 here, as
    in the dialects (a form, not a JSON schema, was wrong)."""
    return error_answer(exc, invalid_status=400).status


def error_page(request: Request, session: WebSession | None, exc: JobplanError) -> HTMLResponse:
    """A domain error as a page, or, for htmx requests, as a message fragment."""
    status = status_of_error(exc)
    if request.headers.get("HX-Request") == "true":
        return page(
            request,
            "_message.html",
            session,
            status_code=status,
            message=exc.message,
            kind="error",
            headers={"HX-Retarget": "#messages", "HX-Reswap": "innerHTML"},
        )
    return page(
        request,
        "error.html",
        session,
        status_code=status,
        title=HTTPStatus(status).phrase,
        message=exc.message,
    )
