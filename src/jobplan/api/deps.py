"""Dependencies shared by routers: the services and the authenticated caller."""

from __future__ import annotations

from typing import Annotated, TypeVar

from fastapi import Depends, Header, Query, Request, Response, Security
from fastapi.security import (
    APIKeyHeader,
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
)

from jobplan.api.adapter import Credentials, authenticate, client_address
from jobplan.errors import InvalidInput
from jobplan.service.caller import Caller
from jobplan.service.container import Services
from jobplan.service.pagination import MAX_OFFSET, MAX_PAGE_SIZE, KeysetPage, Page

__all__ = [
    "CallerDep",
    "CursorQuery",
    "LimitQuery",
    "MetricsCallerDep",
    "OffsetQuery",
    "ServicesDep",
    "check_cursor_offset",
    "client_address",
    "current_caller",
    "set_keyset_headers",
    "set_page_headers",
]

T = TypeVar("T")

_bearer = HTTPBearer(
    auto_error=False,
    description="An access token from /oauth/token, or an API key (jp_...).",
)
_basic = HTTPBasic(auto_error=False, description="User name and password.")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key (jp_...).")


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def current_caller(
    request: Request,
    services: ServicesDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    basic: Annotated[HTTPBasicCredentials | None, Security(_basic)],
    api_key: Annotated[str | None, Security(_api_key)],
    x_tenant: Annotated[
        str | None, Header(description="Tenant to act in, for users of several tenants.")
    ] = None,
) -> Caller:
    """Resolve the request's credentials: ``X-API-Key``, ``Authorization: Bearer`` (access
    token or API key) or ``Authorization: Basic``, through :func:`~jobplan.api.adapter.
    authenticate` like every adapter. A sync dependency on purpose: password hashing then
    runs in the thread pool, off the event loop."""
    credentials = Credentials(
        secret=api_key or (bearer.credentials if bearer is not None else None),
        keys_only=bool(api_key),
        basic=(basic.username, basic.password) if basic is not None else None,
        tenant=x_tenant,
        client=client_address(request),
        missing="credentials required: Authorization: Bearer <token or API key>, HTTP Basic, "
        "or X-API-Key",
    )
    return authenticate(services, credentials)


CallerDep = Annotated[Caller, Depends(current_caller)]


def metrics_caller(
    request: Request,
    services: ServicesDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    basic: Annotated[HTTPBasicCredentials | None, Security(_basic)],
    api_key: Annotated[str | None, Security(_api_key)],
    x_tenant: Annotated[
        str | None, Header(description="Tenant to act in, for users of several tenants.")
    ] = None,
) -> Caller | None:
    """:func:`current_caller`, or ``None`` without looking at any credential when this
    node's metrics are public (``JOBPLAN_METRICS_PUBLIC``)."""
    if services.metrics.public:
        return None
    return current_caller(request, services, bearer, basic, api_key, x_tenant)


MetricsCallerDep = Annotated[Caller | None, Depends(metrics_caller)]
LimitQuery = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size.")]
OffsetQuery = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip.")]
CursorQuery = Annotated[
    str | None,
    Query(
        max_length=200,
        description="Keyset pagination: empty for the first page, then the `X-Next-Cursor` "
        "of the page before. Not combined with `offset`; no `X-Total-Count`.",
    ),
]


def check_cursor_offset(offset: int) -> None:
    """A keyset page starts where its cursor says: an offset as well is refused."""
    if offset:
        raise InvalidInput("cannot be combined with cursor (keyset pagination)", field="offset")


def set_keyset_headers(request: Request, response: Response, page: KeysetPage[T]) -> None:
    """A keyset page's next cursor, as ``X-Next-Cursor`` and an RFC 8288 ``Link``
    (``rel="next"``); neither on the last page."""
    if page.next_cursor is None:
        return
    response.headers["X-Next-Cursor"] = page.next_cursor
    url = request.url.include_query_params(cursor=page.next_cursor, limit=page.limit)
    response.headers["Link"] = f'<{url}>; rel="next"'


def set_page_headers(request: Request, response: Response, page: Page[T]) -> None:
    """Pagination metadata in headers (``X-Total-Count`` and RFC 8288 ``Link``), so list
    bodies stay plain JSON arrays."""
    response.headers["X-Total-Count"] = str(page.total)
    links = []
    if page.offset + page.limit < page.total:
        url = request.url.include_query_params(offset=page.offset + page.limit, limit=page.limit)
        links.append(f'<{url}>; rel="next"')
    if page.offset > 0:
        url = request.url.include_query_params(
            offset=max(0, page.offset - page.limit), limit=page.limit
        )
        links.append(f'<{url}>; rel="prev"')
    if links:
        response.headers["Link"] = ", ".join(links)
