"""Check real HTTP responses against the application's own OpenAPI document (openapi-core).

:func:`watch` hooks a ``TestClient`` so that every response it receives is validated: the
status must be documented for the operation, the content type must be one the document
lists for that status, and the body must match its schema.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi.testclient import TestClient
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

__all__ = ["Contract", "watch"]


class _Request:
    """An httpx request as openapi-core sees one."""

    def __init__(self, request: httpx.Request) -> None:
        self._request = request
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(list(request.url.params.multi_items())),
            header=Headers(list(request.headers.multi_items())),
            cookie=ImmutableMultiDict(),
        )

    @property
    def host_url(self) -> str:
        return f"{self._request.url.scheme}://{self._request.url.netloc.decode()}"

    @property
    def path(self) -> str:
        return self._request.url.path

    @property
    def method(self) -> str:
        return self._request.method.lower()

    @property
    def body(self) -> bytes | None:
        return None  # only responses are checked

    @property
    def content_type(self) -> str:
        return self._request.headers.get("content-type", "").lower()


class _Response:
    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    @property
    def status_code(self) -> int:
        return self._response.status_code

    @property
    def content_type(self) -> str:
        return self._response.headers.get("content-type", "").lower()

    @property
    def headers(self) -> Mapping[str, Any]:
        return Headers(list(self._response.headers.multi_items()))

    @property
    def data(self) -> bytes | None:
        return self._response.content


@dataclass
class Contract:
    """What a watched client received: the responses checked and the ones that broke the
    document."""

    document: dict[str, Any]
    openapi: OpenAPI
    #: ``(METHOD, path template, status)`` of every checked response
    seen: set[tuple[str, str, int]] = field(default_factory=set)
    violations: list[str] = field(default_factory=list)
    checked: int = 0
    _patterns: list[tuple[re.Pattern[str], str]] = field(default_factory=list, repr=False)

    #: only requests whose path starts with one of these are checked
    prefixes: tuple[str, ...] = ("/",)
    #: only responses with at least this status are checked
    min_status: int = 0

    def check(self, response: httpx.Response) -> None:
        response.read()
        request = _Request(response.request)
        template = self._template(request.path)
        if response.status_code < self.min_status or not request.path.startswith(self.prefixes):
            return
        if request.method not in self.document["paths"].get(template, {}):
            return  # not an operation of the document (a test of an unknown route)
        self.checked += 1
        try:
            self.openapi.validate_response(request, _Response(response))
        except Exception as exc:
            reasons = [str(exc), *(str(c).split("\n", 1)[0] for c in _causes(exc))]
            self.violations.append(
                f"{request.method.upper()} {request.path} -> {response.status_code} "
                f"{response.headers.get('content-type')}: {' / '.join(reasons)[:600]}"
                f"\n    body: {response.text[:300]}"
            )
            return
        self.seen.add((request.method.upper(), template, response.status_code))

    def _template(self, path: str) -> str:
        """The document's path template ``path`` matches (literal segments win)."""
        if not self._patterns:
            templates = sorted(self.document["paths"], key=lambda t: (t.count("{"), t))
            self._patterns = [
                (re.compile("^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(t)) + "$"), t)
                for t in templates
            ]
        return next((t for pattern, t in self._patterns if pattern.match(path)), path)

    def assert_clean(self) -> None:
        assert not self.violations, (
            f"{len(self.violations)} of {self.checked} responses do not match the OpenAPI "
            "document:\n" + "\n".join(self.violations)
        )


def _causes(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    current = exc.__cause__ or exc.__context__
    while current is not None and len(out) < 5:
        out.append(current)
        schema_errors = getattr(current, "schema_errors", None)
        if schema_errors:
            out.extend(schema_errors[:5])
        current = current.__cause__ or current.__context__
    return out


_SERVED: list[str] = []


def _served_document(client: TestClient) -> str:
    """The document the application serves, fetched from the first application watched.
    Every test's app is built by the same ``create_app`` from the same code, so the document
    is the same; generating it costs FastAPI about half a second per app, which across the
    suite's thousand API tests was minutes."""
    if not _SERVED:
        _SERVED.append(client.get("/openapi.json").text)
    return _SERVED[0]


@functools.cache
def _parsed(text: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(text)
    return document


def _text(data: bytes | str, **parameters: str) -> str:
    """A text body (OpenMetrics), in its ``charset``."""
    return data.decode(parameters.get("charset", "utf-8")) if isinstance(data, bytes) else data


@functools.cache
def _openapi(text: str) -> OpenAPI:
    """openapi-core's view of a document (checking the document takes a while: once)."""
    # openapi-core reads only application/json as JSON, and text/* as text, by default
    config = Config(
        extra_media_type_deserializers={
            "application/problem+json": json.loads,
            "application/openmetrics-text": _text,
        }
    )
    return OpenAPI.from_dict(json.loads(text), config=config)


def watch(client: TestClient, prefixes: tuple[str, ...] = ("/",), min_status: int = 0) -> Contract:
    """Validate every response ``client`` receives from now on, for requests to an operation
    of the document under one of ``prefixes`` (answered with at least ``min_status``),
    against the document the application serves at ``/openapi.json``."""
    text = _served_document(client)
    contract = Contract(_parsed(text), _openapi(text), prefixes=prefixes, min_status=min_status)
    client.event_hooks["response"].append(contract.check)
    return contract
