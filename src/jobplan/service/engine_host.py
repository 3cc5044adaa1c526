"""Run the engine inside a server process, wired to the services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from jobplan.engine.engine import Engine
from jobplan.engine.executors import CommandExecutor, Executor, HttpExecutor
from jobplan.service.container import Services

__all__ = ["hosted_engine"]


@asynccontextmanager
async def hosted_engine(services: Services) -> AsyncIterator[Engine]:
    """Start the engine with the standard executors; changes made through ``services`` wake
    it at once. Stops it (and its running jobs) on exit. When ``services.engine`` is already
    running (``jobplan serve`` starts it before importing the web application), that one is
    used, and left running."""
    if services.engine is not None:
        yield services.engine
        return
    settings = services.settings
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(HttpExecutor(resolver=services.registry))
        command = await stack.enter_async_context(
            CommandExecutor(kill_grace_seconds=settings.kill_grace_seconds)
        )
        executors: dict[str, Executor] = {"command": command, "http": http}
        engine = await stack.enter_async_context(
            Engine(
                settings,
                services.database,
                executors,
                state=services.state,
                also_runs=("transfers",) if settings.transfer_workers else (),
            )
        )
        services.connect_engine(engine.notify)
        protocol = services.agent_protocol
        protocol.writer = engine.writer  # agents' transactions join the engine's batches
        protocol.on_results = engine.notify
        engine.wake_agents = protocol.hub.wake
        engine.closing = lambda: protocol.closing
        try:
            yield engine
        finally:
            services.connect_engine(lambda: None)
            protocol.writer = None
            protocol.on_results = lambda: None
