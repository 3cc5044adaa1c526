"""The FastAPI application factory."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp

from jobplan import __version__
from jobplan.api.dialects import diem, ikasan, spark, voltmx
from jobplan.api.errors import install_error_handlers
from jobplan.api.middleware import (
    AuditScopeMiddleware,
    BodySizeLimit,
    HttpMetrics,
    RejectNul,
    RequestContext,
)
from jobplan.api.openapi import install_docs, install_openapi
from jobplan.api.routers import (
    agent_protocol,
    agents,
    api_keys,
    audit,
    backfills,
    calendars,
    cron,
    folders,
    health,
    metrics,
    nodes,
    notifications,
    oauth,
    plans,
    registry,
    runs,
    secrets,
    tenants,
    transfers,
    users,
)
from jobplan.service.container import Services
from jobplan.service.engine_host import hosted_engine
from jobplan.service.node_presence import hosted_presence
from jobplan.service.readiness import ReadinessProbe
from jobplan.service.transfer_worker import hosted_transfers
from jobplan.settings import Settings

__all__ = ["UPLOAD_PATHS", "create_app"]

#: Paths that take bundle uploads: their bodies may be as large as a bundle may be.
UPLOAD_PATHS = re.compile(
    r"^(/api/v1/imports|/[^/]+/api/v4/import|/rest/import/.*|/transfers/imports)/?$"
)
_MULTIPART_OVERHEAD = 1024 * 1024


class _App(FastAPI):
    def build_middleware_stack(self) -> ASGIApp:
        # outside Starlette's own error middleware: a 500 answer carries the request id too,
        # and the unhandled error is logged with it
        return RequestContext(super().build_middleware_stack())


def create_app(settings: Settings, services: Services | None = None) -> FastAPI:
    """Build the HTTP application. With no ``services``, they are opened at start-up (and
    closed at shutdown) from ``settings``; nothing is read from the environment here."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = services is None
        current = services if services is not None else Services.open(settings)
        app.state.services = current
        current.agent_protocol.reopen()
        try:
            async with AsyncExitStack() as stack:
                if settings.engine_enabled:
                    app.state.engine = await stack.enter_async_context(hosted_engine(current))
                if settings.transfer_workers:
                    app.state.transfers = stack.enter_context(
                        hosted_transfers(
                            current.transfers,
                            settings.transfer_workers,
                            single_node=current.database.dialect == "sqlite",
                        )
                    )
                if not settings.engine_enabled:  # the engine records its node itself
                    also = ("transfers",) if settings.transfer_workers else ()
                    await stack.enter_async_context(
                        hosted_presence(current.database, settings, also)
                    )
                app.state.readiness = ReadinessProbe(
                    settings,
                    current.database,
                    engine=getattr(app.state, "engine", None),
                    transfers=getattr(app.state, "transfers", None),
                )
                try:
                    yield
                finally:  # open agent long-polls answer now, agents' job runs are left alone
                    current.agent_protocol.begin_shutdown()
        finally:
            if owned:
                current.close()

    app = _App(
        title="jobplan",
        version=__version__,
        summary="Quartz-cron-scheduled, dependency-driven job plans for many tenants.",
        docs_url=None,  # served by install_docs, from the package
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(AuditScopeMiddleware)
    app.add_middleware(RejectNul)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        upload_paths=UPLOAD_PATHS,
        upload_max_bytes=settings.max_package_bytes + _MULTIPART_OVERHEAD,
    )
    app.add_middleware(HttpMetrics)  # outermost: refusals at the edge are counted too
    for module in (health, oauth, cron, tenants, users, api_keys, folders, plans, runs, registry):
        app.include_router(module.router)
    app.include_router(metrics.router)
    app.include_router(transfers.router)
    app.include_router(notifications.router)
    app.include_router(nodes.router)
    app.include_router(agents.router)
    app.include_router(agent_protocol.router)
    app.include_router(backfills.router)
    app.include_router(secrets.router)
    app.include_router(calendars.router)
    app.include_router(audit.router)
    app.include_router(diem.router)
    app.include_router(ikasan.router)
    app.include_router(spark.router)
    app.include_router(voltmx.router)
    install_openapi(app)
    install_docs(app)
    from jobplan.web import install_console  # the app factory composes every HTTP adapter

    install_console(app)
    return app
