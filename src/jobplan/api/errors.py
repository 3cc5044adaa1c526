"""Error translation for HTTP: every error leaves as RFC 9457 ``application/problem+json``.

This module is the one place where domain errors become HTTP statuses; routes never build
``HTTPException`` by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from jobplan import errors
from jobplan.logging import get_logger

__all__ = ["PROBLEM_JSON", "install_error_handlers", "problem_response"]

PROBLEM_JSON = "application/problem+json"
log = get_logger(__name__)

# Most specific first: the first matching class decides the status.
_STATUS_BY_ERROR: list[tuple[type[errors.JobplanError], int]] = [
    (errors.RateLimited, 429),
    (errors.LimitExceeded, 429),
    (errors.TooLarge, 413),
    (errors.AuthenticationFailed, 401),
    (errors.PermissionDenied, 403),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.InvalidInput, 422),
    (errors.StoreError, 503),
]


def problem_response(
    status: int,
    detail: str,
    *,
    field_errors: Sequence[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    """A problem-details response; ``field_errors`` lists ``{"field", "message"}`` items."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if field_errors:
        body["errors"] = list(field_errors)
    body.update(extensions)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _location(loc: Sequence[int | str]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    out = ""
    for part in parts:
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out or "body"


def validation_field_errors(exc: RequestValidationError | ValidationError) -> list[dict[str, Any]]:
    """Flatten pydantic errors into ``{"field": "jobs[0].name", "message": ...}`` items."""
    items = []
    for err in exc.errors():
        loc = err.get("loc", ())
        # pydantic puts the union member's tag in loc for discriminated unions; keep it, it helps
        items.append({"field": _location(loc), "message": str(err.get("msg", "invalid"))})
    return items


def _summary(items: list[dict[str, Any]]) -> str:
    head = "; ".join(f"{i['field']}: {i['message']}" for i in items[:5])
    more = f" (and {len(items) - 5} more)" if len(items) > 5 else ""
    return head + more


def install_error_handlers(app: FastAPI) -> None:
    """Register the translations on ``app``."""

    @app.exception_handler(errors.JobplanError)
    async def _domain_error(request: Request, exc: errors.JobplanError) -> JSONResponse:
        status = next((s for cls, s in _STATUS_BY_ERROR if isinstance(exc, cls)), 500)
        headers: dict[str, str] = {}
        field_errors = None
        if isinstance(exc, errors.RateLimited):
            headers["Retry-After"] = str(exc.retry_after)
        elif isinstance(exc, errors.AuthenticationFailed):
            headers["WWW-Authenticate"] = 'Bearer realm="jobplan", Basic realm="jobplan"'
        if isinstance(exc, errors.InvalidInput) and exc.field:
            field_errors = [{"field": exc.field, "message": exc.detail}]
        if status >= 500:
            log.error("request_failed", path=request.url.path, error=str(exc))
        return problem_response(status, exc.message, field_errors=field_errors, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _request_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        items = validation_field_errors(exc)
        return problem_response(422, _summary(items), field_errors=items)

    @app.exception_handler(ValidationError)
    async def _model_invalid(request: Request, exc: ValidationError) -> JSONResponse:
        items = validation_field_errors(exc)
        return problem_response(422, _summary(items), field_errors=items)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route for {request.method} {request.url.path}"
        return problem_response(exc.status_code, detail, headers=dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled_error", path=request.url.path, method=request.method)
        return problem_response(500, "internal error; the server log has the details")
