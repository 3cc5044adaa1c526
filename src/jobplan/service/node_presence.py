"""A server that runs no engine (``JOBPLAN_ENGINE_ENABLED=false``) still records itself as a
node and heartbeats, so ``jobplan nodes`` lists every ``jobplan serve``; the engine does this
itself when it runs (see ``Engine.__aenter__``)."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime, timedelta

from jobplan import __version__
from jobplan.logging import get_logger
from jobplan.settings import Settings
from jobplan.store import Database, new_id
from jobplan.store import runs as store

__all__ = ["hosted_presence"]

log = get_logger(__name__)


@asynccontextmanager
async def hosted_presence(
    database: Database, settings: Settings, loops: Sequence[str]
) -> AsyncIterator[str]:
    """Register a node running ``loops``, heartbeat every third of the lease, and mark it
    stopped on exit. Yields the node's id."""
    node_id = new_id()
    name = settings.node_name or f"{socket.gethostname()}:{os.getpid()}"
    every = max(0.5, settings.lease_seconds / 3)

    def register() -> None:
        with database.transaction() as conn:
            store.register_node(
                conn,
                node_id,
                name,
                datetime.now(UTC),
                host=socket.gethostname(),
                pid=os.getpid(),
                version=__version__,
                loops=loops,
            )

    def beat() -> None:
        now = datetime.now(UTC)
        with database.transaction() as conn:
            store.heartbeat(conn, node_id, now, now + timedelta(seconds=settings.lease_seconds))

    def stop() -> None:
        with database.transaction() as conn:
            store.stop_node(conn, node_id, datetime.now(UTC))

    async def heartbeats() -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await asyncio.to_thread(beat)
            except Exception as exc:  # a database outage must not end the heartbeats
                log.warning("node_heartbeat_failed", error=str(exc))

    await asyncio.to_thread(register)
    about = {
        "node_id": node_id,
        "node": name,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "version": __version__,
    }
    log.info("node.started", **about, loops=list(loops))
    task = asyncio.create_task(heartbeats(), name="jobplan-node-heartbeat")
    try:
        yield node_id
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        with suppress(Exception):
            await asyncio.to_thread(stop)
        log.info("node.stopped", **about)
