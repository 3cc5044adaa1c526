"""Ikasan Enterprise Scheduler's job plan export and status services, with HTTP Basic.

``GET /rest/export/context/{job-plan-name}`` and
``GET /rest/export/context/tokens/{job-plan-name}`` answer 200 with the zipped job plan
(``Content-Disposition: attachment; filename=<plan>.zip``) in Ikasan's layout. The plan is
named as in Ikasan (its name; a ``folder/name`` path or id also works).

The dashboard's status services under ``/rest/context/status`` (shapes in
:mod:`~jobplan.api.dialects.ikasan_status`):

==============================================  =================================================
``/{plan}/{context}``                           the context's word in the plan's current run
``/{plan}/{context}/{job}``                     the job's word in that run
``/json/{plan}/{context}``                      ``{runId: ContextInstance}`` per current run
``/json/{plan}/{context}/{job}``                ``{runId: SchedulerJobInstance}`` per current run
``/json/allInstance[?includePrepared=]``        the tenant's open runs
``/json/jobStatus[/{plan}][?instanceStatus=]``  runs with their jobs' words
==============================================  =================================================

Here a plan is its name, its id, or ``folder~name`` (a path segment cannot hold ``/``); a
context is the plan (its name, or the plan as given) or one of its stages; a job is its name
or Ikasan identifier (``agentName-jobName``). A plan's current runs are its open runs, or its
latest run if none is open. Nothing to answer is 204. Errors are plain text, as Ikasan's are:
401 without valid credentials, 404 for an unknown plan, context or job, 400 for a bad query.

``POST /rest/import/context`` (a jobplan extension: Ikasan's own provisioning service takes
a JSON ``ContextBundle``, not a zip) uploads a bundle zip and queues its import; answers 202
with the job, whose ``GET /rest/import/context/{jobId}`` shows how it went.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.security import HTTPBasic

from jobplan.api.adapter import (
    Credentials,
    basic_pair,
    client_address,
    resolve_caller,
    run_blocking,
)
from jobplan.api.deps import ServicesDep
from jobplan.api.dialects import ikasan_status as shapes
from jobplan.api.errors import error_answer
from jobplan.api.uploads import parse_tokens, read_upload, upload_name
from jobplan.errors import (
    InvalidInput,
    JobplanError,
    NotFound,
)
from jobplan.model import Job
from jobplan.service.caller import Caller
from jobplan.service.container import Services
from jobplan.service.plans import OnConflict
from jobplan.service.records import TransferJobRecord
from jobplan.service.runs import PlanInstances, RunInstance
from jobplan.service.transfers import ImportOptions, TransferKind

router = APIRouter(tags=["dialect: Ikasan"])
_basic = HTTPBasic(auto_error=False, realm="ikasan")

PlanName = Annotated[str, Path(max_length=700, description="Job plan name.")]
StatusPlan = Annotated[
    str, Path(max_length=700, description="Job plan: its name, id or `folder~name`.")
]
ContextName = Annotated[
    str, Path(max_length=200, description="The job plan's name, or one of its stages.")
]
JobName = Annotated[
    str, Path(max_length=400, description="Job name, or Ikasan identifier `agent-jobName`.")
]
Tenant = Annotated[str | None, Header(max_length=200)]


class _Answer(JobplanError):
    """A plain-text Ikasan error answer (status and message as they are)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def _authenticate(request: Request, services: Services, tenant: str | None) -> Caller:
    """HTTP Basic (``X-Tenant`` picks the tenant), through the login throttle."""
    authorization = request.headers.get("authorization", "")
    pair = basic_pair(authorization) if authorization.strip() else None
    credentials = Credentials(
        basic=pair,
        tenant=tenant,
        client=client_address(request),
        missing="HTTP Basic credentials are required",
    )
    return await resolve_caller(services, credentials)


def _failure(exc: JobplanError) -> Response:
    """An error as Ikasan's plain text, with the status every adapter gives it."""
    if isinstance(exc, _Answer):
        return PlainTextResponse(exc.message, status_code=exc.status)
    answer = error_answer(exc, invalid_status=400)
    headers = dict(answer.headers)
    if answer.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="ikasan"'
    message = answer.message
    if isinstance(exc, NotFound) and exc.kind == "plan":
        message = f"Job plan '{exc.key}' not found"
    return PlainTextResponse(message, status_code=answer.status, headers=headers)


async def _export(
    request: Request,
    services: ServicesDep,
    name: str,
    with_tokens: bool,
    tenant: str | None,
) -> Response:
    try:
        caller = await _authenticate(request, services, tenant)
        bundle = await run_blocking(
            services.bundles.export_plan, caller, name, with_tokens=with_tokens
        )
    except JobplanError as exc:
        return _failure(exc)
    return Response(
        bundle.content,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{bundle.file_name}"'},
    )


@router.get("/rest/export/context/tokens/{name:path}", operation_id="ikasan_export_tokens")
async def export_with_tokens(
    name: PlanName,
    request: Request,
    services: ServicesDep,
    x_tenant: Annotated[str | None, Header()] = None,
) -> Response:
    """The job plan bundle with CI/CD replacement tokens (``[[name]]``)."""
    return await _export(request, services, name, True, x_tenant)


@router.get("/rest/export/context/{name:path}", operation_id="ikasan_export")
async def export(
    name: PlanName,
    request: Request,
    services: ServicesDep,
    x_tenant: Annotated[str | None, Header()] = None,
) -> Response:
    """The job plan bundle."""
    return await _export(request, services, name, False, x_tenant)


# --- status services ----------------------------------------------------------------------

_FLAGS = {"true": True, "on": True, "yes": True, "1": True}
_FLAGS |= {"false": False, "off": False, "no": False, "0": False}


async def _status(
    request: Request,
    services: Services,
    tenant: str | None,
    answer: Callable[[Caller], Response],
) -> Response:
    """Authenticate, then ``answer`` off the event loop; errors as Ikasan's plain text."""
    try:
        caller = await _authenticate(request, services, tenant)
        return await run_blocking(answer, caller)
    except JobplanError as exc:
        return _failure(exc)


def _plan_ref(plan: str) -> str:
    return plan.replace("~", "/")  # names never hold '~': folder~name is a path


def _in_context(
    found: PlanInstances, plan: str, context: str
) -> list[tuple[RunInstance, shapes.Context]]:
    """Each current run whose version has the context; 404 if neither the current definition
    nor any of those runs' has it."""
    pairs = [
        (instance, ctx)
        for instance in found.instances
        if (ctx := shapes.find_context(instance.document, context, plan)) is not None
    ]
    if not pairs and shapes.find_context(found.document, context, plan) is None:
        raise _Answer(404, f"Could not find context '{context}' in job plan '{plan}'")
    return pairs


def _with_job(
    found: PlanInstances, plan: str, context: str, job: str
) -> list[tuple[RunInstance, Job, str]]:
    """Each current run with the job (and the context it is defined in); 404 as above."""
    matches = [
        (instance, *defined)
        for instance, ctx in _in_context(found, plan, context)
        if (defined := shapes.find_job(instance.document, ctx, job)) is not None
    ]
    current = shapes.find_context(found.document, context, plan)
    if not matches and (current is None or shapes.find_job(found.document, current, job) is None):
        raise _Answer(
            404, f"Could not find job '{job}' in context '{context}' of job plan '{plan}'"
        )
    return matches


def _json(data: Any) -> Response:
    return JSONResponse(data) if data else Response(status_code=204)


def _word(word: str | None) -> Response:
    return PlainTextResponse(word) if word else Response(status_code=204)


def _instance_status(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    if value not in shapes.INSTANCE_STATUSES:
        raise InvalidInput(
            f"Instance Status [{value[:40]}] is not valid, please try again: use one of "
            + ", ".join(sorted(shapes.INSTANCE_STATUSES))
        )
    return value


@router.get("/rest/context/status/json/allInstance", operation_id="ikasan_all_instance")
async def all_instance(
    request: Request,
    services: ServicesDep,
    include_prepared: Annotated[str | None, Query(alias="includePrepared", max_length=10)] = None,
    x_tenant: Tenant = None,
) -> Response:
    """The tenant's open runs (with ``includePrepared=true`` also the queued ones)."""

    def answer(caller: Caller) -> Response:
        flag = _FLAGS.get((include_prepared or "false").strip().lower())
        if flag is None:
            raise InvalidInput(f"includePrepared must be true or false, not {include_prepared!r}")
        runs = services.runs.open_runs(caller, include_queued=flag)
        return _json(shapes.all_instance(runs) if runs else None)

    return await _status(request, services, x_tenant, answer)


async def _job_status(
    request: Request,
    services: Services,
    plan: str | None,
    instance_status: str | None,
    tenant: str | None,
) -> Response:
    def answer(caller: Caller) -> Response:
        only = _instance_status(instance_status)
        instances = (
            services.runs.open_instances(caller)
            if plan is None
            else services.runs.current_instances(caller, _plan_ref(plan)).instances
        )
        return _json(shapes.job_status(instances, only) if instances else None)

    return await _status(request, services, tenant, answer)


InstanceStatusQuery = Annotated[
    str | None,
    Query(alias="instanceStatus", max_length=40, description="Only jobs in this status."),
]


@router.get("/rest/context/status/json/jobStatus", operation_id="ikasan_job_status")
async def job_status(
    request: Request,
    services: ServicesDep,
    instance_status: InstanceStatusQuery = None,
    x_tenant: Tenant = None,
) -> Response:
    """Every open run of the tenant with its jobs' statuses."""
    return await _job_status(request, services, None, instance_status, x_tenant)


@router.get("/rest/context/status/json/jobStatus/{plan}", operation_id="ikasan_plan_job_status")
async def plan_job_status(
    plan: StatusPlan,
    request: Request,
    services: ServicesDep,
    instance_status: InstanceStatusQuery = None,
    x_tenant: Tenant = None,
) -> Response:
    """The plan's current runs with their jobs' statuses."""
    return await _job_status(request, services, plan, instance_status, x_tenant)


@router.get("/rest/context/status/json/{plan}/{context}", operation_id="ikasan_context_json")
async def context_json(
    plan: StatusPlan,
    context: ContextName,
    request: Request,
    services: ServicesDep,
    x_tenant: Tenant = None,
) -> Response:
    """Job Plan Status: ``{runId: ContextInstance}`` of the context in each current run."""

    def answer(caller: Caller) -> Response:
        found = services.runs.current_instances(caller, _plan_ref(plan))
        pairs = _in_context(found, plan, context)
        return _json({i.run.id: shapes.context_instance(i, ctx) for i, ctx in pairs})

    return await _status(request, services, x_tenant, answer)


@router.get(
    "/rest/context/status/json/{plan}/{context}/{job}", operation_id="ikasan_job_instance_json"
)
async def job_instance_json(
    plan: StatusPlan,
    context: ContextName,
    job: JobName,
    request: Request,
    services: ServicesDep,
    x_tenant: Tenant = None,
) -> Response:
    """Job Instance Status: ``{runId: SchedulerJobInstance}`` of the job in each current run."""

    def answer(caller: Caller) -> Response:
        found = services.runs.current_instances(caller, _plan_ref(plan))
        matches = _with_job(found, plan, context, job)
        return _json({i.run.id: shapes.job_instance(i, j, home) for i, j, home in matches})

    return await _status(request, services, x_tenant, answer)


@router.get("/rest/context/status/{plan}/{context}", operation_id="ikasan_context_status")
async def context_status(
    plan: StatusPlan,
    context: ContextName,
    request: Request,
    services: ServicesDep,
    x_tenant: Tenant = None,
) -> Response:
    """The context's status word in the plan's current run (the newest)."""

    def answer(caller: Caller) -> Response:
        found = services.runs.current_instances(caller, _plan_ref(plan))
        pairs = _in_context(found, plan, context)
        return _word(shapes.context_word(*pairs[0]) if pairs else None)

    return await _status(request, services, x_tenant, answer)


@router.get("/rest/context/status/{plan}/{context}/{job}", operation_id="ikasan_job_status_word")
async def job_status_word(
    plan: StatusPlan,
    context: ContextName,
    job: JobName,
    request: Request,
    services: ServicesDep,
    x_tenant: Tenant = None,
) -> Response:
    """The job's status word in the plan's current run (the newest)."""

    def answer(caller: Caller) -> Response:
        found = services.runs.current_instances(caller, _plan_ref(plan))
        matches = _with_job(found, plan, context, job)
        if not matches:
            return _word(None)
        instance, defined, _ = matches[0]
        return _word(shapes.job_word(instance, defined.name))

    return await _status(request, services, x_tenant, answer)


# --- bundle upload (a jobplan extension: Ikasan provisions JSON, not zips) ----------------

_RAW_TYPES = ("application/zip", "application/octet-stream", "application/x-zip-compressed")


def _import_job(job: TransferJobRecord, request: Request) -> dict[str, Any]:
    """An import job as JSON (Ikasan's camelCase); the plan lists once it has run."""
    result = job.result or {}
    return {
        "id": job.id,
        "status": job.status,
        "progress": job.progress,
        "reason": job.reason,
        "statusUrl": str(request.url_for("ikasan_import_status", job_id=job.id)),
        "createdBy": job.created_by_name,
        "createdAt": job.created_at.isoformat(),
        "finishedAt": job.finished_at.isoformat() if job.finished_at else None,
        "added": result.get("added", []),
        "changed": result.get("changed", []),
        "unchanged": result.get("unchanged", []),
        "conflicts": result.get("conflicts", []),
        "warnings": result.get("warnings", []),
    }


def _upload_options(fields: dict[str, str | None], file_name: str | None) -> ImportOptions:
    on_conflict = fields.get("on_conflict") or str(OnConflict.ABORT)
    if on_conflict not in {str(choice) for choice in OnConflict}:
        raise InvalidInput(
            f"on_conflict must be one of {', '.join(str(c) for c in OnConflict)}, "
            f"not {on_conflict[:40]!r}"
        )
    return ImportOptions(
        tokens=parse_tokens(fields.get("tokens")),
        on_conflict=OnConflict(on_conflict),
        folder=fields.get("folder") or "",
        file_name=upload_name(file_name),
    )


@router.post(
    "/rest/import/context",
    status_code=202,
    operation_id="ikasan_import",
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "tokens": {"type": "string"},
                            "folder": {"type": "string"},
                            "on_conflict": {"type": "string"},
                        },
                    }
                },
                "application/zip": {"schema": {"type": "string", "format": "binary"}},
            }
        }
    },
)
async def import_bundle(
    request: Request, services: ServicesDep, x_tenant: Tenant = None
) -> Response:
    """Upload a job plan bundle (Ikasan's export zip, or jobplan's) and queue its import.

    The zip is the multipart part ``file``, or the whole body as ``application/zip`` or
    ``application/octet-stream``. Options, as form fields or query parameters: ``tokens``
    (JSON object of ``[[token]]`` values; a form field or the ``X-Tokens`` header, never the
    URL), ``folder`` (for plans of Ikasan bundles, which
    name none) and ``on_conflict`` (``abort``, ``replace``, ``add_version``). Answers 202
    with the job; ``statusUrl`` (also the ``Location``) shows how it went."""
    try:
        caller = await _authenticate(request, services, x_tenant)
        if "tokens" in request.query_params:
            raise InvalidInput(
                "token values do not belong in the URL (URLs are logged): send them as the "
                "form field 'tokens' or the X-Tokens header"
            )
        fields: dict[str, str | None] = {
            key: request.query_params.get(key) for key in ("folder", "on_conflict")
        }
        fields["tokens"] = request.headers.get("x-tokens")
        async with read_upload(
            request,
            fields=fields.keys(),
            missing_file="send the bundle zip as the multipart part 'file'",
            wrong_type="send the bundle as multipart/form-data (part 'file') or as an "
            "application/zip body",
            raw_types=_RAW_TYPES,
        ) as upload:
            fields.update(upload.fields)
            file_name = upload.file_name or request.query_params.get("fileName")
            options = _upload_options(fields, file_name)
            job = await run_blocking(services.transfers.create_import, caller, upload.file, options)
    except JobplanError as exc:
        return _failure(exc)
    body = _import_job(job, request)
    return JSONResponse(body, status_code=202, headers={"Location": body["statusUrl"]})


@router.get("/rest/import/context/{job_id}", name="ikasan_import_status")
async def import_status(
    job_id: str, request: Request, services: ServicesDep, x_tenant: Tenant = None
) -> Response:
    """An uploaded bundle's import job: ``created``, ``in_progress``, then ``completed`` (with
    the plans added, changed and unchanged), ``failed`` (with the ``reason``) or ``cancelled``."""
    try:
        caller = await _authenticate(request, services, x_tenant)
        job = await run_blocking(services.transfers.get, caller, TransferKind.IMPORT, job_id[:64])
    except JobplanError as exc:
        return _failure(exc)
    return JSONResponse(_import_job(job, request))
