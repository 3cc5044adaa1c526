"""The ``http`` executor: call a URL, or a registered service's operation, with aiohttp.

* **Target**: the job's ``url``; or, for a job naming a ``service`` (the Volt MX dialect), the
  service's base URL in the run's tenant's registry (the
  :class:`~jobplan.engine.executors.base.ServiceResolver`) plus ``"/" + operation``. An
  unregistered service, or a failed lookup, is a failed result, not an error.
* **Request**: the job's method, URL, headers and body as the runner resolved them
  (:mod:`jobplan.engine.context` puts parameter and context values in place of ``${...}``
  references before the job reaches an executor); only ``$${`` escapes are left, each sent as
  ``${``, and a reference still there fails the attempt. A text body is sent as UTF-8
  (``text/plain`` unless the job sets ``Content-Type``); an object body as JSON
  (``application/json`` unless set). The URL is sent as written, its percent-encoding kept
  (``%2F`` stays ``%2F``). Redirects are followed, at most ``max_redirects`` (10) of them. No
  cookies are kept between requests, so jobs of different tenants never share any.
* **Success**: the final response status is one of the job's ``expected_statuses``
  (:meth:`~jobplan.model.HttpJob.accepts`; ``2xx`` by default).
* **Capture**: the first ``output_limit_bytes`` of the (decompressed) body, also streamed to the
  sink; the rest is not read and the connection is dropped.
* **Timeout**: the request's ``timeout_seconds``, else the job's, else none; it covers
  connecting, sending and reading the body.
* **Failures** without a response (refused connection, unknown host, TLS errors, invalid URL,
  too many redirects, timeout) are failed results whose reason names the URL (credentials
  removed).
"""

from __future__ import annotations

import asyncio
import errno
import json
import socket
from types import TracebackType
from typing import NamedTuple, Self
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from pydantic import JsonValue

from jobplan import __version__
from jobplan.engine.executors._output import OutputCapture
from jobplan.engine.executors.base import (
    ExecutionRequest,
    ExecutionResult,
    OutputSink,
    ServiceResolver,
)
from jobplan.engine.masking import Masker
from jobplan.model import HttpJob
from jobplan.model import substitution as sub

__all__ = ["HttpExecutor"]

_CHUNK_BYTES = 64 * 1024


class HttpExecutor:
    """Runs :class:`~jobplan.model.HttpJob` attempts over one shared aiohttp session.

    Use it as an async context manager, or call :meth:`start` and :meth:`close` (both inside
    the event loop that runs the jobs). ``resolver`` looks up the base URL of jobs that name a
    ``service``; without one, every such job fails as unregistered. ``max_connections`` bounds
    concurrent connections over all jobs; ``trust_env`` makes aiohttp honour ``HTTP_PROXY``,
    ``HTTPS_PROXY``, ``NO_PROXY`` and ``~/.netrc``.
    """

    def __init__(
        self,
        *,
        resolver: ServiceResolver | None = None,
        max_redirects: int = 10,
        max_connections: int = 100,
        trust_env: bool = False,
        user_agent: str = f"jobplan/{__version__}",
    ) -> None:
        self._resolver = resolver
        self._max_redirects = max_redirects
        self._max_connections = max_connections
        self._trust_env = trust_env
        self._user_agent = user_agent
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Open the HTTP session; a no-op if it is open."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections),
                cookie_jar=aiohttp.DummyCookieJar(),
                timeout=aiohttp.ClientTimeout(total=None),
                headers={"User-Agent": self._user_agent},
                trust_env=self._trust_env,
            )

    async def close(self) -> None:
        """Close the session and its connections; a no-op if it is closed."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def execute(self, request: ExecutionRequest, sink: OutputSink) -> ExecutionResult:
        """Send the request and judge the response; see the module docstring.

        Raises :class:`RuntimeError` if the executor is not started.
        """
        job = request.job
        if not isinstance(job, HttpJob):
            raise TypeError(f"HttpExecutor cannot run {job.kind} jobs")
        if self._session is None:
            raise RuntimeError("HttpExecutor is not started: use 'async with' or call start()")
        try:
            job = _literal_job(job)
        except sub.TemplateError as exc:
            return ExecutionResult(succeeded=False, reason=str(exc))
        url = await self._target(job, request.tenant_id)
        if url.problem is not None:
            return ExecutionResult(succeeded=False, reason=url.problem)
        timeout = request.timeout_seconds
        if timeout is None and job.timeout_seconds is not None:
            timeout = float(job.timeout_seconds)
        capture = OutputCapture(
            request.output_limit_bytes, sink, keep_tail=False, masker=Masker(request.secrets)
        )
        exchange = _Exchange(self._session, job, url.value, capture, self._max_redirects)
        reason: str | None = None
        timed_out = False
        try:
            async with asyncio.timeout(timeout):
                await exchange.run()
        except TimeoutError:
            timed_out = True
            reason = f"timed out after {timeout:g}s"
        except (aiohttp.ClientError, OSError) as exc:
            reason = _describe(exc, url.value, self._max_redirects)
        capture.finish()
        status = exchange.status
        if reason is None and status is not None and not job.accepts(status):
            expected = ", ".join(str(spec) for spec in job.expected_statuses)
            reason = f"unexpected HTTP status {status} (expected {expected})"
        return ExecutionResult(
            succeeded=reason is None,
            reason=reason,
            http_status=status,
            output=capture.text(),
            output_truncated=capture.truncated,
            timed_out=timed_out,
        )

    async def _target(self, job: HttpJob, tenant_id: str) -> _Target:
        """The URL to call, or why there is none."""
        if job.url is not None:
            url = job.url
        else:
            assert job.service is not None  # the model requires url or service
            try:
                base = (
                    await self._resolver.base_url(tenant_id, job.service)
                    if self._resolver
                    else None
                )
            except Exception as exc:  # any lookup failure fails the attempt, not the engine
                return _Target("", f"cannot look up service {job.service!r}: {exc}")
            if base is None:
                return _Target(
                    "",
                    f"service {job.service!r} is not registered in this tenant's service registry",
                )
            url = base.rstrip("/") + "/" + job.operation.lstrip("/") if job.operation else base
        try:
            parts = urlsplit(url)
            valid = parts.scheme in {"http", "https"} and bool(parts.hostname)
        except ValueError:
            valid = False
        if not valid:
            return _Target("", f"invalid URL {_display(url)!r}: not an absolute http(s) URL")
        return _Target(url, None)


class _Target(NamedTuple):
    """A URL to call (``value``), or why there is none (``problem``)."""

    value: str
    problem: str | None


class _Exchange:
    """One request and its response; ``status`` is set as soon as the response starts."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        job: HttpJob,
        url: str,
        capture: OutputCapture,
        max_redirects: int,
    ) -> None:
        self._session = session
        self._job = job
        self._url = url
        self._capture = capture
        self._max_redirects = max_redirects
        self.status: int | None = None

    async def run(self) -> None:
        data, headers = _payload(self._job)
        async with self._session.request(
            self._job.method.value,
            self._url,
            headers=headers,
            data=data,
            allow_redirects=True,
            max_redirects=self._max_redirects,
        ) as response:
            self.status = response.status
            async for chunk in response.content.iter_chunked(_CHUNK_BYTES):
                self._capture.feed(chunk)
                if self._capture.truncated:
                    response.close()  # do not read (or keep the connection for) the rest
                    break


def _payload(job: HttpJob) -> tuple[bytes | None, dict[str, str]]:
    """The body to send and the headers to send with it."""
    headers = dict(job.headers)
    typed = any(name.lower() == "content-type" for name in headers)
    if job.body is None:
        return None, headers
    if isinstance(job.body, dict):
        if not typed:
            headers["Content-Type"] = "application/json"
        return json.dumps(job.body, ensure_ascii=False).encode(), headers
    if not typed:
        headers["Content-Type"] = "text/plain; charset=utf-8"
    return job.body.encode(), headers


def _unresolved(reference: sub.Reference) -> str:
    raise sub.TemplateError(
        f"{reference.text}: reference not resolved (the engine resolves references when the "
        "job starts)"
    )


def _literal(text: str) -> str:
    """A resolved value as sent: its ``$${`` escapes as ``${``."""
    return sub.render(text, _unresolved)


def _literal_json(value: JsonValue) -> JsonValue:
    if isinstance(value, str):
        return _literal(value)
    if isinstance(value, dict):
        return {key: _literal_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_literal_json(item) for item in value]
    return value


def _literal_job(job: HttpJob) -> HttpJob:
    """The job as sent (see the module docstring); raises :class:`TemplateError` for a
    reference left unresolved."""
    if not any(sub.has_references(text) for _, text in job.texts()) and not (
        job.url and sub.has_references(job.url)
    ):
        return job
    body: str | dict[str, JsonValue] | None = job.body
    if isinstance(body, str):
        body = _literal(body)
    elif body is not None:
        body = {key: _literal_json(item) for key, item in body.items()}
    return job.model_copy(
        update={
            "url": _literal(job.url) if job.url is not None else None,
            "headers": {name: _literal(value) for name, value in job.headers.items()},
            "body": body,
        }
    )


def _describe(exc: aiohttp.ClientError | OSError, url: str, max_redirects: int) -> str:
    """A reason for people, for a request that got no (usable) response."""
    shown = _display(url)
    if isinstance(exc, aiohttp.TooManyRedirects):
        return f"too many redirects (more than {max_redirects}): {shown}"
    if isinstance(exc, aiohttp.InvalidURL):
        return f"invalid URL {_display(str(exc.url))!r}: {shown}"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return f"TLS certificate not accepted ({exc.certificate_error}): {shown}"
    if isinstance(exc, aiohttp.ClientSSLError):
        return f"TLS error ({exc}): {shown}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        cause = exc.os_error
        if isinstance(cause, socket.gaierror):
            return f"cannot resolve host {exc.host!r}: {shown}"
        if isinstance(cause, ConnectionRefusedError) or cause.errno == errno.ECONNREFUSED:
            return f"connection refused: {shown}"
        return f"cannot connect ({cause.strerror or cause}): {shown}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return f"server closed the connection without a complete response: {shown}"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return f"malformed response body ({exc}): {shown}"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"bad response ({exc.message}): {shown}"
    return f"request failed ({exc or type(exc).__name__}): {shown}"


def _display(url: str) -> str:
    """``url`` without a password, fit for logs and results."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rsplit("@", 1)[1]
        user = f"{parts.username}:***@" if parts.username else "***@"
        return urlunsplit(parts._replace(netloc=user + netloc))
    except ValueError:
        return url
