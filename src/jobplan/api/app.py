"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from jobplan import __version__
from jobplan.api.errors import install_error_handlers
from jobplan.api.middleware import BodySizeLimit
from jobplan.api.routers import cron, health
from jobplan.settings import Settings

__all__ = ["create_app"]


def create_app(settings: Settings) -> FastAPI:
    """Build the HTTP application for ``settings``; nothing is read from the environment here."""
    app = FastAPI(
        title="jobplan",
        version=__version__,
        summary="Quartz-cron-scheduled, dependency-driven job plans for many tenants.",
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.include_router(health.router)
    app.include_router(cron.router)
    return app
