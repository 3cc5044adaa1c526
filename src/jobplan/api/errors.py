"""Error translation for HTTP: every error leaves as RFC 9457 ``application/problem+json``.

This module is the one place where domain errors become HTTP statuses; routes never build
``HTTPException`` by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from jobplan import errors
from jobplan.logging import get_logger
from jobplan.service import audit

__all__ = [
    "ERROR_TABLE",
    "PROBLEM_JSON",
    "ErrorAnswer",
    "error_answer",
    "install_error_handlers",
    "problem_response",
]

PROBLEM_JSON = "application/problem+json"
log = get_logger(__name__)

#: The one translation of domain errors for every HTTP adapter (the native API, the dialects,
#: the console): most specific first, the first matching class decides. Each adapter renders
#: the :class:`ErrorAnswer` in its own shape; none keeps a table of its own.
ERROR_TABLE: tuple[tuple[type[errors.JobplanError], int], ...] = (
    (errors.RateLimited, 429),
    (errors.LimitExceeded, 429),
    (errors.TooLarge, 413),
    (errors.AuthenticationFailed, 401),
    (errors.PermissionDenied, 403),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.InvalidInput, 422),
    (errors.StoreError, 503),
)
#: The console's name for the table until it calls :func:`error_answer` (web/render.py).
_STATUS_BY_ERROR = ERROR_TABLE
#: Status words for adapters whose errors carry a code (Spark's ``error.code``).
_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    422: "UNPROCESSABLE_ENTITY",
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}


@dataclass(frozen=True, slots=True)
class ErrorAnswer:
    """How an adapter answers a domain error: status, code word, message and the headers
    the status calls for (``Retry-After`` for throttling). Renderers add their own
    ``WWW-Authenticate`` challenge to 401s."""

    status: int
    code: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)


def error_answer(exc: errors.JobplanError, *, invalid_status: int = 422) -> ErrorAnswer:
    """``exc`` as :data:`ERROR_TABLE` answers it. ``invalid_status`` is the status of
    invalid input: 422 natively, 400 in the dialects (their products answer 400)."""
    status = next((s for cls, s in ERROR_TABLE if isinstance(exc, cls)), 500)
    if status == 422:
        status = invalid_status
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, errors.RateLimited) else {}
    return ErrorAnswer(status, _CODES.get(status, "ERROR"), exc.message, headers)


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
    # FastAPI puts "body" before the fields of a request body; a field may itself be called
    # "body" (an HTTP job's), so only the first is dropped
    parts = [str(p) for p in (loc[1:] if loc and loc[0] == "body" else loc)]
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
        answer = error_answer(exc)
        headers = dict(answer.headers)
        field_errors = None
        if answer.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="jobplan", Basic realm="jobplan"'
        if isinstance(exc, errors.InvalidInput) and exc.field:
            field_errors = [{"field": exc.field, "message": exc.detail}]
        if answer.status >= 500:
            log.error("request_failed", path=request.url.path, error=str(exc))
        return problem_response(
            answer.status, answer.message, field_errors=field_errors, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def _request_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        items = validation_field_errors(exc)
        audit.note_refusal(_summary(items))
        return problem_response(422, _summary(items), field_errors=items)

    @app.exception_handler(ValidationError)
    async def _model_invalid(request: Request, exc: ValidationError) -> JSONResponse:
        items = validation_field_errors(exc)
        audit.note_refusal(_summary(items))
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
