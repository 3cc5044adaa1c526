"""``jobplan serve``'s event loop: the engine first, then the web application beside it.

The scheduler needs none of the HTTP adapters, which take most of a start's time to import
(FastAPI, every router and dialect, the console): the engine starts, and ticks, while they
are imported in a worker thread; uvicorn then serves the application on the same loop, whose
lifespan uses the running engine (``Services.engine``) instead of starting another.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

from jobplan.service.container import Services
from jobplan.settings import Settings

__all__ = ["serve_until_stopped"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def serve_until_stopped(settings: Settings, services: Services) -> bool:
    """Run the engine and the HTTP server until SIGINT or SIGTERM. ``False`` when the HTTP
    server did not start (the port taken, the application failed), ``True`` otherwise,
    stopped by a signal included. Either way the engine has stopped when this returns."""
    stops: list[int] = []
    serving: list[Any] = []  # the uvicorn server, once there is one

    def stop(sig: int, frame: FrameType | None) -> None:
        # before uvicorn takes the signals over (while the application is imported) and
        # after it hands them back: uvicorn raises the signal it stopped on again, under the
        # handler it found, which must not kill the process before the engine has stopped
        stops.append(sig)
        for server in serving:
            server.should_exit = True

    previous = {sig: signal.signal(sig, stop) for sig in _SIGNALS}
    try:
        with asyncio.Runner(loop_factory=_loop_factory(settings)) as runner:
            return runner.run(_serve(settings, services, stops, serving))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


async def _serve(
    settings: Settings, services: Services, stops: list[int], serving: list[Any]
) -> bool:
    if not settings.engine_enabled:
        return await _http(settings, services, stops, serving)
    from jobplan.service.engine_host import hosted_engine

    async with hosted_engine(services) as engine:
        services.engine = engine  # the application's lifespan uses it
        try:
            started = await _http(settings, services, stops, serving)
        finally:
            services.engine = None
    return started


async def _http(
    settings: Settings, services: Services, stops: list[int], serving: list[Any]
) -> bool:
    import uvicorn

    # off the loop: the engine's loops keep running while the adapters are imported
    app = await asyncio.to_thread(_application, settings, services)
    if stops:
        return True  # stopped before serving

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            # before uvicorn waits for open requests: agents' claim long-polls answer now
            services.agent_protocol.begin_shutdown()
            super().handle_exit(sig, frame)

    server = Server(uvicorn.Config(app, **_options(settings)))
    serving.append(server)
    await server.serve()
    return bool(server.started)


def _application(settings: Settings, services: Services) -> Any:
    from jobplan.api import create_app

    return create_app(settings, services)


def _options(settings: Settings) -> dict[str, Any]:
    return {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,  # jobplan's logging stays as configured
        # one access line per request comes from jobplan (with its request id)
        "access_log": False,
        # client addresses feed login throttling: never take them from X-Forwarded-For
        "proxy_headers": False,
    }


def _loop_factory(settings: Settings) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop ``uvicorn.run`` would use (uvloop when installed)."""
    from uvicorn import Config

    return Config(app="jobplan.api:create_app", **_options(settings)).get_loop_factory()
