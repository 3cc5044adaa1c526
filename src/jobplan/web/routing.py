"""What every console route shares: error rendering, the session checks, blocking calls."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from jobplan.errors import InvalidInput, JobplanError
from jobplan.service.audit import note_refusal
from jobplan.web.render import error_page
from jobplan.web.session import CsrfRefused, SignInRequired, WebSession, check_csrf

__all__ = ["ConsoleRoute", "acting", "blocking", "console_router", "viewing"]

P = ParamSpec("P")
T = TypeVar("T")


class ConsoleRoute(APIRoute):
    """Renders errors as pages: a missing session goes to sign-in, a refused CSRF token or
    a domain error becomes a page (or an htmx message) with the service's own words."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired as exc:
                if request.headers.get("HX-Request") == "true":
                    return Response(status_code=401, headers={"HX-Redirect": "/signin"})
                return exc.redirect()
            except CsrfRefused as exc:
                return PlainTextResponse(str(exc), status_code=403)
            except JobplanError as exc:
                return error_page(request, getattr(request.state, "web_session", None), exc)
            except RequestValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in error['loc'][1:])}: {error['msg']}"
                    for error in exc.errors()
                )
                invalid = InvalidInput(problems or "the request is not valid")
                note_refusal(invalid.message)
                return error_page(request, getattr(request.state, "web_session", None), invalid)

        return handle


def console_router() -> APIRouter:
    """A router whose routes render their errors as console pages (and stay out of the
    API's OpenAPI document)."""
    return APIRouter(route_class=ConsoleRoute, include_in_schema=False)


async def acting(request: Request, session: WebSession) -> WebSession:
    """A state-changing request: remember the session for error pages and check CSRF."""
    request.state.web_session = session
    await check_csrf(request, session)
    return session


def viewing(request: Request, session: WebSession) -> WebSession:
    """A read: remember the session so an error page still shows who is signed in."""
    request.state.web_session = session
    return session


async def blocking(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a blocking service call (database, password hashing) off the event loop."""
    return await run_in_threadpool(fn, *args, **kwargs)
