"""The HTTP executor against a real aiohttp server on 127.0.0.1 in the test's event loop."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from typing import Any, TypeVar

import pytest
from aiohttp import web

from jobplan.engine.executors import (
    NULL_SINK,
    ExecutionRequest,
    ExecutionResult,
    HttpExecutor,
    OutputSink,
)
from jobplan.model import CommandJob, HttpJob
from support.aioweb import serve_app

T = TypeVar("T")
BIG = 1_000_000


class RecordingSink:
    def __init__(self) -> None:
        self.chunks: list[str] = []

    def write(self, chunk: str) -> None:
        self.chunks.append(chunk)

    @property
    def text(self) -> str:
        return "".join(self.chunks)


class Registry:
    """A service registry with fixed entries."""

    def __init__(self, services: dict[str, str]) -> None:
        self.services = services

    async def base_url(self, tenant_id: str, service: str) -> str | None:
        return self.services.get(service)


# --- the test server --------------------------------------------------------------------------


async def echo(request: web.Request) -> web.Response:
    return web.json_response(
        {
            "method": request.method,
            "path": request.path,
            "headers": dict(request.headers),
            "body": await request.text(),
        }
    )


async def status(request: web.Request) -> web.Response:
    code = int(request.match_info["code"])
    return web.Response(status=code, text=None if code == 204 else f"status {code}")


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(30)
    return web.Response(text="too late")


async def big(request: web.Request) -> web.StreamResponse:
    size = int(request.query.get("size", BIG))
    response = web.StreamResponse()
    response.content_length = size
    await response.prepare(request)
    sent = 0
    while sent < size:
        piece = min(64 * 1024, size - sent)
        await response.write(b"x" * piece)
        sent += piece
    return response


async def loop_redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound("/loop")


async def redirect_once(request: web.Request) -> web.Response:
    raise web.HTTPFound("/echo")


async def bad_bytes(request: web.Request) -> web.Response:
    return web.Response(body=b"caf\xe9 \xff ok", content_type="application/octet-stream")


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_route("*", "/echo", echo)
    app.router.add_route("*", "/services/orders/{operation}", echo)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/slow", slow)
    app.router.add_get("/big", big)
    app.router.add_get("/loop", loop_redirect)
    app.router.add_get("/redirect", redirect_once)
    app.router.add_get("/bad-bytes", bad_bytes)
    return app


def serve() -> AbstractAsyncContextManager[str]:
    """Serve :func:`make_app` on a free port of 127.0.0.1; yields the base URL."""
    return serve_app(make_app())


def scenario(
    body: Callable[[str, HttpExecutor], Awaitable[T]], executor: HttpExecutor | None = None
) -> T:
    """Run ``body(base_url, executor)`` with a live server and a started executor."""

    async def main() -> T:
        async with serve() as base_url, executor or HttpExecutor() as started:
            return await body(base_url, started)

    return run(main())


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def request(timeout: float | None = 5.0, limit: int = 100_000, **job: Any) -> ExecutionRequest:
    return ExecutionRequest(
        job_run_id="run-1",
        attempt=1,
        job=HttpJob(name="call", **job),
        environment={"REGION": "emea"},
        timeout_seconds=timeout,
        output_limit_bytes=limit,
    )


def call(
    path: str, sink: OutputSink = NULL_SINK, executor: HttpExecutor | None = None, **kwargs: Any
) -> ExecutionResult:
    async def body(base_url: str, started: HttpExecutor) -> ExecutionResult:
        return await started.execute(request(url=base_url + path, **kwargs), sink)

    return scenario(body, executor)


# --- requests and responses -------------------------------------------------------------------


def test_get_with_headers() -> None:
    sink = RecordingSink()
    result = call("/echo", sink, headers={"X-Trace": "abc", "Accept": "application/json"})
    assert result.succeeded, result.reason
    assert result.reason is None
    assert result.http_status == 200
    assert result.exit_code is None
    echoed = json.loads(result.output)
    assert echoed["method"] == "GET"
    assert echoed["headers"]["X-Trace"] == "abc"
    assert echoed["headers"]["User-Agent"].startswith("jobplan/")
    assert echoed["body"] == ""
    assert sink.text == result.output


def test_post_object_body_is_sent_as_json() -> None:
    payload = {"region": "emea", "count": 3, "nested": {"ok": True, "items": [1, "two"]}}
    result = call("/echo", method="POST", body=payload)
    assert result.succeeded, result.reason
    echoed = json.loads(result.output)
    assert echoed["method"] == "POST"
    assert echoed["headers"]["Content-Type"] == "application/json"
    assert json.loads(echoed["body"]) == payload


def test_text_body_is_sent_as_is_with_the_jobs_content_type() -> None:
    result = call(
        "/echo", method="PUT", body="<a>café</a>", headers={"content-type": "application/xml"}
    )
    echoed = json.loads(result.output)
    assert echoed["method"] == "PUT"
    assert echoed["headers"]["Content-Type"] == "application/xml"
    assert echoed["body"] == "<a>café</a>"


def test_escapes_are_sent_as_literal_text() -> None:
    """The engine resolves references before a job reaches the executor; what is left are
    ``$${`` escapes, sent as ``${`` (in headers, text and JSON bodies alike)."""
    echoed = json.loads(
        call(
            "/echo",
            method="POST",
            headers={"X-Raw": "$${HOME} $HOME"},
            body={"t": "$${x}", "n": [1, "$${y}"]},
        ).output
    )
    assert echoed["headers"]["X-Raw"] == "${HOME} $HOME"
    assert json.loads(echoed["body"]) == {"t": "${x}", "n": [1, "${y}"]}
    echoed = json.loads(call("/echo", method="POST", body="cost: $${price}").output)
    assert echoed["body"] == "cost: ${price}"


def test_an_unresolved_reference_fails_without_a_request() -> None:
    result = call("/echo", headers={"X-Region": "${REGION}"})
    assert not result.succeeded and result.http_status is None
    assert result.reason == (
        "${REGION}: reference not resolved (the engine resolves references when the job starts)"
    )


def test_text_body_defaults_to_plain_text() -> None:
    echoed = json.loads(call("/echo", method="POST", body="hello").output)
    assert echoed["headers"]["Content-Type"] == "text/plain; charset=utf-8"
    assert echoed["body"] == "hello"


def test_no_content_is_success() -> None:
    result = call("/status/204")
    assert result.succeeded
    assert result.http_status == 204
    assert result.output == ""


def test_server_error_is_a_failure_with_the_status_recorded() -> None:
    result = call("/status/500")
    assert not result.succeeded
    assert result.http_status == 500
    assert result.reason == "unexpected HTTP status 500 (expected 2xx)"
    assert result.output == "status 500"
    assert not result.timed_out


def test_expected_status_classes_and_codes() -> None:
    assert call("/status/404", expected_statuses=["4xx"]).succeeded
    result = call("/status/404", expected_statuses=[200, 201])
    assert not result.succeeded
    assert result.reason == "unexpected HTTP status 404 (expected 200, 201)"


def test_redirects_are_followed() -> None:
    result = call("/redirect")
    assert result.succeeded
    assert json.loads(result.output)["path"] == "/echo"


def test_redirect_loop_is_a_failure() -> None:
    async def body(base_url: str, started: HttpExecutor) -> ExecutionResult:
        return await started.execute(request(url=base_url + "/loop"), NULL_SINK)

    result = scenario(body)
    assert not result.succeeded
    assert result.reason is not None
    assert result.reason.startswith("too many redirects (more than 10): http://127.0.0.1:")


def test_non_utf8_body_is_replaced_not_fatal() -> None:
    result = call("/bad-bytes")
    assert result.succeeded
    assert result.output == "caf\ufffd \ufffd ok"


# --- caps, timeouts and failures without a response -------------------------------------------


def test_large_body_is_capped() -> None:
    sink = RecordingSink()
    result = call("/big", sink, limit=1000)
    assert result.succeeded
    assert result.output == "x" * 1000
    assert result.output_truncated
    assert sink.text == "x" * 1000


def test_body_exactly_at_the_cap_is_not_truncated() -> None:
    result = call("/big?size=1000", limit=1000)
    assert result.output == "x" * 1000
    assert not result.output_truncated


def test_timeout_is_a_failure() -> None:
    result = call("/slow", timeout=0.3)
    assert not result.succeeded
    assert result.timed_out
    assert result.reason == "timed out after 0.3s"
    assert result.http_status is None


def test_connection_refused_is_a_failure() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as closed:
        closed.bind(("127.0.0.1", 0))  # bound but not listening: connections are refused
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/x"

        async def main() -> ExecutionResult:
            async with HttpExecutor() as executor:
                return await executor.execute(request(url=url), NULL_SINK)

        result = run(main())
        secret_url = url.replace("http://", "http://user:hunter2@")

        async def with_credentials() -> ExecutionResult:
            async with HttpExecutor() as executor:
                return await executor.execute(request(url=secret_url), NULL_SINK)

        hidden = run(with_credentials())
    assert not result.succeeded
    assert result.reason == f"connection refused: {url}"
    assert result.http_status is None
    assert hidden.reason == f"connection refused: {url.replace('http://', 'http://user:***@')}"


def test_unknown_host_is_a_failure() -> None:
    async def main() -> ExecutionResult:
        async with HttpExecutor() as executor:
            job = request(url="http://no-such-host.invalid/x", timeout=2)
            return await executor.execute(job, NULL_SINK)

    result = run(main())
    assert not result.succeeded
    # A resolver that cannot reach a DNS server may time out instead of answering "no such host".
    assert result.reason in (
        "cannot resolve host 'no-such-host.invalid': http://no-such-host.invalid/x",
        "timed out after 2s",
    )


def test_cancellation_reraises_and_leaves_the_executor_usable() -> None:
    async def body(base_url: str, started: HttpExecutor) -> ExecutionResult:
        task = asyncio.create_task(
            started.execute(request(url=base_url + "/slow", timeout=None), NULL_SINK)
        )
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return await started.execute(request(url=base_url + "/echo"), NULL_SINK)

    assert scenario(body).succeeded


# --- services ---------------------------------------------------------------------------------


def test_service_operation_is_called_on_the_registered_base_url() -> None:
    async def body(base_url: str, started: HttpExecutor) -> ExecutionResult:
        registry.services["Orders"] = base_url + "/services/orders/"
        return await started.execute(
            request(service="Orders", operation="getOrders", method="POST", body={"a": 1}),
            NULL_SINK,
        )

    registry = Registry({})
    result = scenario(body, HttpExecutor(resolver=registry))
    assert result.succeeded, result.reason
    echoed = json.loads(result.output)
    assert echoed["path"] == "/services/orders/getOrders"
    assert json.loads(echoed["body"]) == {"a": 1}


@pytest.mark.parametrize("resolver", [Registry({"Other": "http://127.0.0.1:1"}), None])
def test_unregistered_service_is_a_failure(resolver: Registry | None) -> None:
    async def main() -> ExecutionResult:
        async with HttpExecutor(resolver=resolver) as executor:
            return await executor.execute(request(service="Orders", operation="x"), NULL_SINK)

    result = run(main())
    assert not result.succeeded
    assert result.reason == ("service 'Orders' is not registered in this tenant's service registry")
    assert result.http_status is None


def test_the_runs_tenant_resolves_the_service() -> None:
    asked: list[tuple[str, str]] = []

    class PerTenant:
        async def base_url(self, tenant_id: str, service: str) -> str | None:
            asked.append((tenant_id, service))
            return None if tenant_id == "t-1" else "http://127.0.0.1:1"

    async def main() -> ExecutionResult:
        async with HttpExecutor(resolver=PerTenant()) as executor:
            job = request(service="Orders", operation="x")
            return await executor.execute(replace(job, tenant_id="t-1"), NULL_SINK)

    result = run(main())
    assert asked == [("t-1", "Orders")]
    assert not result.succeeded and "not registered" in (result.reason or "")


def test_a_failing_lookup_is_a_failure() -> None:
    class Broken:
        async def base_url(self, tenant_id: str, service: str) -> str | None:
            raise RuntimeError("the database is unavailable")

    async def main() -> ExecutionResult:
        async with HttpExecutor(resolver=Broken()) as executor:
            return await executor.execute(request(service="Orders", operation="x"), NULL_SINK)

    result = run(main())
    assert not result.succeeded
    assert result.reason == "cannot look up service 'Orders': the database is unavailable"


def test_service_with_an_invalid_base_url_is_a_failure() -> None:
    async def main() -> ExecutionResult:
        async with HttpExecutor(resolver=Registry({"Orders": "ftp://host/x"})) as executor:
            return await executor.execute(request(service="Orders", operation="op"), NULL_SINK)

    result = run(main())
    assert not result.succeeded
    assert result.reason == "invalid URL 'ftp://host/x/op': not an absolute http(s) URL"


# --- misuse -----------------------------------------------------------------------------------


def test_executor_must_be_started() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        run(HttpExecutor().execute(request(url="http://127.0.0.1/"), NULL_SINK))


def test_other_job_kinds_are_refused() -> None:
    async def main() -> None:
        async with HttpExecutor() as executor:
            job = CommandJob(name="job", command="true")
            await executor.execute(ExecutionRequest("run-1", 1, job, {}, None, 100), NULL_SINK)

    with pytest.raises(TypeError, match="cannot run command jobs"):
        run(main())


def test_start_and_close_are_idempotent() -> None:
    async def main() -> None:
        executor = HttpExecutor()
        await executor.start()
        await executor.start()
        await executor.close()
        await executor.close()

    run(main())
