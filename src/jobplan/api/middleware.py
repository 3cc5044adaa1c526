"""ASGI middleware: request ids and access log, request body size cap, NUL refusal, the audit
scope of each request, HTTP metrics."""

from __future__ import annotations

import json
import re
import time
import uuid
from functools import partial
from typing import Any

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jobplan.api.errors import error_answer
from jobplan.errors import JobplanError
from jobplan.logging import get_logger
from jobplan.metrics import UNMATCHED_ROUTE, Metrics
from jobplan.service import audit

__all__ = [
    "AuditScopeMiddleware",
    "BodySizeLimit",
    "HttpMetrics",
    "RejectNul",
    "RequestContext",
    "request_id_of",
    "route_template",
]


class _TooLarge(Exception):
    pass


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


class BodySizeLimit:
    """Refuse request bodies over ``max_bytes`` with 413 problem details.

    Checks ``Content-Length`` up front and counts streamed chunks, so a chunked upload
    cannot get around the cap. Paths matching ``upload_paths`` get ``upload_max_bytes``.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        *,
        upload_paths: re.Pattern[str] | None = None,
        upload_max_bytes: int = 0,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_paths = upload_paths
        self.upload_max_bytes = upload_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        uploading = self.upload_paths is not None and self.upload_paths.match(scope.get("path", ""))
        limit = max(self.upload_max_bytes, self.max_bytes) if uploading else self.max_bytes
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await self._refuse(send, limit)
                return
        if uploading:
            # bundle uploads are streamed (spooled to disk by the handler), never buffered
            # here: only counted, whether or not they announce a length
            await self._counted(scope, receive, send, limit)
            return
        if not any(name == b"content-length" for name, _ in scope.get("headers", [])):
            # A body without a length (chunked): read it here, so going over the cap is a
            # 413 rather than a parse error deep in the framework.
            body, too_large = await self._read_all(receive)
            if too_large:
                await self._refuse(send, limit)
                return
            await self.app(scope, _replay(body, receive), send)
            return
        await self._counted(scope, receive, send, limit)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(send, limit)

    async def _read_all(self, receive: Receive) -> tuple[bytes, bool]:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks), False
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return b"", True
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), False

    async def _refuse(self, send: Send, limit: int) -> None:
        await send_problem(
            send, 413, "Content Too Large", f"request body exceeds the limit of {limit} bytes"
        )


# an escaped NUL in JSON text (\u0000) not itself escaped by a preceding backslash
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)
_TEXT_TYPES = (b"application/json", b"application/x-www-form-urlencoded")


class RejectNul:
    """Refuse NUL characters in the path, the query and JSON or form bodies (422).

    PostgreSQL cannot store them and SQLite would; refusing them at the edge keeps both
    databases alike. Binary uploads (multipart) are not inspected.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path = scope.get("raw_path") or scope.get("path", "").encode()
        if b"%00" in raw_path or b"\x00" in raw_path or b"%00" in scope.get("query_string", b""):
            await _nul_refused(send, "the URL")
            return
        content_type = dict(scope.get("headers", [])).get(b"content-type", b"")
        if not content_type.startswith(_TEXT_TYPES):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if b"\x00" in body or b"%00" in body or _JSON_NUL.search(body):
            await _nul_refused(send, "the request body")
            return
        await self.app(scope, _replay(body, receive), send)


async def _nul_refused(send: Send, where: str) -> None:
    await send_problem(
        send,
        422,
        "Unprocessable Entity",
        f"{where} contains a NUL character (U+0000), which is not accepted",
    )


async def send_problem(send: Send, status: int, title: str, detail: str) -> None:
    """Answer with RFC 9457 problem details straight from ASGI middleware."""
    body = json.dumps(
        {"type": "about:blank", "title": title, "status": status, "detail": detail}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Native routes answer invalid input 422; the dialects and the console answer 400.
_NATIVE_PREFIXES = ("/api/v1/", "/oauth/")


class AuditScopeMiddleware:
    """Opens the request's :class:`~jobplan.service.audit.AuditScope` for every HTTP adapter
    (native API, dialects, console): the client's address and user agent, and how an error
    reads as the status the client gets. Service operations and sign-ins record themselves
    through it; this middleware records only what no service saw: a state-changing request
    by an authenticated caller that was refused (or failed) before any operation began, as
    the action ``request`` - written before the response starts, so a client that has its
    answer can read the record."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        method: str = scope.get("method", "GET")
        client = scope.get("client")
        invalid_status = 422 if path.startswith(_NATIVE_PREFIXES) else 400
        context = audit.AuditScope(
            source=client[0] if client else None,
            user_agent=Headers(scope=scope).get("user-agent"),
            request_id=request_id_of(scope),
            status_of=partial(_status_of, invalid_status=invalid_status),
        )

        async def unseen(status: int) -> None:
            services = getattr(scope["app"].state, "services", None)
            if services is None or status < 400:
                return
            if context.refused:
                await run_in_threadpool(services.audit.answered, context, status)
            if method in _SAFE_METHODS or context.recorded or context.caller is None:
                return
            await run_in_threadpool(services.audit.request_refused, context, method, path, status)

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                await unseen(int(message["status"]))
            await send(message)

        with audit.audit_scope(context):
            try:
                await self.app(scope, receive, sending)
            except Exception:
                await unseen(500)
                raise


def _status_of(exc: BaseException, *, invalid_status: int) -> int:
    if isinstance(exc, JobplanError):
        return error_answer(exc, invalid_status=invalid_status).status
    return 500


#: An incoming X-Request-ID is kept when it is 1 to 128 of these characters (what tracing
#: systems and proxies generate: UUIDs, hex, base64url); anything else is replaced.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
#: Where the request's id is kept in the ASGI scope, for the middlewares inside.
_REQUEST_ID_KEY = "jobplan.request_id"
_access_log = get_logger("jobplan.access")


class RequestContext:
    """Give every request an id and log one access line for it.

    The id is the caller's ``X-Request-ID`` when it is well formed, else a new one. It is bound
    to the log context (every line logged while the request is handled carries
    ``request_id``) and returned as the ``X-Request-ID`` header of every answer, errors and
    console pages included. The access line names the route template, never the raw path
    with its ids, nor the query string (it may carry secrets).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_id(scope) or uuid.uuid4().hex
        scope[_REQUEST_ID_KEY] = request_id
        header = request_id.encode()
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() != b"x-request-id"
                ]
                headers.append((b"x-request-id", header))
                message = {**message, "headers": headers}
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                client = scope.get("client")
                _access_log.info(
                    "http.request",
                    method=scope.get("method"),
                    route=route_template(scope),
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 3),
                    client=client[0] if client else None,
                )


def request_id_of(scope: Scope) -> str | None:
    """The id :class:`RequestContext` gave this request (``None`` outside it)."""
    value = scope.get(_REQUEST_ID_KEY)
    return value if isinstance(value, str) else None


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            try:
                text = value.decode("ascii")
            except UnicodeDecodeError:
                return None
            return text if _REQUEST_ID.fullmatch(text) else None
    return None


def route_template(scope: Scope) -> str:
    """The template of the route that answered (``/api/v1/plans/{plan_id}``), never the
    path itself: ids stay out of metric labels. Requests no route matched, and requests
    answered before routing (413, 422 of the NUL filter), are :data:`UNMATCHED_ROUTE`."""
    route: Any = scope.get("route")
    if route is None and "app_root_path" in scope:
        # a mounted application (static files): FastAPI does not name the Mount in the
        # scope, but the mount's application is the endpoint
        route = _mount_of(scope.get("app"), scope.get("endpoint"))
    if route is None:
        return UNMATCHED_ROUTE
    if isinstance(route, Mount):  # one label for everything under the mount
        return f"{route.path}/{{path}}"
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) else UNMATCHED_ROUTE


def _mount_of(app: Any, endpoint: Any) -> Mount | None:
    if endpoint is None:
        return None
    for route in getattr(app, "routes", ()):
        if isinstance(route, Mount) and route.app is endpoint:
            return route
    return None


class HttpMetrics:
    """Count every HTTP request and time it to the end of its response
    (``jobplan_http_requests_total``, ``jobplan_http_request_duration_seconds``), by route
    template, method and status. The outermost middleware, so refusals at the edge count
    too; the metrics are the application's services' (none before they are open)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500  # what the server error handler answers when the app raises

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            metrics = _metrics_of(scope)
            if metrics is not None:
                metrics.http_request(
                    route_template(scope), scope["method"], status, time.perf_counter() - began
                )


def _metrics_of(scope: Scope) -> Metrics | None:
    services = getattr(getattr(scope.get("app"), "state", None), "services", None)
    metrics = getattr(getattr(services, "metrics", None), "metrics", None)
    return metrics if isinstance(metrics, Metrics) else None
