"""An application over each database, with a bootstrapped system administrator."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from jobplan.api import create_app
from jobplan.service.bootstrap import bootstrap_admin
from jobplan.service.container import Services
from jobplan.settings import Settings
from jobplan.store import Database
from support.api import ROOT_PASSWORD, ROOT_USER, Actor, login
from support.contract import watch


@pytest.fixture
def api_settings(tmp_path: Path) -> Settings:
    return Settings(
        home=tmp_path / "home",  # type: ignore[arg-type]
        admin_user=ROOT_USER,
        admin_password=ROOT_PASSWORD,
        argon2_memory_kib=1024,  # cheap hashing: tests log in hundreds of times
        argon2_time_cost=1,
    )


@pytest.fixture
def services(api_settings: Settings, database: Database) -> Iterator[Services]:
    api_settings.ensure_home()
    services = Services(api_settings, database)
    services.bootstrap = bootstrap_admin(database, api_settings, services.passwords)
    yield services


#: Where every response of every API test is checked against the OpenAPI document.
CHECKED_PREFIXES = ("/api/v1/", "/oauth/", "/healthz", "/livez", "/readyz", "/metrics")


@pytest.fixture
def client(api_settings: Settings, services: Services) -> Iterator[TestClient]:
    """The application; every response of jobplan's own API that a test receives is checked
    against the OpenAPI document the application serves (support/contract.py)."""
    with TestClient(create_app(api_settings, services)) as test_client:
        contract = watch(test_client, CHECKED_PREFIXES)
        yield test_client
    contract.assert_clean()


@pytest.fixture
def root(client: TestClient) -> Actor:
    """The bootstrapped system administrator (admin of tenant ``default``)."""
    return login(client, ROOT_USER, ROOT_PASSWORD)


@pytest.fixture
def gate(services: Services) -> Iterator[threading.Event]:
    """Holds running jobs at their first progress step until set (deterministic cancel and
    timeout tests; the work itself is real)."""
    release = threading.Event()
    reached = threading.Event()

    def hold() -> None:
        reached.set()
        release.wait(30)

    services.transfers.progress_hook = hold
    release.reached = reached  # type: ignore[attr-defined]
    yield release
    release.set()
    services.transfers.progress_hook = None
