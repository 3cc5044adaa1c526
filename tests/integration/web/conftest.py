"""The console over each database: the API's app fixtures, plus a signed-in browser."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from integration.api.conftest import api_settings, client, root, services  # noqa: F401
from support.api import ROOT_PASSWORD, ROOT_USER


def sign_in(browser: TestClient, username: str, password: str) -> str:
    """Sign ``browser`` in through the form; returns the page's CSRF token."""
    response = browser.post("/signin", data={"username": username, "password": password})
    assert response.status_code == 200, response.text  # followed to /plans
    found = re.search(r'"X-CSRF-Token": "([0-9a-f]+)"', response.text)
    assert found, response.text[:500]
    return found.group(1)


@pytest.fixture
def csrf(request: pytest.FixtureRequest) -> str:
    """``client`` signed in as the bootstrapped administrator; its CSRF token."""
    return sign_in(request.getfixturevalue("client"), ROOT_USER, ROOT_PASSWORD)
