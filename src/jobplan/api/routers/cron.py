"""Cron preview: ``GET /api/v1/cron/preview``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from jobplan.service.cron_preview import MAX_PREVIEW_COUNT, preview_cron

router = APIRouter(prefix="/api/v1/cron", tags=["cron"])


class CronPreviewOut(BaseModel):
    expression: str
    timezone: str
    description: str
    next_fire_times: list[datetime]


@router.get("/preview", operation_id="cron_preview", response_model=CronPreviewOut)
def cron_preview(
    expression: Annotated[str, Query(min_length=1, max_length=512, examples=["0 15 10 ? * 6#3"])],
    tz: Annotated[str, Query(max_length=64)] = "UTC",
    count: Annotated[int, Query(ge=1, le=MAX_PREVIEW_COUNT)] = 5,
    after: Annotated[
        datetime | None, Query(description="Start instant (ISO 8601 with offset)")
    ] = None,
    dst_gap: Literal["skip", "run_at_gap_end"] = "skip",
) -> CronPreviewOut:
    """Next fire times of a Quartz cron expression in a time zone, with a plain-English
    description. Needs no credentials: it reads no stored data."""
    result = preview_cron(expression, tz, count, after, dst_gap)
    return CronPreviewOut(
        expression=result.expression,
        timezone=result.timezone,
        description=result.description,
        next_fire_times=result.next_fire_times,
    )
