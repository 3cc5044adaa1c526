"""What the four dialects share (api/adapter.py, api/errors.py, api/uploads.py): one error
table, one caller resolver, one JSON and upload reader. Each test drives every dialect with
the same input and checks it answers the native API's status, in the dialect's own shape."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from jobplan.api import create_app
from jobplan.service.container import Services
from jobplan.settings import Settings
from support.api import ROOT_PASSWORD, ROOT_USER, Actor, login
from support.zips import make_zip

DIEM = "/etl-mgr/api/apijob"
SPARK = "/default/api/v4"
IKASAN_UPLOAD = "/rest/import/context"
AUTH = (ROOT_USER, ROOT_PASSWORD)
#: 1,000 nested arrays in 2 KB: deeper than Python's recursion limit.
NESTED = "[" * 1000 + "]" * 1000
#: JSON text of a string holding a lone UTF-16 surrogate: valid JSON, not storable text.
SURROGATE = '"x\\ud800y"'


@pytest.fixture
def key(client: TestClient, root: Actor) -> str:
    created = client.post("/api/v1/api-keys", headers=root.headers, json={"name": "dialects"})
    assert created.status_code == 201, created.text
    value: str = created.json()["key"]
    return value


@pytest.fixture
def quiet_client(api_settings: Settings, services: Services) -> Iterator[TestClient]:
    """The application without its engine and transfer workers: nothing but requests
    touches the database."""
    quiet = api_settings.model_copy(update={"engine_enabled": False, "transfer_workers": 0})
    with TestClient(create_app(quiet, services)) as test_client:
        yield test_client


@pytest.fixture
def outage(services: Services, tmp_path: Path) -> Iterator[None]:
    """The database goes away: every connection attempt fails (a real SQLite error, from a
    file in a folder that does not exist), until the test ends."""
    database = services.database
    working = database.engine
    broken = create_engine(f"sqlite:///{tmp_path / 'gone' / 'jobplan.db'}")
    database.engine = broken
    yield
    database.engine = working
    broken.dispose()


def diem_message(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"message"}, body
    text: str = body["message"]
    return text


def spark_error(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert (error["status"], error["code"]) == (status, code)
    text: str = error["message"]
    return text


def voltmx_failure(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert (body["status"], body["token"]) == ("FAIL", None)
    text: str = body["message"]
    return text


def ikasan_text(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/plain")
    text: str = response.text
    return text


def json_post(client: TestClient, url: str, headers: dict[str, str], body: str) -> Any:
    return client.post(url, headers={**headers, "Content-Type": "application/json"}, content=body)


# --- item 8: one error table ---------------------------------------------------------------


def test_a_database_outage_is_503_in_every_dialect(
    quiet_client: TestClient, request: pytest.FixtureRequest
) -> None:
    """Before: 503 natively and in Spark and Volt MX, 409 in DIEM, 400 in the Ikasan export."""
    client = quiet_client
    root = login(client, ROOT_USER, ROOT_PASSWORD)
    created = client.post("/api/v1/api-keys", headers=root.headers, json={"name": "outage"})
    key = created.json()["key"]
    request.getfixturevalue("outage")
    bearer = {"Authorization": f"Bearer {key}"}
    native = client.get("/api/v1/plans", headers=bearer)
    assert native.status_code == 503
    assert "unavailable" in native.json()["detail"]
    body = {"id": "x", "action": "status"}
    assert "unavailable" in diem_message(
        client.post(DIEM, headers={"x-api-key": key}, json=body), 503
    )
    spark = client.get(f"{SPARK}/export/status", headers=bearer)
    assert "unavailable" in spark_error(spark, 503, "SERVICE_UNAVAILABLE")
    volt = client.get("/admin/api/jobs/job", headers={"X-VoltMX-Authorization": key})
    assert "unavailable" in voltmx_failure(volt, 503)
    for path in ("/rest/export/context/AnyPlan", "/rest/context/status/json/allInstance"):
        assert "unavailable" in ikasan_text(client.get(path, auth=AUTH), 503)


@pytest.mark.usefixtures("root")
def test_a_throttled_login_is_429_with_retry_after_in_every_dialect(client: TestClient) -> None:
    """Item 15: the Ikasan routes answered a throttled login with 401 and no Retry-After."""
    wrong = (ROOT_USER, "wrong-password")
    for _ in range(5):
        assert client.get("/rest/context/status/json/allInstance", auth=wrong).status_code == 401
    paths = [
        "/rest/export/context/AnyPlan",
        "/rest/context/status/json/allInstance",
        "/rest/context/status/json/jobStatus",
        f"{IKASAN_UPLOAD}/00000000-0000-0000-0000-000000000000",
    ]
    for path in paths:
        throttled = client.get(path, auth=AUTH)  # even the right password, for now
        assert "try again later" in ikasan_text(throttled, 429)
        assert int(throttled.headers["Retry-After"]) >= 1
    upload = client.post(IKASAN_UPLOAD, auth=AUTH, files={"file": ("a.zip", b"PK")})
    ikasan_text(upload, 429)
    assert int(upload.headers["Retry-After"]) >= 1
    # Volt MX's Basic fallback and the native API agree
    volt = client.get("/admin/api/jobs/job", auth=AUTH)
    voltmx_failure(volt, 429)
    assert int(volt.headers["Retry-After"]) >= 1
    native = client.get("/api/v1/plans", auth=AUTH)
    assert native.status_code == 429 and int(native.headers["Retry-After"]) >= 1


# --- item 13: bodies that reached a 500 ----------------------------------------------------


def test_diem_authenticates_before_reading_the_body(client: TestClient) -> None:
    """Before: the body was parsed first, and a deeply nested one was a 500 for anyone."""
    response = json_post(client, DIEM, {}, NESTED)
    assert "x-api-key" in diem_message(response, 401)


def test_deeply_nested_json_is_a_4xx_in_every_dialect(
    client: TestClient, root: Actor, key: str
) -> None:
    bearer = {"Authorization": f"Bearer {key}"}
    words = "levels deep"
    assert words in diem_message(json_post(client, DIEM, {"x-api-key": key}, NESTED), 400)
    export = json_post(client, f"{SPARK}/export", bearer, NESTED)
    assert words in spark_error(export, 400, "BAD_REQUEST")
    nested_object = '{"inputs": {"services": ' + NESTED + "}}"
    export = json_post(client, f"{SPARK}/export", bearer, nested_object)
    assert words in spark_error(export, 400, "BAD_REQUEST")
    cancel = client.patch(
        f"{SPARK}/export/00000000-0000-0000-0000-000000000000",
        headers={**bearer, "Content-Type": "application/json"},
        content=NESTED,
    )
    assert words in spark_error(cancel, 400, "BAD_REQUEST")
    entity = client.post(
        f"{SPARK}/import",
        headers=bearer,
        files={"file": ("package.zip", make_zip({"manifest.json": {}}), "application/zip")},
        data={"importRequestEntity": '{"inputs": ' + NESTED + "}"},
    )
    assert "importRequestEntity" in spark_error(entity, 400, "BAD_REQUEST")
    volt = json_post(client, "/admin/api/jobs/job", {"X-VoltMX-Authorization": key}, NESTED)
    assert words in voltmx_failure(volt, 400)
    zip_part = {"file": ("a.zip", make_zip({"manifest.json": {}}), "application/zip")}
    form = client.post(IKASAN_UPLOAD, auth=AUTH, files=zip_part, data={"tokens": NESTED})
    assert "tokens" in ikasan_text(form, 400)
    header = client.post(
        IKASAN_UPLOAD,
        auth=AUTH,
        content=b"PK",
        headers={"Content-Type": "application/zip", "X-Tokens": '{"a": ' + NESTED + "}"},
    )
    assert "tokens" in ikasan_text(header, 400)
    native = client.post(
        "/api/v1/imports", headers=root.headers, files=zip_part, data={"tokens": NESTED}
    )
    assert native.status_code == 422, native.text
    assert native.json()["errors"][0]["field"] == "tokens"
    assert client.get("/api/v1/imports", headers=root.headers).json() == []
    assert client.get("/api/v1/exports", headers=root.headers).json() == []


def test_lone_surrogates_are_a_4xx_in_every_dialect(
    client: TestClient, root: Actor, key: str
) -> None:
    bearer = {"Authorization": f"Bearer {key}"}
    words = "surrogate"
    for body in (
        '{"id": ' + SURROGATE + ', "action": "status"}',
        '{"id": ' + SURROGATE + ', "action": "start"}',
    ):
        assert words in diem_message(json_post(client, DIEM, {"x-api-key": key}, body), 400)
    for body in (
        '{"inputs": {"services": [' + SURROGATE + "]}}",
        '{"inputs": {"folders": ["f"]}, "correlation_id": ' + SURROGATE + "}",
        '{"inputs": {"folders": ["f"]}, "source_system": ' + SURROGATE + "}",
        '{"inputs": {"folders": ["f"]}, ' + SURROGATE + ": 1}",
    ):
        response = json_post(client, f"{SPARK}/export", bearer, body)
        assert words in spark_error(response, 400, "BAD_REQUEST")
    entity = client.post(
        f"{SPARK}/import",
        headers=bearer,
        files={"file": ("package.zip", make_zip({"manifest.json": {}}), "application/zip")},
        data={"importRequestEntity": '{"correlation_id": ' + SURROGATE + "}"},
    )
    assert words in spark_error(entity, 400, "BAD_REQUEST")
    volt = json_post(
        client,
        "/admin/api/jobs/job",
        {"X-VoltMX-Authorization": key},
        '{"jobName": ' + SURROGATE + "}",
    )
    assert words in voltmx_failure(volt, 400)
    header = client.post(
        IKASAN_UPLOAD,
        auth=AUTH,
        content=b"PK",
        headers={"Content-Type": "application/zip", "X-Tokens": '{"a": ' + SURROGATE + "}"},
    )
    assert words in ikasan_text(header, 400)
    assert client.get("/api/v1/exports", headers=root.headers).json() == []
    assert client.get("/api/v1/imports", headers=root.headers).json() == []


def test_invalid_utf8_bodies_are_400(client: TestClient, key: str) -> None:
    body = b'{"id": "\xff\xfe", "action": "status"}'
    response = client.post(
        DIEM, headers={"x-api-key": key, "Content-Type": "application/json"}, content=body
    )
    assert "UTF-8" in diem_message(response, 400)
