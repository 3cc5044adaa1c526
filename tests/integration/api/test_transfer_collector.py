"""The cyclic garbage collector is paused only on worker threads (the pause is process-wide:
on a thread answering a request it would hold the collector for every other thread too).
Observed from inside the real work, on both databases: where the writer renders a plan's
entries and where an export's selection resolves a plan."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from jobplan.bundle import writer
from jobplan.service.container import Services
from support.api import ROOT_PASSWORD, ROOT_USER, Actor, sample_plan, wait_for


@pytest.fixture
def rendering(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """(thread name, collector enabled) each time the writer renders a plan's entries."""
    seen: list[tuple[str, bool]] = []
    real = writer.render_plan

    def observed(*args: Any, **kwargs: Any) -> Iterator[Any]:
        seen.append((threading.current_thread().name, gc.isenabled()))
        return real(*args, **kwargs)

    monkeypatch.setattr(writer, "render_plan", observed)
    return seen


@pytest.fixture
def resolving(services: Services, monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether the collector was enabled each time an export's selection resolved a plan."""
    seen: list[bool] = []
    real = services.plans.resolve

    def observed(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(services.plans, "resolve", observed)
    return seen


def _seed(client: TestClient, root: Actor) -> None:
    assert gc.isenabled()
    response = client.post("/api/v1/plans", headers=root.headers, json=sample_plan())
    assert response.status_code == 201, response.text


def test_the_synchronous_ikasan_export_leaves_the_collector_running(
    client: TestClient, root: Actor, rendering: list[tuple[str, bool]]
) -> None:
    _seed(client, root)
    response = client.get("/rest/export/context/nightly", auth=(ROOT_USER, ROOT_PASSWORD))
    assert response.status_code == 200, response.text
    assert rendering, "the plan was rendered"
    assert all(enabled for _, enabled in rendering), rendering
    assert gc.isenabled()


def test_an_export_job_pauses_it_on_its_worker_thread_only(
    client: TestClient,
    root: Actor,
    rendering: list[tuple[str, bool]],
    resolving: list[bool],
) -> None:
    _seed(client, root)
    response = client.post(
        "/api/v1/exports", headers=root.headers, json={"plans": ["finance/eod/nightly"]}
    )
    assert response.status_code == 202, response.text
    url = response.json()["status_url"]

    def done() -> dict[str, Any] | None:
        body: dict[str, Any] = client.get(url, headers=root.headers).json()
        return body if body["status"] not in ("created", "in_progress") else None

    assert wait_for(done, what="the export")["status"] == "completed"
    assert resolving == [True], "the request's selection ran with the collector on"
    ((thread, enabled),) = rendering
    assert thread.startswith("transfers-"), thread
    assert enabled is False, "the worker renders with the collector paused"
    assert gc.isenabled()
