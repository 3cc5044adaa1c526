"""The OpenAPI document describes the errors the server really sends (problem details), the
201 of a new service, and how each dialect route authenticates."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openapi_spec_validator import validate

from jobplan.api import create_app
from jobplan.api.errors import PROBLEM_JSON
from jobplan.settings import Settings

#: Operations anyone may call.
PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/livez"),
    ("GET", "/readyz"),
    ("POST", "/oauth/token"),
    ("GET", "/api/v1/cron/preview"),
    ("POST", "/authService/accounts/login"),
}
#: Operations with a path parameter that create what they name, rather than 404.
CREATED_BY_PUT = {
    ("PUT", "/api/v1/services/{name}"),
    ("PUT", "/api/v1/calendars/{name}"),
    ("PUT", "/api/v1/secrets/{name}"),
}
#: Error statuses of jobplan's own API: answered as problem details.
NATIVE_PREFIXES = ("/api/v1/", "/healthz", "/metrics")


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    document: dict[str, Any] = create_app(Settings()).openapi()
    return document


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    ]


def test_the_document_is_valid_openapi(spec: dict[str, Any]) -> None:
    validate(spec)


def test_fastapis_validation_error_body_is_gone(spec: dict[str, Any]) -> None:
    text = json.dumps(spec)
    assert "HTTPValidationError" not in text
    assert '"ValidationError"' not in text
    for method, path, operation in operations(spec):
        assert operation["responses"]["422"]["content"] == {
            PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}
        }, (method, path)


def test_every_native_error_is_documented_as_problem_details(spec: dict[str, Any]) -> None:
    documented: set[str] = set()
    for method, path, operation in operations(spec):
        if not path.startswith(NATIVE_PREFIXES):
            continue
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            documented.add(status)
            assert list(response["content"]) == [PROBLEM_JSON], (method, path, status)
        if (method, path) not in PUBLIC:
            assert {"401", "403", "422", "429", "503"} <= set(operation["responses"]), (
                method,
                path,
            )
        if "{" in path and (method, path) not in CREATED_BY_PUT:
            assert "404" in operation["responses"], (method, path)
        if "requestBody" in operation:
            assert "413" in operation["responses"], (method, path)
    assert documented == {"401", "403", "404", "409", "413", "422", "429", "503"}


def test_the_problem_schema_is_the_shape_the_server_sends(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    problem = schemas["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    assert problem["properties"]["detail"]["type"] == "string"
    errors = problem["properties"]["errors"]
    assert errors["type"] == "array"
    assert errors["items"] == {"$ref": "#/components/schemas/FieldError"}
    assert set(schemas["FieldError"]["required"]) == {"field", "message"}


def test_token_errors_keep_their_rfc_6749_shape(spec: dict[str, Any]) -> None:
    responses = spec["paths"]["/oauth/token"]["post"]["responses"]
    for status in ("400", "401", "429", "503"):
        assert responses[status]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/OAuthError"
        }, status
    assert PROBLEM_JSON in responses["400"]["content"]  # a form that cannot be parsed


def test_registering_a_new_service_documents_its_201(spec: dict[str, Any]) -> None:
    responses = spec["paths"]["/api/v1/services/{name}"]["put"]["responses"]
    for status in ("200", "201"):
        schema = responses[status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ServiceOut"}, status


def test_every_route_but_the_public_ones_names_its_security(spec: dict[str, Any]) -> None:
    schemes = spec["components"]["securitySchemes"]
    for method, path, operation in operations(spec):
        if (method, path) in PUBLIC:
            assert "security" not in operation, (method, path)
            continue
        assert operation.get("security"), (method, path)
        for requirement in operation["security"]:
            assert set(requirement) <= set(schemes), (method, path, requirement)


@pytest.mark.parametrize(
    ("path", "method", "scheme", "header"),
    [
        ("/rest/export/context/{name}", "get", "IkasanBasic", None),
        ("/etl-mgr/api/apijob", "post", "DiemApiKey", "x-api-key"),
        ("/{tenant}/api/v4/export", "post", "SparkSyntheticKey", "x-synthetic-key"),
        ("/admin/api/jobs/job", "get", "VoltMxClaims", "X-VoltMX-Authorization"),
    ],
)
def test_dialect_routes_document_their_own_credentials(
    spec: dict[str, Any], path: str, method: str, scheme: str, header: str | None
) -> None:
    operation = spec["paths"][path][method]
    assert {scheme: []} in operation["security"]
    definition = spec["components"]["securitySchemes"][scheme]
    if header is None:
        assert definition == {**definition, "type": "http", "scheme": "basic"}
    else:
        assert definition == {**definition, "type": "apiKey", "in": "header", "name": header}


@pytest.mark.parametrize(
    ("path", "method", "media_type", "schema"),
    [
        ("/rest/export/context/{name}", "get", "text/plain", {"type": "string"}),
        ("/etl-mgr/api/apijob", "post", "application/json", "DiemMessage"),
        ("/{tenant}/api/v4/export", "post", "application/json", "SparkError"),
        ("/admin/api/jobs/job", "get", "application/json", "VoltMxResult"),
        ("/authService/accounts/login", "post", "application/json", "VoltMxAuthError"),
    ],
)
def test_dialect_errors_are_documented_in_their_own_shapes(
    spec: dict[str, Any], path: str, method: str, media_type: str, schema: Any
) -> None:
    responses = spec["paths"][path][method]["responses"]
    expected = schema if isinstance(schema, dict) else {"$ref": f"#/components/schemas/{schema}"}
    for status in ("400", "401", "429", "503"):
        assert responses[status]["content"][media_type]["schema"] == expected, status
    if "login" not in path:
        for status in ("403", "404", "409"):
            assert responses[status]["content"][media_type]["schema"] == expected, status
