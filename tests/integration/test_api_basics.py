"""The HTTP surface that needs no store: health, OpenAPI, cron preview, error shapes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from jobplan.api import create_app
from jobplan.settings import Settings


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_healthz_reports_ok_and_version(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["version"]


def test_openapi_and_docs_are_served(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/api/v1/cron/preview" in spec["paths"]
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


def test_every_answer_declares_the_x_request_id_it_carries(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    header = spec["components"]["headers"]["RequestId"]
    assert header["required"] is True
    undeclared = [
        f"{method.upper()} {path} {status}"
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        for status, response in operation["responses"].items()
        if response.get("headers", {}).get("X-Request-ID")
        != {"$ref": "#/components/headers/RequestId"}
    ]
    assert undeclared == []
    # and the header is there, on a success and on an error alike
    sent = client.get("/api/v1/cron/preview", params={"expression": "0 0 * * * ?"})
    refused = client.get("/api/v1/cron/preview", params={"expression": "nope"})
    assert sent.headers["X-Request-ID"] and refused.headers["X-Request-ID"]


def test_cron_preview_lists_fire_times_in_the_zone(client: TestClient) -> None:
    response = client.get(
        "/api/v1/cron/preview",
        params={
            "expression": "0 15 10 ? * 6#3",
            "tz": "Europe/London",
            "count": 3,
            "after": "2026-01-01T00:00:00Z",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    times = [datetime.fromisoformat(t) for t in body["next_fire_times"]]
    # 6#3 is the third Friday (Quartz: 1 = SUN), at 10:15 London time.
    assert [t.date().isoformat() for t in times] == ["2026-01-16", "2026-02-20", "2026-03-20"]
    assert all((t.hour, t.minute, t.weekday()) == (10, 15, 4) for t in times)
    assert body["timezone"] == "Europe/London"
    assert "friday" in body["description"].lower()


@pytest.mark.parametrize(
    ("params", "field", "fragment"),
    [
        ({"expression": "0 0 12 * * MON"}, "expression", "day-of"),
        ({"expression": "0 61 * * * ?"}, "expression", "61"),
        ({"expression": "0 0 12 * * ?", "tz": "Mars/Olympus"}, "tz", "Mars/Olympus"),
        ({"expression": "0 0 12 * * ?", "count": 0}, "count", "greater"),
        ({"expression": "0 0 12 * * ?", "count": "many"}, "count", "integer"),
        ({"expression": "0 0 12 * * ?", "after": "2026-01-01T00:00:00"}, "after", "offset"),
        ({}, "expression", "required"),
    ],
)
def test_cron_preview_bad_input_is_422_naming_the_field(
    client: TestClient, params: dict[str, object], field: str, fragment: str
) -> None:
    response = client.get("/api/v1/cron/preview", params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 422
    assert any(e["field"].endswith(field) for e in problem["errors"]), problem
    assert fragment.lower() in problem["detail"].lower()


def test_unknown_route_is_problem_json_404(client: TestClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "/api/v1/nothing-here" in response.json()["detail"]


def test_oversized_body_is_refused_with_413(tmp_path: object) -> None:
    small = Settings(home=str(tmp_path), max_body_bytes=1024)  # type: ignore[arg-type]
    with TestClient(create_app(small)) as client:
        response = client.post("/api/v1/cron/preview", content=b"x" * 5000)
    assert response.status_code == 413
    assert "1024" in response.json()["detail"]
