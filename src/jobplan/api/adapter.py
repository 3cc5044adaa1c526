"""What every HTTP adapter shares: the native API, the four dialects and the console.

* :func:`authenticate` / :func:`resolve_caller`: credentials taken from a request's headers
  (:class:`Credentials`) become a service :class:`~jobplan.service.caller.Caller` through the
  service's authentication (a secret is an API key or an access token; a password goes
  through the login throttle). Adapters only say which headers hold what.
* :func:`run_blocking`: a blocking service call (database, password hashing) off the loop.
* :func:`parse_json` / :func:`read_json_object`: JSON from a body or a text field, refused
  with :class:`~jobplan.errors.InvalidInput` (a 4xx in every adapter) when it is not UTF-8,
  not JSON, nested deeper than :data:`MAX_JSON_DEPTH` or holds a lone UTF-16 surrogate
  (``"\\ud800"``, which no database can store) - before anything walks it recursively.

Errors are translated by the one table in :mod:`jobplan.api.errors`; each adapter renders
the :class:`~jobplan.api.errors.ErrorAnswer` in its own shape. Authenticate before reading
a body, as the native routes do: a stranger's body is never parsed.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from jobplan.errors import AuthenticationFailed, InvalidInput
from jobplan.service.auth import parse_agent_key, parse_api_key
from jobplan.service.caller import Caller
from jobplan.service.container import Services

__all__ = [
    "MAX_JSON_DEPTH",
    "Credentials",
    "authenticate",
    "basic_pair",
    "client_address",
    "native_credentials",
    "parse_json",
    "read_json_object",
    "resolve_caller",
    "run_blocking",
]

P = ParamSpec("P")
T = TypeVar("T")

#: How deeply JSON may nest (arrays and objects) anywhere an adapter reads it. Plan
#: documents and every dialect body stay well within it.
MAX_JSON_DEPTH = 64


async def run_blocking(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a blocking call (service operations touch the database, logins hash passwords)
    in the thread pool, off the event loop."""
    return await run_in_threadpool(fn, *args, **kwargs)


# --- credentials ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a request presents: a ``secret`` (API key or access token) or a ``basic`` user
    name and password (with the ``tenant`` to act in). ``keys_only`` refuses access tokens
    (headers that take only API keys); ``missing`` is the message when neither is given."""

    secret: str | None = None
    basic: tuple[str, str] | None = None
    tenant: str | None = None
    client: str = "unknown"
    keys_only: bool = False
    missing: str = "credentials required"


def authenticate(services: Services, credentials: Credentials) -> Caller:
    """Resolve ``credentials`` through the service's authentication (blocking: call it
    through :func:`resolve_caller` from async code)."""
    if credentials.secret:
        secret = credentials.secret
        if credentials.keys_only and parse_api_key(secret) is None and not parse_agent_key(secret):
            raise AuthenticationFailed("API key is malformed: expected jp_<id>_<secret>")
        return services.auth.authenticate_secret(credentials.secret)
    if credentials.basic is not None:
        username, password = credentials.basic
        return services.auth.authenticate_basic(
            username, password, credentials.tenant, credentials.client
        )
    raise AuthenticationFailed(credentials.missing)


async def resolve_caller(services: Services, credentials: Credentials) -> Caller:
    """:func:`authenticate`, off the event loop."""
    return await run_blocking(authenticate, services, credentials)


def client_address(request: Request) -> str:
    """The peer's address: what the login throttle counts failures by."""
    return request.client.host if request.client else "unknown"


def basic_pair(authorization: str) -> tuple[str, str] | None:
    """``Authorization: Basic <base64 user:password>`` as (user, password); ``None`` for
    another scheme, :class:`AuthenticationFailed` if it is not valid Basic."""
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise AuthenticationFailed("the Basic credentials are not base64 user:password") from None
    username, sep, password = decoded.partition(":")
    if not sep:
        raise AuthenticationFailed("the Basic credentials are not base64 user:password")
    return username, password


def native_credentials(request: Request, *, missing: str) -> Credentials:
    """The native API's headers: ``X-API-Key`` (an API key), ``Authorization: Bearer``
    (access token or API key) or ``Authorization: Basic`` with ``X-Tenant``."""
    headers = request.headers
    key = headers.get("x-api-key")
    if key:
        return Credentials(secret=key, keys_only=True)
    authorization = headers.get("authorization", "")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return Credentials(secret=token.strip())
    if authorization.strip():
        pair = basic_pair(authorization)
        if pair is None:
            raise AuthenticationFailed("the Authorization header is malformed")
        return Credentials(
            basic=pair, tenant=headers.get("x-tenant"), client=client_address(request)
        )
    return Credentials(missing=missing)


# --- JSON -------------------------------------------------------------------------------------


def _refuse(field: str | None, message: str) -> InvalidInput:
    return InvalidInput(message, field=field) if field else InvalidInput(f"the body {message}")


def parse_json(text: bytes | str, *, field: str | None = None, not_json: str | None = None) -> Any:
    """``text`` as JSON, refused (as ``field``, or "the body") unless it is UTF-8, JSON,
    nested at most :data:`MAX_JSON_DEPTH` deep and free of lone surrogates. ``not_json``
    replaces the message for text that is not JSON at all."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise _refuse(field, "is not valid UTF-8") from None
    try:
        value = json.loads(text)
    except RecursionError:
        raise _refuse(field, f"nests more than {MAX_JSON_DEPTH} levels deep") from None
    except ValueError:
        if not_json is not None:
            raise InvalidInput(not_json, field=field) from None
        raise _refuse(field, "is not valid JSON") from None
    _check_tree(value, field)
    return value


def _check_tree(value: Any, field: str | None) -> None:
    """Walk ``value`` without recursion: depth and text that UTF-8 can carry."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item, field)
        elif isinstance(item, list | dict):
            if depth >= MAX_JSON_DEPTH:
                raise _refuse(field, f"nests more than {MAX_JSON_DEPTH} levels deep")
            if isinstance(item, dict):
                for key, child in item.items():
                    _check_text(key, field)
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)


def _check_text(text: str, field: str | None) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _refuse(
            field, "holds a lone UTF-16 surrogate (such as \\ud800), which is not text"
        ) from None


async def read_json_object(
    request: Request, hint: str, *, empty: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The body as a checked JSON object (:func:`parse_json`); ``empty`` (if given) for a
    blank body. ``hint`` says what object is wanted. Call it once the caller is known."""
    raw = await request.body()
    if empty is not None and not raw.strip():
        return empty
    body = parse_json(raw)
    if not isinstance(body, dict):
        raise InvalidInput(f"the body must be a JSON object {hint}")
    return body
