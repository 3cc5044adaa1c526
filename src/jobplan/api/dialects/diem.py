"""IBM DIEM's job API: ``POST /etl-mgr/api/apijob`` with header ``x-api-key``.

Body ``{"id": <plan id or name>, "action": "start" | "stop" | "status"}`` (``action`` may also
come as a query parameter). Answers are ``{"message": ...}``, as DIEM's are:

===========  ==================================================================
action       message
===========  ==================================================================
``start``    ``job started`` / ``job already running``
``stop``     ``job stopped`` / ``job already stopped``
``status``   the latest run's status word (see :data:`STATUS_WORDS`)
other        ``not a valid method`` (400)
===========  ==================================================================

The key is a jobplan API key (``jp_...``) or an access token, checked before the body is
read; a missing or wrong one is 401, an unknown plan 404, each with a message. Other errors
take the status of :data:`jobplan.api.errors.ERROR_TABLE` (invalid input 400).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse

from jobplan.api.adapter import Credentials, read_json_object, resolve_caller, run_blocking
from jobplan.api.deps import ServicesDep
from jobplan.api.errors import error_answer
from jobplan.errors import InvalidInput, JobplanError, NotFound

router = APIRouter(tags=["dialect: IBM DIEM"])

#: Our plan-run statuses as DIEM's job status words.
STATUS_WORDS = {
    "QUEUED": "Submitted",
    "RUNNING": "Running",
    "COMPLETE": "Completed",
    "ERROR": "Failed",
    "ENDED": "Stopped",
}
NO_RUN_YET = "Pending"
ACTIONS = ("start", "stop", "status")


def _message(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status, headers=headers)


def _failure(exc: JobplanError) -> JSONResponse:
    """An error in DIEM's shape, with the status every adapter gives it."""
    answer = error_answer(exc, invalid_status=400)
    message = f"job {exc.key!r} not found" if isinstance(exc, NotFound) else answer.message
    return _message(answer.status, message, answer.headers)


@router.post(
    "/etl-mgr/api/apijob",
    operation_id="diem_apijob",
    summary="Start, stop or get the status of a job (IBM DIEM)",
)
async def apijob(
    request: Request,
    services: ServicesDep,
    x_api_key: Annotated[str | None, Header(alias="x-api-key")] = None,
    action_query: Annotated[str | None, Query(alias="action", max_length=20)] = None,
) -> JSONResponse:
    try:
        credentials = Credentials(secret=x_api_key, missing="missing x-api-key header")
        caller = await resolve_caller(services, credentials)
        body = await read_json_object(request, 'such as {"id": ..., "action": ...}', empty={})
        job = body.get("id")
        action = body.get("action", action_query)
        if action not in ACTIONS:
            return _message(400, "not a valid method")
        if not isinstance(job, str) or not job or len(job) > 700:
            raise InvalidInput('give the job as "id": the plan id or name')
        if action == "start":
            started = await run_blocking(services.runs.start_unless_running, caller, job)
            return _message(200, "job started" if started else "job already running")
        if action == "stop":
            stopped = await run_blocking(services.runs.stop_open_runs, caller, job)
            return _message(200, "job stopped" if stopped else "job already stopped")
        latest = await run_blocking(services.runs.latest_run, caller, job)
        return _message(
            200, STATUS_WORDS.get(latest.status, latest.status) if latest else NO_RUN_YET
        )
    except JobplanError as exc:
        return _failure(exc)
