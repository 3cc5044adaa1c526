"""The Volt MX Foundry Scheduling Job APIs and accounts login (seed:
voltmx-scheduling-job-apis.md), replayed against the real engine on both databases."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from support.api import ROOT_PASSWORD, ROOT_USER, Actor, make_tenant, make_user, wait_for

JOBS = "/admin/api/jobs"
SUCCESS = {"status": "SUCCESS", "result": None, "message": None, "token": None}

# --- the seed's samples, verbatim -------------------------------------------------------------

SEED_LIST_FIELDS = {
    "jobId",
    "jobName",
    "description",
    "cronExpression",
    "updatedUser",
    "updatedDate",
    "jobStatus",
    "jobHistoryTotal",
    "jobHistorySuccessCount",
    "jobHistoryFailCount",
    "jobHistorySucPercentage",
    "jobHistoryFailPercentage",
    "jobLastRunStatus",
    "jobNextRunTime",
}
SEED_HISTORY_FIELDS = {
    "jobRunId",
    "jobStartTime",
    "jobEndTime",
    "jobDuration",
    "executionFrequency",
    "executionStatus",
    "completeHistory",
}
SEED_JOB_DETAIL: dict[str, Any] = {
    "jobId": 1,
    "jobName": "job1",
    "jobFrequency": "41 5 * * * ? *",
    "jobServiceInfo": {
        "version": "1.0",
        "serviceType": "intSer",
        "serviceName": "openweather",
        "objectName": "",
        "operationName": "getWeather",
        "requestheaderMap": {},
        "serviceExecutionType": "SERVER_URL",
        "postData": '{"cityName":""}',
        "operationSecurityLevel": "public",
    },
    "jobStatus": "Active",
    "historyStrategy": "MINIMAL",
    "retentionPeriod": "30",
    "jobFrequencyInfo": {"frequencyType": 1, "minuteValues": [5]},
}
SEED_CREATE: dict[str, Any] = {
    "jobId": 2,
    "jobName": "testjob1",
    "jobFrequency": "19 0 * * * ? *",
    "description": "Job for testjob2",
    "jobServiceInfo": {
        "version": "1.0",
        "serviceType": "intSer",
        "serviceName": "jsonservices",
        "objectName": "",
        "operationName": "metadatajson",
        "requestheaderMap": {},
        "serviceExecutionType": "SERVER_URL",
        "postData": "{}",
        "operationSecurityLevel": "public",
    },
    "jobStatus": "Active",
    "historyStrategy": "OFF",
    "retentionPeriod": "30",
    "jobFrequencyInfo": {"frequencyType": 1, "minuteValues": [0], "hourValues": [1]},
}
SEED_UPDATE = SEED_CREATE | {"description": "Job for testjob 1"}


def seed_login(client: TestClient, userid: str, password: str, **extra: str) -> Any:
    return client.post(
        "/authService/accounts/login",
        data={"userid": userid, "password": password, **extra},
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


@pytest.fixture
def volt(client: TestClient) -> dict[str, str]:
    """Headers as Volt MX clients send them: the claims token from the login call."""
    response = seed_login(client, ROOT_USER, ROOT_PASSWORD)
    assert response.status_code == 200, response.text
    return {"X-VoltMX-Authorization": response.json()["claims_token"]["value"]}


def job_body(name: str, service: str = "echo", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(json.dumps(SEED_CREATE))
    body.pop("jobId")
    body.update({"jobName": name, "historyStrategy": "FULL"} | extra)
    body["jobServiceInfo"]["serviceName"] = service
    return body


def create(client: TestClient, headers: dict[str, str], body: dict[str, Any]) -> int:
    response = client.post(f"{JOBS}/job", headers=headers, json=body)
    assert response.status_code == 200, response.text
    assert response.json() == SUCCESS
    return int(response.headers["Location"].rsplit("/", 1)[1])


def fail(response: Any, status: int, *fragments: str) -> dict[str, Any]:
    """Assert a Volt MX ``FAIL`` envelope with ``status`` whose message holds ``fragments``."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"status", "result", "message", "token"}, body
    assert body["status"] == "FAIL" and body["token"] is None
    for fragment in fragments:
        assert fragment in body["message"], body["message"]
    return body


def history(client: TestClient, headers: dict[str, str], job_id: int) -> list[dict[str, Any]]:
    response = client.get(f"{JOBS}/history/{job_id}", headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()
    return items


def native_plan(client: TestClient, actor: Actor, name: str) -> dict[str, Any]:
    """The plan of a Volt MX job as the native API shows it (with its current document)."""
    found = client.get(
        "/api/v1/plans", headers=actor.headers, params={"folder": "voltmx", "name": name}
    ).json()
    assert len(found) == 1, found
    plan: dict[str, Any] = client.get(
        f"/api/v1/plans/{found[0]['id']}", headers=actor.headers
    ).json()
    return plan


def listed(client: TestClient, headers: dict[str, str]) -> dict[int, dict[str, Any]]:
    response = client.get(f"{JOBS}/job", headers=headers)
    assert response.status_code == 200, response.text
    return {item["jobId"]: item for item in response.json()}


# --- login -----------------------------------------------------------------------------------


def test_login_answers_the_seed_shape(client: TestClient) -> None:
    before = time.time()
    response = seed_login(client, ROOT_USER, ROOT_PASSWORD)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"profile", "claims_token", "refresh_token"}
    profile = body["profile"]
    assert set(profile) >= {
        "userid",
        "email",
        "firstname",
        "lastname",
        "user_attributes",
        "profile_attributes",
    }
    assert profile["userid"] == ROOT_USER
    assert profile["user_attributes"] == {"user_id": ROOT_USER}
    assert set(profile["profile_attributes"]) == {"firstname", "userid", "email", "lastname"}
    claims = body["claims_token"]
    assert set(claims) == {"value", "exp", "integrity_check_required"}
    assert claims["integrity_check_required"] is False
    assert isinstance(claims["exp"], int)
    assert before * 1000 + 800_000 < claims["exp"] <= (time.time() + 900) * 1000  # 15 min
    # the claims token is the X-VoltMX-Authorization value; the refresh token rotates
    token = {"X-VoltMX-Authorization": claims["value"]}
    assert client.get(f"{JOBS}/job", headers=token).json() == []
    refreshed = client.post(
        "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.text


@pytest.mark.parametrize(
    ("form", "status", "fragment"),
    [
        ({"userid": ROOT_USER, "password": "wrong"}, 401, "wrong"),
        ({"userid": "nobody", "password": "x"}, 401, "wrong"),
        ({"userid": ROOT_USER}, 400, "required"),
        ({}, 400, "required"),
        ({"userid": ROOT_USER, "password": ROOT_PASSWORD, "tenant": "elsewhere"}, 401, "tenant"),
    ],
)
def test_login_errors(client: TestClient, form: dict[str, str], status: int, fragment: str) -> None:
    response = client.post("/authService/accounts/login", data=form)
    assert response.status_code == status
    body = response.json()
    assert body["httpstatus"] == status and fragment in body["message"]


def test_login_is_throttled_as_native_login(client: TestClient) -> None:
    for _ in range(5):
        assert seed_login(client, "victim", "guess").status_code == 401
    throttled = seed_login(client, "victim", "guess")
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) >= 1
    assert "too many" in throttled.json()["message"]


# --- the seed, replayed ----------------------------------------------------------------------


def test_seed_requests_replayed(client: TestClient, volt: dict[str, str], root: Actor) -> None:
    assert client.get(f"{JOBS}/job", headers=volt).json() == []
    # job 1: the "Get All Job Details" sample sent back as a create body
    assert create(client, volt, {k: v for k, v in SEED_JOB_DETAIL.items() if k != "jobId"}) == 1
    # job 2: the "Create a Job" sample, verbatim (its jobId is given by us, in order)
    created = client.post(
        f"{JOBS}/job", headers=volt | {"Content-Type": "application/json"}, json=SEED_CREATE
    )
    assert created.status_code == 200 and created.json() == SUCCESS
    assert created.headers["Location"] == f"{JOBS}/2"

    jobs = listed(client, volt)
    assert sorted(jobs) == [1, 2]
    for item in jobs.values():
        assert set(item) >= SEED_LIST_FIELDS
        assert item["jobStatus"] == "Active" and item["updatedUser"] == ROOT_USER
        assert item["jobHistoryTotal"] == 0 and item["jobLastRunStatus"] is None
        assert item["jobHistorySucPercentage"] == 0 and item["jobHistoryFailPercentage"] == 0
        time.strptime(item["updatedDate"], "%Y-%m-%d %H:%M:%S")
        time.strptime(item["jobNextRunTime"], "%Y-%m-%d %H:%M:%S")
    assert jobs[1]["jobName"] == "job1" and jobs[1]["cronExpression"] == "41 5 * * * ? *"
    assert jobs[1]["description"] is None
    assert jobs[2]["description"] == "Job for testjob2"
    assert jobs[2]["jobNextRunTime"].endswith(":00:19")

    # "Get All Job Details with Job ID": the sample URL's form (job1) and the plain number
    detail = client.get(f"{JOBS}/job1", headers=volt)
    assert detail.status_code == 200, detail.text
    assert {k: detail.json()[k] for k in SEED_JOB_DETAIL} == SEED_JOB_DETAIL
    assert client.get(f"{JOBS}/1", headers=volt).json() == detail.json()
    second = client.get(f"{JOBS}/2", headers=volt).json()
    assert second["jobFrequency"] == "19 0 * * * ? *"
    assert second["jobFrequencyInfo"] == {"frequencyType": 1, "minuteValues": [0]}
    assert second["jobServiceInfo"] == SEED_CREATE["jobServiceInfo"]
    assert second["historyStrategy"] == "OFF" and second["retentionPeriod"] == "30"

    # "Update a Job", verbatim: same number, new description, a new plan version
    updated = client.put(f"{JOBS}/job", headers=volt, json=SEED_UPDATE)
    assert updated.status_code == 200 and updated.json() == SUCCESS
    assert client.get(f"{JOBS}/2", headers=volt).json()["description"] == "Job for testjob 1"
    plan = native_plan(client, root, "testjob1")
    assert plan["version"] == "1.0.1"

    # "Run a Job Now": jsonservices is not registered, so the run fails (saying why) and ends
    # at once (on_error: end); its history strategy is OFF, so Volt MX shows no history,
    # only the statistics
    ran = client.post(f"{JOBS}/job/run/2", headers=volt)
    assert ran.status_code == 200 and ran.json() == SUCCESS
    done = wait_for(
        lambda: (j := listed(client, volt)[2])["jobHistoryTotal"] == 1 and j, what="run counted"
    )
    assert done["jobLastRunStatus"] == "Fail"
    assert done["jobHistoryFailCount"] == 1 and done["jobHistorySuccessCount"] == 0
    assert done["jobHistoryFailPercentage"] == 100 and done["jobHistorySucPercentage"] == 0
    assert history(client, volt, 2) == []
    runs_url = f"/api/v1/runs?plan={plan['id']}"
    assert client.get(runs_url, headers=root.headers).json() == [], "history OFF keeps no run"
    # nothing is left open: the next run starts (and fails, and is counted) on its own
    assert client.post(f"{JOBS}/job/run/2", headers=volt).json() == SUCCESS
    wait_for(lambda: listed(client, volt)[2]["jobHistoryTotal"] == 2, what="second run counted")

    # "Delete a Job with Job ID", at the sample URL
    deleted = client.delete(f"{JOBS}/job1", headers=volt)
    assert deleted.status_code == 200 and deleted.json() == SUCCESS
    fail(client.get(f"{JOBS}/job1", headers=volt), 404, "job 1 not found")
    assert sorted(listed(client, volt)) == [2]
    # numbers are never reused
    assert create(client, volt, job_body("job3")) == 3


# --- real runs through the service registry --------------------------------------------------


@pytest.fixture
def service_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    calls: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length).decode()
            calls.append({"path": self.path, "body": body, "headers": dict(self.headers)})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps({"weather": "sunny", "asked": body}).encode())

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", calls
    server.shutdown()
    server.server_close()


def test_run_calls_the_registered_service(
    client: TestClient,
    volt: dict[str, str],
    root: Actor,
    service_server: tuple[str, list[dict[str, Any]]],
) -> None:
    base, calls = service_server
    registered = client.put(
        "/api/v1/services/openweather",
        headers=root.headers,
        json={"base_url": f"{base}/services/openweather"},
    )
    assert registered.status_code == 201, registered.text
    body = job_body("weather", service="openweather")
    body["jobServiceInfo"].update(
        operationName="getWeather",
        postData='{"cityName":"Paris"}',
        requestheaderMap={"X-Caller": "voltmx"},
    )
    job_id = create(client, volt, body)
    assert client.post(f"{JOBS}/job/run/{job_id}", headers=volt).json() == SUCCESS

    runs = wait_for(
        lambda: (
            (h := history(client, volt, job_id))
            and h[0]["jobEndTime"]  # the call ended...
            and h[0]["executionStatus"] not in ("Running", "Queued")  # ...and so did the run
            and h
        ),
        what="the run to end",
    )
    entry = runs[0]
    assert set(entry) >= SEED_HISTORY_FIELDS
    assert entry["executionStatus"] == "Success", entry
    assert entry["jobRunId"] == 1 and entry["completeHistory"] is True
    assert entry["executionFrequency"] == "19 0 * * * ? *"
    assert isinstance(entry["jobDuration"], int) and entry["jobDuration"] >= 0
    assert calls[0]["path"] == "/services/openweather/getWeather"
    assert json.loads(calls[0]["body"]) == {"cityName": "Paris"}
    assert calls[0]["headers"]["X-Caller"] == "voltmx"
    # the same run through the native API, with the service's answer as output
    run = client.get(f"/api/v1/runs/{entry['runId']}", headers=root.headers).json()
    assert run["status"] == "COMPLETE" and run["plan_path"] == "voltmx/weather"
    job_run = run["jobs"][0]
    assert job_run["http_status"] == 200
    output = client.get(f"/api/v1/job-runs/{job_run['id']}/output", headers=root.headers)
    assert "sunny" in output.text
    stats = listed(client, volt)[job_id]
    assert stats["jobHistorySuccessCount"] == 1 and stats["jobHistorySucPercentage"] == 100
    assert stats["jobLastRunStatus"] == "Success"


def test_run_of_an_unregistered_service_fails_with_a_message(
    client: TestClient, volt: dict[str, str], root: Actor
) -> None:
    job_id = create(client, volt, job_body("orphan", service="nowhere"))
    assert client.post(f"{JOBS}/job/run/{job_id}", headers=volt).json() == SUCCESS
    runs = wait_for(
        lambda: (
            (h := history(client, volt, job_id))
            and h[0]["jobEndTime"]  # the call ended...
            and h[0]["executionStatus"] not in ("Running", "Queued")  # ...and so did the run
            and h
        ),
        what="the run to end",
    )
    assert runs[0]["executionStatus"] == "Fail"
    assert "service 'nowhere' is not registered" in runs[0]["message"]
    run = client.get(f"/api/v1/runs/{runs[0]['runId']}", headers=root.headers).json()
    assert run["status"] == "ERROR"
    assert "not registered" in run["jobs"][0]["reason"]
    # the server goes on: other requests still work
    assert client.get("/healthz").status_code == 200


# --- frequency, status, history strategy -----------------------------------------------------


@pytest.mark.parametrize(
    ("info", "cron"),
    [
        ({"frequencyType": 1, "minuteValues": [15, 45]}, "0 15,45 * * * ? *"),
        ({"frequencyType": 1, "minuteValues": [0], "hourValues": [6]}, "0 0 */6 * * ? *"),
        ({"frequencyType": 2, "minuteValues": [30], "hourValues": [2, 14]}, "0 30 2,14 * * ? *"),
        (
            {"frequencyType": 3, "minuteValues": [0], "hourValues": [9], "weekValues": [2, 6]},
            "0 0 9 ? * 2,6 *",
        ),
        (
            {"frequencyType": 4, "minuteValues": [0], "hourValues": [1], "dayValues": [1, 15]},
            "0 0 1 1,15 * ? *",
        ),
    ],
)
def test_frequency_info_becomes_the_cron_and_back(
    client: TestClient, volt: dict[str, str], info: dict[str, Any], cron: str
) -> None:
    body = job_body("freq", jobFrequencyInfo=info)
    body.pop("jobFrequency")
    job_id = create(client, volt, body)
    detail = client.get(f"{JOBS}/{job_id}", headers=volt).json()
    assert detail["jobFrequency"] == cron
    assert detail["jobFrequencyInfo"] == info


def test_job_status_is_the_plan_enabled_state_and_the_number_is_stable(
    client: TestClient, volt: dict[str, str], root: Actor
) -> None:
    job_id = create(client, volt, job_body("sleepy", jobStatus="Inactive"))
    plan = native_plan(client, root, "sleepy")
    assert plan["enabled"] is False
    assert listed(client, volt)[job_id]["jobNextRunTime"] is None

    again = job_body("sleepy", jobStatus="Active", jobId=job_id, jobFrequency="0 0 12 * * ?")
    assert client.put(f"{JOBS}/job", headers=volt, json=again).json() == SUCCESS
    after = native_plan(client, root, "sleepy")
    assert after["id"] == plan["id"] and after["enabled"] is True
    item = listed(client, volt)[job_id]
    assert item["jobStatus"] == "Active" and item["jobNextRunTime"].endswith("12:00:00")
    assert item["cronExpression"] == "0 0 12 * * ?"

    # disabling natively shows as Inactive; deleting natively removes the job for good
    client.post(f"/api/v1/plans/{plan['id']}/disable", headers=root.headers)
    assert client.get(f"{JOBS}/{job_id}", headers=volt).json()["jobStatus"] == "Inactive"
    assert client.delete(f"/api/v1/plans/{plan['id']}", headers=root.headers).status_code == 204
    fail(client.get(f"{JOBS}/{job_id}", headers=volt), 404)
    assert create(client, volt, job_body("sleepy")) == job_id + 1


def test_history_strategy_and_retention_are_the_plan_policies(
    client: TestClient, volt: dict[str, str], root: Actor
) -> None:
    create(client, volt, job_body("kept", historyStrategy="ERROR", retentionPeriod="7"))
    document = native_plan(client, root, "kept")["document"]
    assert document["policies"]["history"] == "ERROR"
    assert document["policies"]["retention_days"] == 7
    assert document["window"] == {
        "cron": "19 0 * * * ? *",
        "timezone": "UTC",
        "ttl_seconds": None,
        "jitter_seconds": 0,
        "blackouts": [],
        "dst_gap": "skip",
        "calendar": None,
        "calendar_mode": "exclude",
    }
    (job,) = document["jobs"]
    assert job["kind"] == "http" and job["service"] == "echo"
    assert job["operation"] == "metadatajson" and job["method"] == "POST"


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "status", "fragments"),
    [
        ({"jobFrequency": "61 * * * * ?"}, 400, ["jobFrequency"]),
        ({"jobFrequency": None, "jobFrequencyInfo": None}, 400, ["jobFrequency"]),
        ({"jobFrequencyInfo": {"frequencyType": 9}}, 400, ["frequencyType"]),
        (
            {"jobFrequencyInfo": {"frequencyType": 3, "minuteValues": [0]}},
            400,
            ["weekValues"],
        ),
        (
            {"jobFrequencyInfo": {"frequencyType": 1, "minuteValues": [75]}},
            400,
            ["minuteValues"],
        ),
        ({"jobName": "bad name!"}, 400, ["jobName"]),
        ({"jobName": None}, 400, ["jobName"]),
        ({"jobServiceInfo": None}, 400, ["jobServiceInfo"]),
        ({"jobServiceInfo": {"serviceType": "xSer"}}, 400, ["serviceType"]),
        (
            {"jobServiceInfo": SEED_CREATE["jobServiceInfo"] | {"serviceName": "my service"}},
            400,
            ["jobServiceInfo.serviceName"],
        ),
        (
            {"jobServiceInfo": SEED_CREATE["jobServiceInfo"] | {"requestheaderMap": {"a b": "1"}}},
            400,
            ["jobServiceInfo.requestheaderMap"],
        ),
        (
            {"jobServiceInfo": SEED_CREATE["jobServiceInfo"] | {"serviceExecutionType": "X"}},
            400,
            ["serviceExecutionType"],
        ),
        ({"jobStatus": "Sometimes"}, 400, ["jobStatus"]),
        ({"historyStrategy": "ALL"}, 400, ["historyStrategy"]),
        ({"retentionPeriod": "forever"}, 400, ["retentionPeriod"]),
        ({"retentionPeriod": "0"}, 400, ["retentionPeriod"]),
    ],
)
def test_bad_bodies_fail_in_voltmx_style(
    client: TestClient,
    volt: dict[str, str],
    change: dict[str, Any],
    status: int,
    fragments: list[str],
) -> None:
    body = job_body("bad") | change
    fail(client.post(f"{JOBS}/job", headers=volt, json=body), status, *fragments)


@pytest.mark.parametrize(
    ("method", "path", "content", "status", "fragment"),
    [
        ("POST", "/job", b'{"jobName": ', 400, "not valid JSON"),
        ("POST", "/job", b"[1, 2]", 400, "JSON object"),
        ("PUT", "/job", json.dumps(job_body("x")).encode(), 400, "jobId"),
        ("PUT", "/job", json.dumps(job_body("x", jobId=99)).encode(), 404, "job 99 not found"),
        ("GET", "/77", b"", 404, "job 77 not found"),
        ("GET", "/jobx", b"", 400, "jobId"),
        ("GET", "/99999999999", b"", 400, "jobId"),
        ("DELETE", "/5", b"", 404, "job 5 not found"),
        ("GET", "/history/abc", b"", 400, "jobId"),
        ("GET", "/history/8", b"", 404, "job 8 not found"),
        ("POST", "/job/run/8", b"", 404, "job 8 not found"),
    ],
)
def test_bad_requests_fail_in_voltmx_style(
    client: TestClient,
    volt: dict[str, str],
    method: str,
    path: str,
    content: bytes,
    status: int,
    fragment: str,
) -> None:
    response = client.request(method, JOBS + path, headers=volt, content=content)
    fail(response, status, fragment)


def test_openapi_lists_the_dialect(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/authService/accounts/login", "/admin/api/jobs/job", "/api/v1/services"} <= set(paths)
    assert "/admin/api/jobs/{job_id}" in paths


def test_rename_and_duplicate_names_are_refused(client: TestClient, volt: dict[str, str]) -> None:
    job_id = create(client, volt, job_body("first"))
    create(client, volt, job_body("second"))
    fail(client.post(f"{JOBS}/job", headers=volt, json=job_body("first")), 409, "already exists")
    renamed = job_body("third", jobId=job_id)
    fail(client.put(f"{JOBS}/job", headers=volt, json=renamed), 400, "jobName", "renamed")


# --- credentials and tenants -----------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-VoltMX-Authorization": "not-a-token"},
        {"X-VoltMX-Authorization": "eyJhbGciOiJIUzI1NiJ9.e30.x"},
        {"X-VoltMX-Authorization": "jp_abc_def"},
        {"Authorization": "Bearer nonsense"},
        {"Authorization": "Basic !!!"},
        {"X-API-Key": "jp_nope_nope"},
    ],
)
def test_missing_or_wrong_credentials_are_401(client: TestClient, headers: dict[str, str]) -> None:
    for method, path in (("GET", "/job"), ("POST", "/job"), ("GET", "/1"), ("DELETE", "/1")):
        fail(client.request(method, JOBS + path, headers=headers, json={}), 401)


def test_native_credentials_work_too(client: TestClient, root: Actor) -> None:
    key = client.post("/api/v1/api-keys", headers=root.headers, json={"name": "volt"}).json()["key"]
    for headers in (
        root.headers,
        {"X-API-Key": key},
        {"X-VoltMX-Authorization": key},
        {"Authorization": f"Bearer {key}"},
    ):
        assert client.get(f"{JOBS}/job", headers=headers).status_code == 200


def test_tenants_and_roles(client: TestClient, volt: dict[str, str], root: Actor) -> None:
    mine = create(client, volt, job_body("private"))
    other = make_tenant(client, root, "other")
    login = seed_login(client, "other-admin", "other-admin-password", tenant="other").json()
    theirs = {"X-VoltMX-Authorization": login["claims_token"]["value"]}
    assert listed(client, theirs) == {}
    fail(client.get(f"{JOBS}/{mine}", headers=theirs), 404)
    fail(client.delete(f"{JOBS}/{mine}", headers=theirs), 404)
    fail(client.post(f"{JOBS}/job/run/{mine}", headers=theirs), 404)
    # numbering is per tenant
    assert create(client, theirs, job_body("private")) == 1
    assert [j["jobName"] for j in listed(client, volt).values()] == ["private"]
    assert other.tenant == "other"

    viewer = make_user(client, root, "vera", "viewer")
    viewer_volt = {"X-VoltMX-Authorization": viewer.headers["Authorization"][7:]}
    assert mine in listed(client, viewer_volt)
    fail(client.post(f"{JOBS}/job", headers=viewer_volt, json=job_body("v")), 403, "plans:write")
    fail(client.post(f"{JOBS}/job/run/{mine}", headers=viewer_volt), 403, "runs:write")
    fail(client.delete(f"{JOBS}/{mine}", headers=viewer_volt), 403)


# --- the service registry (native API) -------------------------------------------------------


def test_service_registry_crud_roles_and_tenants(client: TestClient, root: Actor) -> None:
    url = "/api/v1/services/Orders"
    created = client.put(url, headers=root.headers, json={"base_url": "https://a.example/o"})
    assert created.status_code == 201 and created.json()["name"] == "Orders"
    changed = client.put(url, headers=root.headers, json={"base_url": "https://b.example/o"})
    assert changed.status_code == 200 and changed.json()["base_url"] == "https://b.example/o"
    assert [s["name"] for s in client.get("/api/v1/services", headers=root.headers).json()] == [
        "Orders"
    ]
    assert client.get(url, headers=root.headers).json()["created_by"] == ROOT_USER

    bad_url = client.put(url, headers=root.headers, json={"base_url": "ftp://x"})
    assert bad_url.status_code == 422 and "base_url" in bad_url.json()["detail"]
    bad_name = client.put(
        "/api/v1/services/a b", headers=root.headers, json={"base_url": "http://x"}
    )
    assert bad_name.status_code == 422
    extra = client.put(url, headers=root.headers, json={"base_url": "http://x", "port": 1})
    assert extra.status_code == 422

    viewer = make_user(client, root, "val", "viewer")
    assert client.get(url, headers=viewer.headers).status_code == 200
    assert client.put(url, headers=viewer.headers, json={"base_url": "http://x"}).status_code == 403
    assert client.delete(url, headers=viewer.headers).status_code == 403

    other = make_tenant(client, root, "elsewhere")
    assert client.get(url, headers=other.headers).status_code == 404
    assert client.get("/api/v1/services", headers=other.headers).json() == []

    assert client.delete(url, headers=root.headers).status_code == 204
    assert client.delete(url, headers=root.headers).status_code == 404
    assert client.get("/api/v1/services").status_code == 401
