"""A node's first start in a process of its own (alembic keeps its migration context in module
globals, so two starts cannot share a process): opens the services, as ``jobplan serve`` does,
once every node is ready, and reports what it did."""

from __future__ import annotations

from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path


def first_start(url: str, home: Path, ready: Barrier, results: Queue[str]) -> None:
    """Put ``admin`` (this start created the administrator), ``none`` or the error on
    ``results``."""
    from jobplan.service.container import Services
    from jobplan.settings import Settings

    settings = Settings(home=home, database_url=url, secret_key="s" * 40)
    ready.wait()
    try:
        services = Services.open(settings)
    except Exception as exc:  # the test reports it
        results.put(f"error: {type(exc).__name__}: {exc}")
        return
    results.put("none" if services.bootstrap is None else "admin")
    services.close()
