"""Volt MX Foundry's Scheduling Job APIs and accounts login, at their own paths.

* ``POST /authService/accounts/login`` (form ``userid``, ``password``; optional ``tenant``)
  answers ``profile``, ``claims_token`` (our access token; ``exp`` in epoch milliseconds) and
  ``refresh_token`` (our rotating refresh token).
* ``/admin/api/jobs/...`` take ``X-VoltMX-Authorization: <claims token>`` (an API key works
  too), or our own credentials (``Authorization: Bearer``, ``X-API-Key``, HTTP Basic).
* Writes answer Volt MX's envelope ``{"status", "result", "message", "token"}``: ``SUCCESS``
  with nulls, or ``FAIL`` with a ``message`` (and field errors in ``result``) and a 4xx status.

Jobs are plans (folder ``voltmx``) translated by :mod:`.voltmx_mapping`; numbering, history
and runs come from :class:`~jobplan.service.voltmx.VoltMxJobService`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Header, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import ValidationError

from jobplan.api.adapter import (
    Credentials,
    client_address,
    native_credentials,
    read_json_object,
    resolve_caller,
    run_blocking,
)
from jobplan.api.deps import ServicesDep
from jobplan.api.dialects.voltmx_mapping import (
    JobIn,
    document_of,
    job_detail,
    run_status_word,
    timestamp,
    volt_field,
)
from jobplan.api.errors import error_answer, validation_field_errors
from jobplan.errors import (
    InvalidInput,
    JobplanError,
    NotFound,
)
from jobplan.model import PlanDocument
from jobplan.service.caller import Caller
from jobplan.service.container import Services
from jobplan.service.voltmx import VoltMxJob, VoltMxRun


class _VoltMxRoute(APIRoute):
    """A route whose every error (credentials, validation, service) leaves as a ``FAIL``
    envelope."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                return _failure(exc)

        return guarded


router = APIRouter(tags=["dialect: Volt MX"])
jobs_router = APIRouter(tags=["dialect: Volt MX"], route_class=_VoltMxRoute)

_JOB_ID = re.compile(r"(?:job)?(\d{1,10})")
_MAX_JOB_ID = 2_147_483_647

JobIdParam = Annotated[
    str, Path(max_length=20, description="Job id (``2``, or ``job2`` as in Volt MX's samples).")
]
VoltAuth = Annotated[
    str | None,
    Header(
        alias="X-VoltMX-Authorization",
        description="The claims token from /authService/accounts/login (or an API key).",
    ),
]

# --- envelope and errors ----------------------------------------------------------------------


def envelope(
    status: int = 200, message: str | None = None, result: Any = None, **headers: str
) -> JSONResponse:
    """Volt MX's operation result: ``SUCCESS`` below 400, else ``FAIL`` with a message."""
    body = {
        "status": "SUCCESS" if status < 400 else "FAIL",
        "result": result,
        "message": message,
        "token": None,
    }
    return JSONResponse(body, status_code=status, headers=headers or None)


def _failure(exc: Exception) -> JSONResponse:
    """An error as a ``FAIL`` envelope with the matching HTTP status."""
    if isinstance(exc, ValidationError | RequestValidationError):
        items = [
            {"field": volt_field(item["field"]), "message": item["message"]}
            for item in validation_field_errors(exc)
        ]
        summary = "; ".join(f"{i['field']}: {i['message']}" for i in items[:5])
        return envelope(400, summary, items)
    if isinstance(exc, JobplanError):
        answer = error_answer(exc, invalid_status=400)
        message = answer.message
        if isinstance(exc, NotFound):
            message = f"{exc.kind} {exc.key} not found"
        elif isinstance(exc, InvalidInput) and exc.field:
            message = f"{volt_field(exc.field)}: {exc.detail}"
        return envelope(answer.status, message, **answer.headers)
    if isinstance(exc, ValueError):
        return envelope(400, str(exc))
    raise exc


async def _caller(request: Request, services: ServicesDep, voltmx_token: VoltAuth = None) -> Caller:
    """``X-VoltMX-Authorization`` (claims token or API key), else our own credentials."""
    if voltmx_token and voltmx_token.strip():
        credentials = Credentials(secret=voltmx_token.strip())
    else:
        credentials = native_credentials(
            request,
            missing="X-VoltMX-Authorization header is required: the claims token from "
            "/authService/accounts/login",
        )
    return await resolve_caller(services, credentials)


def _job_number(job_id: JobIdParam) -> int:
    match = _JOB_ID.fullmatch(job_id)
    if match is None or int(match.group(1)) > _MAX_JOB_ID:
        raise InvalidInput(f"{job_id!r} is not a job id: give the job's number", field="jobId")
    return int(match.group(1))


VoltCaller = Annotated[Caller, Depends(_caller)]
JobNumber = Annotated[int, Depends(_job_number)]


async def _body(request: Request) -> JobIn:
    return JobIn.model_validate(await read_json_object(request, "describing the job"))


def _document(body: JobIn) -> PlanDocument:
    return PlanDocument.model_validate(document_of(body))


# --- login ------------------------------------------------------------------------------------


def _profile(services: Services, access_token: str) -> dict[str, Any]:
    caller = services.auth.authenticate_access_token(access_token)
    user = services.users.get(caller, "me").user
    first, _, last = user.display_name.partition(" ")
    email = user.username if "@" in user.username else None
    names = {"firstname": first or None, "lastname": last or None}
    return {
        "userid": user.username,
        "email": email,
        **names,
        "user_attributes": {"user_id": user.username},
        "profile_attributes": {**names, "userid": user.username, "email": email},
    }


def _login_error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse(
        {"domain": "AUTH", "message": message, "httpstatus": status},
        status_code=status,
        headers={"Cache-Control": "no-store", **headers},
    )


@router.post("/authService/accounts/login", operation_id="voltmx_login")
async def login(
    request: Request,
    services: ServicesDep,
    userid: Annotated[str | None, Form(max_length=64)] = None,
    password: Annotated[str | None, Form(max_length=1024)] = None,
    tenant: Annotated[str | None, Form(max_length=64)] = None,
    x_tenant: Annotated[str | None, Header(max_length=64)] = None,
) -> JSONResponse:
    """Log in: the claims token is a jobplan access token, for ``X-VoltMX-Authorization``."""
    if not userid or not password:
        return _login_error(400, "userid and password are required (form fields)")
    issued = int(time.time())
    try:
        pair = await run_blocking(
            services.auth.password_grant,
            userid,
            password,
            tenant or x_tenant,
            client_address(request),
        )
        profile = await run_blocking(_profile, services, pair.access_token)
    except JobplanError as exc:
        answer = error_answer(exc, invalid_status=400)
        return _login_error(answer.status, answer.message, **answer.headers)
    body = {
        "profile": profile,
        "claims_token": {
            "value": pair.access_token,
            # the token's own expiry is at least this late (JWT exp is whole seconds from later)
            "exp": (issued + pair.expires_in) * 1000,
            "integrity_check_required": False,
        },
        "refresh_token": pair.refresh_token,
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


# --- jobs -------------------------------------------------------------------------------------


def _summary(job: VoltMxJob) -> dict[str, Any]:
    stats = job.stats
    total = stats.total if stats else 0

    def percent(count: int) -> int:
        return round(100 * count / total) if total else 0

    return {
        "jobId": job.job_id,
        "jobName": job.plan.name,
        "description": job.document.description or None,
        "cronExpression": job.document.window.cron if job.document.window else None,
        "updatedUser": job.updated_by,
        "updatedDate": timestamp(job.plan.updated_at),
        "jobStatus": "Active" if job.plan.enabled else "Inactive",
        "jobHistoryTotal": total,
        "jobHistorySuccessCount": stats.succeeded if stats else 0,
        "jobHistoryFailCount": stats.failed if stats else 0,
        "jobHistorySucPercentage": percent(stats.succeeded) if stats else 0,
        "jobHistoryFailPercentage": percent(stats.failed) if stats else 0,
        "jobLastRunStatus": run_status_word(job.last_status),
        "jobNextRunTime": timestamp(job.plan.next_fire_time if job.plan.enabled else None),
        "planId": job.plan.id,
    }


def _history_entry(entry: VoltMxRun) -> dict[str, Any]:
    run, start, end = entry.run, entry.started_at, entry.ended_at
    duration = int((end - start).total_seconds() * 1000) if start and end else None
    return {
        "jobRunId": entry.number,
        "jobStartTime": timestamp(start),
        "jobEndTime": timestamp(end),
        "jobDuration": duration,
        "executionFrequency": entry.cron,
        "executionStatus": run_status_word(run.status),
        "completeHistory": run.history == "FULL",
        "runId": run.id,
        "message": entry.reason,
    }


@jobs_router.get("/admin/api/jobs/job", operation_id="voltmx_list_jobs")
async def list_jobs(caller: VoltCaller, services: ServicesDep) -> JSONResponse:
    """Every job, with its run statistics."""
    jobs: list[VoltMxJob] = await run_blocking(services.voltmx.list, caller)
    return JSONResponse([_summary(job) for job in jobs])


@jobs_router.post("/admin/api/jobs/job", operation_id="voltmx_create_job")
async def create_job(caller: VoltCaller, request: Request, services: ServicesDep) -> JSONResponse:
    """Create a job (``jobId`` in the body is ignored: numbers are given in order)."""
    document = _document(await _body(request))
    number = await run_blocking(services.voltmx.create, caller, document)
    return envelope(Location=f"/admin/api/jobs/{number}")


@jobs_router.put("/admin/api/jobs/job", operation_id="voltmx_update_job")
async def update_job(caller: VoltCaller, request: Request, services: ServicesDep) -> JSONResponse:
    """Update the job named by ``jobId`` in the body (its name cannot change)."""
    body = await _body(request)
    if body.jobId is None:
        raise InvalidInput("is required to say which job to update", field="jobId")
    await run_blocking(services.voltmx.update, caller, body.jobId, _document(body))
    return envelope()


@jobs_router.post("/admin/api/jobs/job/run/{job_id}", operation_id="voltmx_run_job")
async def run_job(caller: VoltCaller, job_id: JobNumber, services: ServicesDep) -> JSONResponse:
    """Run the job now; 409 (this run skipped) while the previous call is still going."""
    outcome = await run_blocking(services.voltmx.run, caller, job_id)
    if outcome.outcome == "skipped":
        return envelope(409, f"job {job_id} is already running; this run was skipped")
    return envelope()


@jobs_router.get("/admin/api/jobs/history/{job_id}", operation_id="voltmx_job_history")
async def job_history(caller: VoltCaller, job_id: JobNumber, services: ServicesDep) -> JSONResponse:
    """The job's runs as its history strategy shows them, newest first (at most 500)."""
    runs: list[VoltMxRun] = await run_blocking(services.voltmx.history, caller, job_id)
    return JSONResponse([_history_entry(entry) for entry in runs])


@jobs_router.get("/admin/api/jobs/{job_id}", operation_id="voltmx_get_job")
async def get_job(caller: VoltCaller, job_id: JobNumber, services: ServicesDep) -> JSONResponse:
    """One job's definition."""
    job: VoltMxJob = await run_blocking(services.voltmx.get, caller, job_id)
    return JSONResponse(job_detail(job.job_id, job.document, job.plan.enabled))


@jobs_router.delete("/admin/api/jobs/{job_id}", operation_id="voltmx_delete_job")
async def delete_job(caller: VoltCaller, job_id: JobNumber, services: ServicesDep) -> JSONResponse:
    """Delete the job (its plan and history); its number is not reused."""
    await run_blocking(services.voltmx.delete, caller, job_id)
    return envelope()


router.include_router(jobs_router)
