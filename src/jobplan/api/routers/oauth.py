"""``POST /oauth/token`` (RFC 6749): password, refresh_token and client_credentials grants."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated
from urllib.parse import unquote_plus

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from jobplan.api.deps import ServicesDep, client_address
from jobplan.api.openapi import problem_responses
from jobplan.errors import (
    AuthenticationFailed,
    JobplanError,
    PermissionDenied,
    RateLimited,
    StoreError,
)
from jobplan.service.auth import TokenPair

router = APIRouter(tags=["auth"])

GRANTS = ("password", "refresh_token", "client_credentials")


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int
    refresh_token: str | None = None
    scope: str | None = None
    tenant: str


class OAuthError(BaseModel):
    error: str
    error_description: str


def _oauth_error(status: int, error: str, description: str, **headers: str) -> JSONResponse:
    # RFC 6749 section 5.2: token errors have their own JSON shape and must not be cached.
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={"Cache-Control": "no-store", "Pragma": "no-cache", **headers},
    )


def _missing(grant: str, *names: tuple[str, str | None]) -> JSONResponse | None:
    absent = [name for name, value in names if not value]
    if absent:
        return _oauth_error(
            400, "invalid_request", f"grant_type={grant} requires: {', '.join(absent)}"
        )
    return None


class _BadClientAuth(Exception):
    """The Authorization header of a token request is not usable HTTP Basic."""


def _basic_client(request: Request) -> tuple[str, str] | None:
    """Client id and secret from ``Authorization: Basic`` (RFC 6749 section 2.3.1: each is
    form-urlencoded before the two are joined with ':' and base64-encoded); ``None`` without
    the header."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        raise _BadClientAuth("client authentication must use HTTP Basic")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise _BadClientAuth("the Basic credentials are not base64 of UTF-8 text") from exc
    client_id, sep, client_secret = decoded.partition(":")
    if not sep:
        raise _BadClientAuth("the Basic credentials must be client_id:client_secret")
    return unquote_plus(client_id), unquote_plus(client_secret)


def _client_credentials(
    request: Request, client_id: str | None, client_secret: str | None
) -> tuple[str, str] | JSONResponse:
    """The client's id and secret from HTTP Basic or from the body, never both at once."""
    try:
        basic = _basic_client(request)
    except _BadClientAuth as exc:
        return _oauth_error(400, "invalid_request", str(exc))
    if basic is None:
        if problem := _missing(
            "client_credentials", ("client_id", client_id), ("client_secret", client_secret)
        ):
            return problem
        assert client_id is not None and client_secret is not None
        return client_id, client_secret
    # RFC 6749 section 2.3: a client must not use more than one authentication method
    if client_secret is not None or (client_id is not None and client_id != basic[0]):
        return _oauth_error(
            400,
            "invalid_request",
            "client credentials were given both in the Authorization header and in the body; "
            "use one of them",
        )
    if not basic[0] or not basic[1]:
        return _oauth_error(
            400, "invalid_request", "HTTP Basic client authentication needs an id and a secret"
        )
    return basic


@router.post(
    "/oauth/token",
    operation_id="oauth_token",
    response_model=TokenOut,
    responses={
        400: {
            "model": OAuthError,
            "description": "A missing or invalid parameter or grant (RFC 6749 section 5.2); a "
            "body that cannot be read as a form is problem details.",
            "content": problem_responses(400)[400]["content"],
        },
        401: {"model": OAuthError, "description": "The client credentials are wrong."},
        429: {"model": OAuthError, "description": "Too many failed logins (`Retry-After`)."},
        503: {"model": OAuthError, "description": "The database is unavailable."},
    },
)
def token(
    request: Request,
    services: ServicesDep,
    grant_type: Annotated[
        str | None, Form(max_length=64, description="password | refresh_token | client_credentials")
    ] = None,
    username: Annotated[str | None, Form(max_length=64)] = None,
    password: Annotated[str | None, Form(max_length=1024)] = None,
    tenant: Annotated[str | None, Form(max_length=64)] = None,
    refresh_token: Annotated[str | None, Form(max_length=200)] = None,
    client_id: Annotated[str | None, Form(max_length=64)] = None,
    client_secret: Annotated[str | None, Form(max_length=200)] = None,
) -> JSONResponse:
    """Issue an access token (short-lived JWT) and, for user grants, a rotating refresh token.
    `client_credentials` takes the API key's id and secret as HTTP Basic (RFC 6749 section
    2.3.1) or as `client_id`/`client_secret` in the body, not both."""
    pair: TokenPair
    if not grant_type:
        return _oauth_error(400, "invalid_request", "grant_type is required")
    try:
        if grant_type == "password":
            if problem := _missing(grant_type, ("username", username), ("password", password)):
                return problem
            assert username is not None and password is not None
            pair = services.auth.password_grant(username, password, tenant, client_address(request))
        elif grant_type == "refresh_token":
            if problem := _missing(grant_type, ("refresh_token", refresh_token)):
                return problem
            assert refresh_token is not None
            pair = services.auth.refresh_grant(refresh_token)
        elif grant_type == "client_credentials":
            client = _client_credentials(request, client_id, client_secret)
            if isinstance(client, JSONResponse):
                return client
            pair = services.auth.client_credentials_grant(*client)
        else:
            return _oauth_error(
                400,
                "unsupported_grant_type",
                f"grant_type must be one of {', '.join(GRANTS)}, got {grant_type!r}",
            )
    except RateLimited as exc:
        return _oauth_error(
            429, "invalid_request", exc.message, **{"Retry-After": str(exc.retry_after)}
        )
    except AuthenticationFailed as exc:
        if grant_type == "client_credentials":
            return _oauth_error(
                401, "invalid_client", exc.message, **{"WWW-Authenticate": 'Basic realm="jobplan"'}
            )
        return _oauth_error(400, "invalid_grant", exc.message)
    except PermissionDenied as exc:  # an agent key: it opens only the agent protocol
        return _oauth_error(400, "unauthorized_client", exc.message)
    except StoreError as exc:
        return _oauth_error(503, "temporarily_unavailable", exc.message)
    except JobplanError as exc:
        return _oauth_error(400, "invalid_request", exc.message)
    body = TokenOut(
        access_token=pair.access_token,
        expires_in=pair.expires_in,
        refresh_token=pair.refresh_token,
        scope=pair.scope,
        tenant=pair.tenant,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )
