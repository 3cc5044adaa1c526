"""The OpenAPI document and the ``/docs`` page.

* :class:`Problem` is the RFC 9457 body every native error leaves with (``api/errors.py``,
  ``api/middleware.py``); :func:`problem_responses` documents it, as
  ``application/problem+json``, for the error statuses a route declares in ``responses=``.
* :func:`install_openapi` replaces FastAPI's document builder: its default 422 body
  (``HTTPValidationError``, ``application/json``) is not what the server sends, so every 422
  becomes a :class:`Problem` (the validation handler and the NUL filter answer it on any
  route), operations that take a body document the 413 of the size limit, and the dialect
  routes get their security schemes and their errors in their products' shapes (for the
  statuses of the shared error table; a route's own ``responses=`` wins).
* Every response of every operation declares the ``X-Request-ID`` header
  (:data:`REQUEST_ID_HEADER`) that the request-context middleware adds to each answer.
* :func:`install_docs` serves Swagger UI from the copy vendored in the package
  (``jobplan/static/vendor``), so ``/docs`` works without internet.
"""

from __future__ import annotations

from http import HTTPStatus
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field

from jobplan.api.errors import PROBLEM_JSON

__all__ = [
    "AUTHENTICATED",
    "REQUEST_ID_HEADER",
    "SWAGGER_UI",
    "VENDOR_DIR",
    "FieldError",
    "Problem",
    "install_docs",
    "install_openapi",
    "problem_responses",
]

#: Third-party browser assets shipped in the wheel (see its README.md).
VENDOR_DIR = Path(__file__).resolve().parent.parent / "static" / "vendor"
VENDOR_URL = "/static/vendor"
#: The Swagger UI copy ``/docs`` loads (npm package ``swagger-ui-dist``).
SWAGGER_UI = "swagger-ui-dist-5.35.0"

_REF = "#/components/schemas/"
_FASTAPI_422 = ("HTTPValidationError", "ValidationError")

#: What an error status means on jobplan's own routes.
_MEANINGS: dict[int, str] = {
    400: "The request could not be read (a malformed form or multipart body).",
    401: "No valid credentials (`WWW-Authenticate` says which schemes are accepted).",
    403: "The caller's role or tenant does not allow this.",
    404: "Something the request names does not exist (or is not visible to the caller).",
    409: "The current state does not allow this (it already exists, is in use, or is running).",
    413: "The request body is larger than the server accepts.",
    422: "The request is invalid: `detail` says why; `errors` names each invalid field.",
    429: "Too many attempts or queued jobs; `Retry-After` says when to try again, when known.",
    503: "The database is unavailable; try again later.",
}

#: Error statuses every authenticated route can answer (router-level ``responses=``).
AUTHENTICATED = (401, 403, 422, 429, 503)


class FieldError(BaseModel):
    """One invalid input."""

    field: str = Field(
        description="Where: a dotted path into the body (`jobs[0].name`), or the name of a "
        "query, path, header or form parameter.",
        examples=["jobs[0].name"],
    )
    message: str = Field(description="What is wrong with it.", examples=["Field required"])


class Problem(BaseModel):
    """RFC 9457 problem details, sent as `application/problem+json` for every error of
    jobplan's own API."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="Always `about:blank`.", examples=["about:blank"])
    title: str = Field(description="The status's reason phrase.", examples=["Not Found"])
    status: int = Field(description="The HTTP status code.", ge=400, le=599, examples=[404])
    detail: str = Field(
        description="What went wrong, for people.", examples=["plan 'nightly' not found"]
    )
    errors: list[FieldError] = Field(
        default_factory=list,
        description="Present when particular inputs are at fault (422, and 413 for a part too "
        "large): each one, with what is wrong; absent otherwise.",
    )


def _problem_response(status: int, description: str | None = None) -> dict[str, Any]:
    return {
        "description": description or _MEANINGS.get(status) or HTTPStatus(status).phrase,
        "content": {PROBLEM_JSON: {"schema": {"$ref": _REF + "Problem"}}},
    }


def problem_responses(*statuses: int | tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries documenting :class:`Problem` for ``statuses``; give a
    ``(status, description)`` pair to say what the status means on that route."""
    out: dict[int | str, dict[str, Any]] = {}
    for item in statuses:
        status, description = item if isinstance(item, tuple) else (item, None)
        out[status] = _problem_response(status, description)
    return out


# --- the document ---------------------------------------------------------------------------

#: Credentials the dialect routes read themselves (not through ``api/deps.py``).
_DIALECT_SCHEMES: dict[str, dict[str, Any]] = {
    "IkasanBasic": {
        "type": "http",
        "scheme": "basic",
        "description": "Ikasan: HTTP Basic with a jobplan user name and password "
        "(`X-Tenant` picks the tenant).",
    },
    "DiemApiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
        "description": "IBM DIEM: a jobplan API key (jp_...) or access token.",
    },
    "SparkSyntheticKey": {
        "type": "apiKey",
        "in": "header",
        "name": "x-synthetic-key",
        "description": "Coherent Spark: a jobplan API key (jp_...), with `x-tenant-name` "
        "naming its tenant.",
    },
    "VoltMxClaims": {
        "type": "apiKey",
        "in": "header",
        "name": "X-VoltMX-Authorization",
        "description": "Volt MX: the claims token from `/authService/accounts/login` (or an "
        "API key).",
    },
}
_NATIVE: list[dict[str, list[str]]] = [{"HTTPBearer": []}, {"HTTPBasic": []}, {"APIKeyHeader": []}]
#: Security of each dialect's operations, by tag; operations not listed are public.
_DIALECT_SECURITY: dict[str, list[dict[str, list[str]]]] = {
    "dialect: Ikasan": [{"IkasanBasic": []}],
    "dialect: IBM DIEM": [{"DiemApiKey": []}],
    "dialect: Coherent Spark": [{"HTTPBearer": []}, {"SparkSyntheticKey": []}],
    "dialect: Volt MX": [{"VoltMxClaims": []}, *_NATIVE],
}
_PUBLIC_OPERATIONS = {"voltmx_login"}

#: The error bodies of each dialect: its products' own shapes (docs/dialects.md).
_DIALECT_ERROR_SCHEMAS: dict[str, Any] = {
    "DiemMessage": {
        "type": "object",
        "description": "IBM DIEM's answer: a message.",
        "required": ["message"],
        "properties": {"message": {"type": "string"}},
    },
    "SparkError": {
        "type": "object",
        "description": "Coherent Spark's error.",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["status", "code", "message"],
                "properties": {
                    "status": {"type": "integer"},
                    "code": {"type": "string", "examples": ["NOT_FOUND"]},
                    "message": {"type": "string"},
                },
            }
        },
    },
    "VoltMxResult": {
        "type": "object",
        "description": "Volt MX's operation result: `SUCCESS`, or `FAIL` with a message (and "
        "the invalid fields in `result`).",
        "required": ["status", "message"],
        "properties": {
            "status": {"enum": ["SUCCESS", "FAIL"]},
            "result": {},
            "message": {"type": ["string", "null"]},
            "token": {"type": "null"},
        },
    },
    "VoltMxAuthError": {
        "type": "object",
        "description": "Volt MX's login error.",
        "required": ["domain", "message", "httpstatus"],
        "properties": {
            "domain": {"type": "string", "examples": ["AUTH"]},
            "message": {"type": "string"},
            "httpstatus": {"type": "integer"},
        },
    },
}
_TEXT = {"text/plain": {"schema": {"type": "string"}}}
_DIALECT_ERRORS: dict[str, dict[str, Any]] = {
    "dialect: Ikasan": _TEXT,
    "dialect: IBM DIEM": {"application/json": {"schema": {"$ref": _REF + "DiemMessage"}}},
    "dialect: Coherent Spark": {"application/json": {"schema": {"$ref": _REF + "SparkError"}}},
    "dialect: Volt MX": {"application/json": {"schema": {"$ref": _REF + "VoltMxResult"}}},
}
_LOGIN_ERRORS = {"application/json": {"schema": {"$ref": _REF + "VoltMxAuthError"}}}
#: What a dialect answers for each error of the shared error table (invalid input is 400 in
#: the dialects, as in their products).
_DIALECT_MEANINGS: dict[int, str] = {
    400: "The request is invalid.",
    401: "No valid credentials.",
    403: "The caller's role or tenant does not allow this.",
    404: "Something the request names does not exist.",
    409: "The current state does not allow this.",
    413: "Too large: the body (problem details, from the size limit) or a part of it.",
    429: "Too many failed logins or queued jobs (`Retry-After`).",
    503: "The database is unavailable; try again later.",
}


#: Every answer of every route carries the request's id (``api/middleware.RequestContext``).
REQUEST_ID_HEADER: dict[str, Any] = {
    "description": "The request's id: the caller's own `X-Request-ID` when it sent a well-formed "
    "one (1 to 128 of `A-Z a-z 0-9 . _ : -`), else a new one. Every log line of the request "
    "and every audit record it causes carry it (`request_id`).",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
}
_REQUEST_ID_REF = {"$ref": "#/components/headers/RequestId"}


def _schemas() -> dict[str, Any]:
    schema = Problem.model_json_schema(ref_template=_REF + "{model}")
    definitions: dict[str, Any] = schema.pop("$defs", {})
    schema["properties"]["errors"].pop("default", None)
    return {**definitions, "Problem": schema, **_DIALECT_ERROR_SCHEMAS}


def _dialect_tag(operation: dict[str, Any]) -> str | None:
    return next((t for t in operation.get("tags", []) if t in _DIALECT_SECURITY), None)


def _document_dialect(operation: dict[str, Any], tag: str) -> None:
    """Security and error answers of a dialect route, unless its decorator said them."""
    public = operation.get("operationId") in _PUBLIC_OPERATIONS
    if not public:
        operation.setdefault("security", _DIALECT_SECURITY[tag])
    errors = _LOGIN_ERRORS if public else _DIALECT_ERRORS[tag]
    statuses = (400, 401, 429, 503) if public else tuple(_DIALECT_MEANINGS)
    responses = operation["responses"]
    for status in statuses:
        key = str(status)
        if key in responses and key != "413":
            continue
        entry = responses.setdefault(key, {"description": _DIALECT_MEANINGS[status]})
        if key == "413":
            entry["description"] = _DIALECT_MEANINGS[413]
        entry.setdefault("content", {}).update(errors)
        if key == "413":
            entry["content"].setdefault(PROBLEM_JSON, {"schema": {"$ref": _REF + "Problem"}})


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, corrected to say what the server answers (module docstring)."""
    document = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
        servers=app.servers,
    )
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in _FASTAPI_422:
        schemas.pop(name, None)
    schemas.update(_schemas())
    components.setdefault("securitySchemes", {}).update(_DIALECT_SCHEMES)
    components.setdefault("headers", {})["RequestId"] = REQUEST_ID_HEADER
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            content = responses.get("422", {}).get("content", {})
            if "422" not in responses or PROBLEM_JSON not in content:
                responses["422"] = _problem_response(422)
            operation["tags"] = list(dict.fromkeys(operation.get("tags", [])))
            tag = _dialect_tag(operation)
            if tag is not None:
                _document_dialect(operation, tag)
            if "requestBody" in operation and "413" not in responses:
                responses["413"] = _problem_response(413)
            for response in responses.values():
                response.setdefault("headers", {})["X-Request-ID"] = _REQUEST_ID_REF
    return document


def install_openapi(app: FastAPI) -> None:
    """Serve :func:`build_openapi`'s document at ``app.openapi_url`` (built once)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


# --- the docs page --------------------------------------------------------------------------


def install_docs(app: FastAPI, path: str = "/docs") -> None:
    """Serve Swagger UI at ``path`` with its scripts from the package (no CDN): the page
    names only same-origin URLs."""
    app.mount(VENDOR_URL, StaticFiles(directory=VENDOR_DIR), name="vendor")
    assets = f"{VENDOR_URL}/{SWAGGER_UI}"

    @app.get(path, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} API",
            swagger_js_url=f"{root}{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{assets}/swagger-ui.css",
            swagger_favicon_url=f"{root}{assets}/favicon-32x32.png",
            # no badge from validator.swagger.io: the page must work offline
            swagger_ui_parameters={"validatorUrl": None},
        )
