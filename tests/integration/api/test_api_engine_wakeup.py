"""A run started through the API wakes the engine at once, from the API's worker thread.

The engine polls only every 60 s here, so nothing but the wake-up can explain a run executing
within the test's timeout (a liveness check, not a timing assertion). The engine's event loop
runs in asyncio debug mode, which refuses loop operations from other threads: waking the
engine by setting its asyncio events from a worker thread fails there, as it should.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from jobplan.service.container import Services
from jobplan.settings import Settings
from support.api import ROOT_PASSWORD, ROOT_USER, Actor, run_detail, wait_for


@pytest.fixture(autouse=True)
def asyncio_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONASYNCIODEBUG", "1")


@pytest.fixture
def api_settings(tmp_path: Path) -> Settings:
    return Settings(
        home=tmp_path / "home",  # type: ignore[arg-type]
        admin_user=ROOT_USER,
        admin_password=ROOT_PASSWORD,
        argon2_memory_kib=1024,
        argon2_time_cost=1,
        engine_poll_seconds=60,
    )


def test_a_run_started_through_the_api_executes_without_waiting_for_a_poll(
    client: TestClient, root: Actor, services: Services
) -> None:
    engine = client.app.state.engine  # type: ignore[attr-defined]
    assert engine.state is services.state, "the API's runs go through the engine's run state"
    body = {"name": "now", "jobs": [{"name": "a", "kind": "command", "command": "echo hi"}]}
    created = client.post("/api/v1/plans", headers=root.headers, json=body)
    assert created.status_code == 201, created.text
    for _ in range(2):  # the second start finds the engine asleep again
        started = client.post(f"/api/v1/plans/{created.json()['id']}/runs", headers=root.headers)
        assert started.status_code == 201, started.text
        run_id = started.json()["run"]["id"]
        run = wait_for(
            lambda run_id=run_id: (lambda r: r if r["status"] == "COMPLETE" else None)(
                run_detail(client, root, run_id)
            ),
            30,
            "the run to complete",
        )
        assert run["jobs"][0]["status"] == "COMPLETE"
