"""Liveness endpoint."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from jobplan import __version__

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    version: str


@router.get("/healthz", operation_id="healthz", response_model=Health)
async def healthz() -> Health:
    """Answers 200 while the server is up."""
    return Health(status="ok", version=__version__)
