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

The key is a jobplan API key (``jp_...``) or an access token; a missing or wrong one is 401,
an unknown plan 404, each with a message.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from jobplan.api.deps import ServicesDep
from jobplan.api.dialects._body import json_object
from jobplan.errors import (
    AuthenticationFailed,
    InvalidInput,
    JobplanError,
    NotFound,
    PermissionDenied,
)
from jobplan.service.auth import parse_api_key
from jobplan.service.caller import Caller
from jobplan.service.container import Services

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


def _message(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status)


def _authenticate(services: Services, key: str | None) -> Caller:
    if not key:
        raise AuthenticationFailed("missing x-api-key header")
    if parse_api_key(key) is not None:
        return services.auth.authenticate_api_key(key)
    return services.auth.authenticate_access_token(key)


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
        body = await json_object(request, 'such as {"id": ..., "action": ...}', empty={})
        caller = await _run(_authenticate, services, x_api_key)
        job = body.get("id")
        action = body.get("action", action_query)
        if action not in ACTIONS:
            return _message(400, "not a valid method")
        if not isinstance(job, str) or not job or len(job) > 700:
            raise InvalidInput('give the job as "id": the plan id or name')
        if action == "start":
            started = await _run(services.runs.start_unless_running, caller, job)
            return _message(200, "job started" if started else "job already running")
        if action == "stop":
            stopped = await _run(services.runs.stop_open_runs, caller, job)
            return _message(200, "job stopped" if stopped else "job already stopped")
        latest = await _run(services.runs.latest_run, caller, job)
        return _message(
            200, STATUS_WORDS.get(latest.status, latest.status) if latest else NO_RUN_YET
        )
    except AuthenticationFailed as exc:
        return _message(401, exc.message)
    except PermissionDenied as exc:
        return _message(403, exc.message)
    except NotFound as exc:
        return _message(404, f"job {exc.key!r} not found")
    except InvalidInput as exc:
        return _message(400, exc.message)
    except JobplanError as exc:
        return _message(409, exc.message)


async def _run(fn: Any, *args: Any) -> Any:
    """Service calls are blocking (database, password hashing): run them off the loop."""
    return await run_in_threadpool(fn, *args)
