"""The web console: server-rendered pages (Jinja2 + htmx, server-sent events for live
states and logs) over the service layer, like the API. Every asset is served from the
package; no page loads anything from another host."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from jobplan.web import admin, agents, audit, backfills, calendars, live, nodes, secrets, transfers
from jobplan.web.pages import router

__all__ = ["STATIC_DIR", "install_console"]

#: The console's own styles and scripts; third-party ones are in ``static/vendor`` (see its
#: README), served at ``/static/vendor`` with the API's documentation assets.
STATIC_DIR = Path(__file__).resolve().parent.parent / "static" / "console"


def install_console(app: FastAPI) -> None:
    """Serve the console at ``/`` and its static files at ``/static/console``."""
    app.include_router(router)
    app.include_router(live.router)
    app.include_router(admin.router)
    app.include_router(nodes.router)
    app.include_router(agents.router)
    app.include_router(backfills.router)
    app.include_router(secrets.router)
    app.include_router(calendars.router)
    app.include_router(audit.router)
    app.include_router(transfers.router)
    app.mount("/static/console", StaticFiles(directory=STATIC_DIR), name="console")
