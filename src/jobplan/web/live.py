"""Server-sent events that keep pages live without reloads.

A run page listens for ``update`` (then fetches its fragment); a job run page receives its
output as it is captured. Each stream reads one small, indexed thing per interval and sends
only when something changed, so an open page costs a query a second, not a page render.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from jobplan.errors import JobplanError
from jobplan.web.routing import console_router
from jobplan.web.session import SessionDep

__all__ = ["POLL_SECONDS", "router"]

router = console_router()

POLL_SECONDS = 1.0
_OUTPUT_POLL_SECONDS = 0.5
_KEEPALIVE_EVERY = 15
_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


def _event(name: str, data: str) -> str:
    lines = "".join(f"data: {line}\n" for line in data.split("\n"))
    return f"event: {name}\n{lines}\n"


@router.get("/runs/{run_id}/events")
async def run_events(request: Request, session: SessionDep, run_id: str) -> StreamingResponse:
    """``update`` whenever the run or one of its job runs changes state; ``ended`` once."""
    services, caller = session.services, session.caller
    await run_in_threadpool(services.runs.get, caller, run_id)  # 404 before streaming

    def fingerprint() -> tuple[object, ...]:
        view = services.runs.get(caller, run_id)
        jobs = tuple((j.id, j.status, j.attempt, j.acknowledged) for j in view.jobs)
        return (view.run.status, view.run.ended_at, jobs)

    async def stream() -> AsyncIterator[str]:
        last = await run_in_threadpool(fingerprint)
        idle = 0
        yield "retry: 2000\n\n"
        # the page may have been rendered before this stream opened (or before a reconnect):
        # one update now brings it to the state this stream compares against
        yield _event("update", run_id)
        while not await request.is_disconnected():
            await asyncio.sleep(POLL_SECONDS)
            try:
                current = await run_in_threadpool(fingerprint)
            except JobplanError as exc:  # signed out, run purged, database down
                yield _event("gone", exc.message)
                return
            if current != last:
                last, idle = current, 0
                yield _event("update", run_id)
            else:
                idle += 1
                if idle % _KEEPALIVE_EVERY == 0:
                    yield ": keep-alive\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream", headers=_HEADERS)


@router.get("/job-runs/{job_run_id}/output/events")
async def output_events(
    request: Request,
    session: SessionDep,
    job_run_id: str,
    after: Annotated[int, Query(ge=-1, le=2**31)] = -1,
) -> StreamingResponse:
    """``output`` events carry new text as JSON strings; ``done`` when the attempt ended."""
    services, caller = session.services, session.caller
    first = await run_in_threadpool(services.runs.output, caller, job_run_id, after_seq=after)

    async def stream() -> AsyncIterator[str]:
        view = first
        while True:
            if view.text:
                yield _event("output", json.dumps(view.text))
            if view.complete:
                yield _event("done", str(view.attempt))
                return
            if await request.is_disconnected():
                return
            await asyncio.sleep(_OUTPUT_POLL_SECONDS)
            try:
                view = await run_in_threadpool(
                    services.runs.output, caller, job_run_id, after_seq=view.next_seq
                )
            except JobplanError as exc:
                yield _event("gone", exc.message)
                return

    return StreamingResponse(stream(), media_type="text/event-stream", headers=_HEADERS)
