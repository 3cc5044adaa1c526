"""The agent's line to the server: one protocol call at a time, over ``httpx``, failing over
between the configured server URLs.

A call either returns the answer, or raises:

* :class:`ServerUnavailable` — the server could not be reached or answered 5xx (or 429): the
  caller reconnects (:meth:`ServerLink.reconnect`) and retries;
* :class:`AgentRefused` — the server refused the agent itself (401: revoked or unknown key;
  403: not an agent key; 409: another protocol version; any other 4xx: a bug): fatal.

The key goes only into the ``Authorization`` header; it is never logged, and no message
raised here contains it.
"""

from __future__ import annotations

import asyncio
import random
import ssl
from typing import TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from jobplan.errors import JobplanError
from jobplan.logging import get_logger

__all__ = ["AgentRefused", "Backoff", "ServerLink", "ServerUnavailable"]

_log = get_logger(__name__)
_Answer = TypeVar("_Answer", bound=BaseModel)
_CONNECT_SECONDS = 5.0
_CALL_SECONDS = 30.0
_MARGIN_SECONDS = 10.0
"""Extra read time given to a long-poll beyond the wait the agent asked for."""


class ServerUnavailable(JobplanError):
    """The server could not be reached, or could not answer now (5xx, 429)."""


class AgentRefused(JobplanError):
    """The server refused this agent (bad or revoked key, wrong protocol): fatal."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class Backoff:
    """Capped exponential backoff with jitter: ``base * 2**n``, at most ``cap``, each delay
    drawn between half and all of it (so a fleet of agents does not reconnect in step)."""

    def __init__(self, base: float = 0.2, cap: float = 10.0) -> None:
        self.base = base
        self.cap = cap
        self.failures = 0

    def next_delay(self) -> float:
        delay = min(self.cap, self.base * 2**self.failures)
        self.failures = min(self.failures + 1, 30)
        return random.uniform(delay / 2, delay)

    def reset(self) -> None:
        self.failures = 0


class ServerLink:
    """Protocol calls to the current server; :meth:`rotate` moves to the next URL."""

    def __init__(self, servers: list[str], key: str, *, verify: ssl.SSLContext | bool = True):
        if not servers:
            raise ValueError("at least one server URL is needed")
        self._servers = [url.rstrip("/") for url in servers]
        self._index = 0
        self._client = httpx.AsyncClient(
            headers={"Authorization": f"Bearer {key}"},
            timeout=httpx.Timeout(_CALL_SECONDS, connect=_CONNECT_SECONDS),
            verify=verify,
            limits=httpx.Limits(max_connections=8, max_keepalive_connections=8),
        )

    @property
    def server(self) -> str:
        """The URL calls go to now."""
        return self._servers[self._index]

    def rotate(self) -> None:
        """Use the next server URL (after a failure), round-robin."""
        self._index = (self._index + 1) % len(self._servers)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def call(
        self, name: str, body: BaseModel, answer: type[_Answer], *, wait: float = 0.0
    ) -> _Answer:
        """POST ``body`` to ``/api/v1/agent/<name>`` and parse the answer; ``wait``: how long
        the server may hold the request (long-poll) before answering."""
        url = f"{self.server}/api/v1/agent/{name}"
        timeout = httpx.Timeout(_CALL_SECONDS + wait, connect=_CONNECT_SECONDS)
        try:
            response = await self._client.post(
                url, content=body.model_dump_json(), timeout=timeout, headers=_JSON
            )
        except httpx.HTTPError as exc:
            raise ServerUnavailable(f"{url}: {_describe(exc)}") from exc
        status = response.status_code
        if status >= 500 or status == 429:
            raise ServerUnavailable(f"{url}: HTTP {status}")
        if status >= 400:
            raise AgentRefused(_refusal(name, status, response), status)
        try:
            return answer.model_validate_json(response.content)
        except ValidationError as exc:
            raise ServerUnavailable(
                f"{url}: unexpected answer ({exc.error_count()} errors)"
            ) from exc


_JSON = {"Content-Type": "application/json"}


def _describe(exc: httpx.HTTPError) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text != type(exc).__name__ else text


def _refusal(name: str, status: int, response: httpx.Response) -> str:
    detail = ""
    try:
        problem = response.json()
        if isinstance(problem, dict):
            detail = str(problem.get("detail") or problem.get("title") or "")
    except ValueError:
        detail = response.text[:200]
    if status == 401:
        what = "the server refused the agent's key (revoked, or not a key of that server)"
    elif status == 403:
        what = "the server refused the key: it is not an agent key"
    elif status == 409:
        what = "the server speaks another agent protocol version"
    else:
        what = f"the server refused the agent's {name!r} call (HTTP {status})"
    return f"{what}: {detail}" if detail else what


async def sleep_or_event(event: asyncio.Event, seconds: float) -> bool:
    """Sleep up to ``seconds``; True if ``event`` was set meanwhile (it is not cleared)."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True
