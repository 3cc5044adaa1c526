"""A small HTTP client for the CLI: server URL and credentials from flags, environment or a
config file (``~/.config/jobplan/cli.toml`` or ``$JOBPLAN_CONFIG``)."""

from __future__ import annotations

import hashlib
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

from jobplan import __version__

__all__ = ["USER_AGENT", "ApiClient", "ApiError", "Connection", "load_connection"]

#: What the CLI calls itself in ``User-Agent`` (the audit log records it).
USER_AGENT = f"jobplan-cli/{__version__} python-httpx/{httpx.__version__}"


class ApiError(Exception):
    """The server refused a request; ``message`` is ready to print."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class Connection:
    url: str
    api_key: str | None = None
    token: str | None = None
    username: str | None = None
    password: str | None = None
    tenant: str | None = None


def _config_file() -> Path:
    configured = os.environ.get("JOBPLAN_CONFIG")
    if configured:
        return Path(configured)
    base = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))
    return base / "jobplan" / "cli.toml"


def _local_server_url() -> str:
    """Where ``jobplan serve`` listens when run in this environment: ``JOBPLAN_HOST`` and
    ``JOBPLAN_PORT`` (a wildcard bind address is reached through loopback)."""
    host = os.environ.get("JOBPLAN_HOST", "").strip() or "127.0.0.1"
    port = os.environ.get("JOBPLAN_PORT", "").strip() or "8080"
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"JOBPLAN_PORT must be a port number (1-65535), got {port!r}")
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104 - not a bind
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # IPv6 literal
    return f"http://{host}:{int(port)}"


def load_connection(
    url: str | None,
    api_key: str | None,
    token: str | None,
    username: str | None,
    password: str | None,
    tenant: str | None,
    profile: str = "default",
) -> Connection:
    """Flags (which already include ``JOBPLAN_*`` variables) win over the config file; with
    no URL from either, the server is the one ``jobplan serve`` would start here
    (``JOBPLAN_HOST``/``JOBPLAN_PORT``, default http://127.0.0.1:8080). Raises
    :class:`ValueError` for an unusable ``JOBPLAN_PORT``."""
    stored: dict[str, Any] = {}
    path = _config_file()
    if path.exists():
        with path.open("rb") as handle:
            stored = tomllib.load(handle).get(profile, {})
    return Connection(
        url=(url or stored.get("url") or _local_server_url()).rstrip("/"),
        api_key=api_key or stored.get("api_key"),
        token=token or stored.get("token"),
        username=username or stored.get("username"),
        password=password or stored.get("password"),
        tenant=tenant or stored.get("tenant"),
    )


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:500]}"
    if isinstance(body, dict):
        if body.get("errors"):
            lines = [f"  {e.get('field')}: {e.get('message')}" for e in body["errors"]]
            return f"HTTP {response.status_code}: {body.get('title', '')}\n" + "\n".join(lines)
        detail = body.get("detail") or body.get("error_description") or body.get("message")
        if detail:
            return f"HTTP {response.status_code}: {detail}"
    return f"HTTP {response.status_code}: {response.text[:500]}"


class ApiClient:
    """Calls the native API with the connection's credentials."""

    def __init__(self, connection: Connection, timeout: float = 30.0) -> None:
        # the audit log and the access log tell the CLI from other clients by this
        headers: dict[str, str] = {"User-Agent": USER_AGENT}
        auth: tuple[str, str] | None = None
        if connection.api_key:
            headers["X-API-Key"] = connection.api_key
        elif connection.token:
            headers["Authorization"] = f"Bearer {connection.token}"
        elif connection.username and connection.password:
            auth = (connection.username, connection.password)
        if connection.tenant:
            headers["X-Tenant"] = connection.tenant
        self._http = httpx.Client(
            base_url=connection.url, headers=headers, auth=auth, timeout=timeout
        )

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(0, f"cannot reach {self._http.base_url}: {exc}") from exc
        if response.status_code >= 400:
            raise ApiError(response.status_code, _message(response))
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self.request("PATCH", path, **kwargs)

    def download(
        self, path: str, target: IO[bytes], progress: Callable[[int, int | None], None]
    ) -> str:
        """Stream ``path`` into ``target``; returns the SHA-256 of what was written.
        ``progress(done, total)`` follows the bytes (total ``None`` when unknown)."""
        digest = hashlib.sha256()
        try:
            with self._http.stream("GET", path) as response:
                if response.status_code >= 400:
                    response.read()
                    raise ApiError(response.status_code, _message(response))
                length = response.headers.get("content-length")
                total = int(length) if length and length.isdigit() else None
                done = 0
                for chunk in response.iter_bytes(1024 * 1024):
                    target.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    progress(done, total)
        except httpx.HTTPError as exc:
            raise ApiError(0, f"cannot reach {self._http.base_url}: {exc}") from exc
        return digest.hexdigest()

    def close(self) -> None:
        self._http.close()
