"""A real :class:`Engine` running in a thread of its own (its own event loop), for tests that
drive it from the outside as the API does: through the services, from another thread."""

from __future__ import annotations

import asyncio
import faulthandler
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from jobplan.engine.engine import Engine
from jobplan.engine.executors import Executor
from jobplan.engine.state import RunState
from jobplan.settings import Settings
from jobplan.store import Database

__all__ = ["live_engine"]


@contextmanager
def live_engine(
    settings: Settings,
    database: Database,
    executors: Mapping[str, Executor],
    *,
    state: RunState | None = None,
) -> Iterator[Engine]:
    """Start an engine in a background thread; stop it (and its jobs) on exit."""
    started = threading.Event()
    holder: dict[str, object] = {}

    async def main() -> None:
        stop = asyncio.Event()
        holder["loop"] = asyncio.get_running_loop()
        holder["stop"] = stop
        try:
            async with Engine(settings, database, executors, state=state) as engine:
                holder["engine"] = engine
                started.set()
                await stop.wait()
        except BaseException as exc:
            holder["error"] = exc
            raise
        finally:
            started.set()

    # a daemon: an engine that fails to stop fails its test instead of hanging the session
    thread = threading.Thread(target=asyncio.run, args=(main(),), name="live-engine", daemon=True)
    thread.start()
    started.wait(60)
    if "engine" not in holder:
        thread.join(10)
        raise AssertionError(f"the engine did not start: {holder.get('error')!r}")
    engine = holder["engine"]
    assert isinstance(engine, Engine)
    try:
        yield engine
    finally:
        loop = holder["loop"]
        stop = holder["stop"]
        assert isinstance(loop, asyncio.AbstractEventLoop) and isinstance(stop, asyncio.Event)
        loop.call_soon_threadsafe(stop.set)
        thread.join(60)
        if thread.is_alive():
            faulthandler.dump_traceback(all_threads=True)  # where it is stuck, for the log
            raise AssertionError("the engine did not stop")
