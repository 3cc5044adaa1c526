"""The exceptions jobplan raises, all rooted in :class:`JobplanError`.

::

    JobplanError
    ├── InvalidInput (ValueError)            a request is wrong: names the field
    │   └── TooLarge                         ...by being larger than a limit
    ├── NotFound (LookupError)               no such resource *for this caller*
    ├── Conflict                             the resource's state forbids the operation
    │   ├── AlreadyExists                    a unique name is taken
    │   └── LimitExceeded                    a quota is used up; retry once work finishes
    ├── AuthenticationFailed                 no or bad credentials
    │   └── RateLimited                      too many failed attempts; retry later
    ├── PermissionDenied (PermissionError)   authenticated, but the role or scopes forbid it
    └── StoreError                           the database failed in an unexpected way

Adapters translate these once, at their boundary (``api/errors.py`` for HTTP problem details);
nothing below the adapters knows about HTTP.
"""

from __future__ import annotations

__all__ = [
    "AlreadyExists",
    "AuthenticationFailed",
    "Conflict",
    "InvalidInput",
    "JobplanError",
    "LimitExceeded",
    "NotFound",
    "PermissionDenied",
    "RateLimited",
    "StoreError",
    "TooLarge",
]


class JobplanError(Exception):
    """Root of every error jobplan raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(JobplanError, ValueError):
    """A request is invalid; ``field`` names the offending input (dotted path) when known."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.detail = message


class TooLarge(InvalidInput):
    """An input (an uploaded bundle) is larger than the limit that applies."""


class NotFound(JobplanError, LookupError):
    """No ``kind`` named ``key`` exists for the caller (other tenants' resources included)."""

    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key!r} not found")
        self.kind = kind
        self.key = key


class Conflict(JobplanError):
    """The operation is not allowed in the resource's current state."""


class AlreadyExists(Conflict):
    """A resource with this unique name already exists."""

    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key!r} already exists")
        self.kind = kind
        self.key = key


class LimitExceeded(Conflict):
    """A quota (such as a tenant's concurrent export jobs) is used up for now."""


class AuthenticationFailed(JobplanError):
    """Credentials are missing, wrong, expired or revoked."""


class RateLimited(AuthenticationFailed):
    """Too many failed attempts; ``retry_after`` seconds until the next one is accepted."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermissionDenied(JobplanError, PermissionError):
    """The caller is authenticated but its role or scopes do not allow the operation."""


class StoreError(JobplanError):
    """The database failed in a way the store could not map to a domain error."""
