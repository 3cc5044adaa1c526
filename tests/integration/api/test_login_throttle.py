"""The login throttle keeps its counts in the database: a restart or another node sees them."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from jobplan.api import create_app
from jobplan.errors import RateLimited
from jobplan.service.container import Services
from jobplan.service.throttle import LoginThrottle
from jobplan.settings import Settings
from jobplan.store import Database
from support.api import ROOT_PASSWORD, ROOT_USER


def _login(client: TestClient, password: str) -> int:
    response = client.post(
        "/oauth/token",
        data={"grant_type": "password", "username": ROOT_USER, "password": password},
    )
    return response.status_code


def test_a_restart_keeps_the_lockout(
    client: TestClient, api_settings: Settings, database_url: str
) -> None:
    for _ in range(api_settings.login_max_failures):
        assert _login(client, "wrong-password") == 400
    assert _login(client, ROOT_PASSWORD) == 429

    # a new process on the same database: new connection pool, services and application
    restarted = Database(database_url)
    try:
        with TestClient(create_app(api_settings, Services(api_settings, restarted))) as again:
            response = again.post(
                "/oauth/token",
                data={"grant_type": "password", "username": ROOT_USER, "password": ROOT_PASSWORD},
            )
            assert response.status_code == 429, response.text
            assert response.json()["error_description"].startswith("too many failed login")
            assert 1 <= int(response.headers["Retry-After"]) <= api_settings.login_window_seconds
    finally:
        restarted.dispose()


def test_the_window_ends_and_success_clears_the_user(database: Database) -> None:
    now = [1_000_000.0]
    throttle = LoginThrottle(database, max_failures=2, window=300, clock=lambda: now[0])
    throttle.attempt("user:a", "addr:1")
    now[0] += 100
    throttle.attempt("user:a", "addr:1")
    now[0] += 50
    with pytest.raises(RateLimited) as refused:
        throttle.attempt("user:a", "addr:2")
    assert refused.value.retry_after == 150  # the window started at the first failure
    # a refused attempt counted nothing: addr:2 still has both of its attempts
    throttle.attempt("user:b", "addr:2")
    now[0] += 150  # user:a's window is over
    good = throttle.attempt("user:a", "addr:1")  # addr:1's window is over too
    throttle.succeeded(good)
    # success cleared the user and took the attempt back from the address
    for _ in range(2):
        throttle.attempt("user:a", "addr:1")
    with pytest.raises(RateLimited):
        throttle.attempt("user:c", "addr:1")
