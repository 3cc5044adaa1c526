"""Coherent Spark's ImpEx API (export and import jobs) over jobplan's transfer jobs.

A Spark folder is a folder, a service a plan (``folder/plan``), a service version a plan
version. Every path starts with the tenant, which must be the credentials' tenant:

=============================================  ============================================
``POST   /{tenant}/api/v4/export``             queue an export; answers its status
``GET    /{tenant}/api/v4/export/{id}/status`` the export's status, with ``outputs``
``PATCH  /{tenant}/api/v4/export/{id}``        ``{"export_status": "cancelled"}``
``GET    /{tenant}/api/v4/export/status``      the tenant's unfinished and last-hour exports
``GET    /{tenant}/api/v4/export/{id}/files/…`` the zip (``outputs.files[].file``)
``POST   /{tenant}/api/v4/import``             multipart ``file`` + ``importRequestEntity``
``GET    /{tenant}/api/v4/import/{id}/status`` the import's status, with ``outputs``
``PATCH  /{tenant}/api/v4/import/{id}``        ``{"import_status": "cancelled"}``
``GET    /{tenant}/api/v4/import/status``      the tenant's unfinished and last-hour imports
=============================================  ============================================

Credentials: ``Authorization: Bearer <access token or API key>``, or ``x-synthetic-key: <API
key>`` with ``x-tenant-name: <its tenant>``. A path tenant other than the credentials' is 403.
Errors are ``{"error": {"status": <http status>, "code": <WORD>, "message": <text>}}``. The
field mapping is in docs/dialects.md.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from jobplan.api.adapter import (
    Credentials,
    parse_json,
    read_json_object,
    resolve_caller,
    run_blocking,
)
from jobplan.api.deps import ServicesDep
from jobplan.api.errors import error_answer
from jobplan.api.uploads import read_upload
from jobplan.api.uploads import upload_name as safe_upload_name
from jobplan.errors import (
    AuthenticationFailed,
    InvalidInput,
    JobplanError,
    NotFound,
    PermissionDenied,
)
from jobplan.service.caller import Caller
from jobplan.service.container import Services
from jobplan.service.plans import OnConflict
from jobplan.service.records import TransferJobRecord
from jobplan.service.transfers import ExportOptions, ImportOptions, TransferKind

__all__ = ["router"]

router = APIRouter(tags=["dialect: Coherent Spark"])

_UNFINISHED = ["created", "in_progress"]
_FINISHED = ["completed", "failed", "cancelled", "closed_by_timeout"]
_RECENT = timedelta(hours=1)
_MAX_REFS = 10000
_MAX_TEXT = 1024
_FILE_FILTERS = {"migrate": "migrate", "onpremises": "runtime"}
_EXPORT_KEYS = {
    "inputs",
    "version_filter",
    "file_filter",
    "source_system",
    "correlation_id",
    "file_name",
}
_IMPORT_KEYS = {"inputs", "services_existing", "source_system", "correlation_id"}
_VERSION_TYPES = {"major", "minor", "patch"}


def _error(status: int, code: str, message: str, headers: dict[str, str]) -> JSONResponse:
    body = {"error": {"status": status, "code": code, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers or None)


async def _answer(work: Callable[[], Awaitable[Response]]) -> Response:
    """Run an async handler body; jobplan errors leave in Spark's error shape."""
    try:
        return await work()
    except JobplanError as exc:
        answer = error_answer(exc, invalid_status=400)
        return _error(answer.status, answer.code, answer.message, answer.headers)


# --- credentials ----------------------------------------------------------------------------


def _credentials(request: Request) -> tuple[Credentials, str | None]:
    """The credentials, and the tenant ``x-tenant-name`` says the synthetic key is of."""
    headers = request.headers
    authorization = headers.get("authorization")
    synthetic = headers.get("x-synthetic-key")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationFailed("Authorization must be 'Bearer <token or API key>'")
        return Credentials(secret=token.strip()), None
    if synthetic:
        named = headers.get("x-tenant-name")
        if not named:
            raise AuthenticationFailed("x-tenant-name is required with x-synthetic-key")
        return Credentials(secret=synthetic, keys_only=True), named
    missing = "credentials required: 'Authorization: Bearer <token>' or x-synthetic-key and "
    return Credentials(missing=missing + "x-tenant-name"), None


async def _caller(services: Services, request: Request, tenant: str) -> Caller:
    """The caller, who must belong to the path's ``tenant`` (and to ``x-tenant-name``)."""
    credentials, named = _credentials(request)
    caller = await resolve_caller(services, credentials)
    if named is not None and named.casefold() != caller.tenant_name.casefold():
        raise AuthenticationFailed(
            f"the API key does not belong to tenant '{named[:100]}' (x-tenant-name)"
        )
    if tenant.casefold() != caller.tenant_name.casefold():
        raise PermissionDenied(
            f"the credentials are for tenant '{caller.tenant_name}', not '{tenant[:100]}'"
        )
    return caller


# --- shaping answers ------------------------------------------------------------------------


def _timestamp(moment: datetime | None = None) -> str:
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _process_ms(job: TransferJobRecord) -> int:
    if job.started_at is None:
        return 0
    end = job.finished_at or datetime.now(UTC)
    return max(0, int((end - job.started_at).total_seconds() * 1000))


def _errors(job: TransferJobRecord) -> list[dict[str, str]] | None:
    if job.status in ("failed", "closed_by_timeout") and job.reason:
        return [{"message": job.reason}]
    return None


def _service(plan: str, folder: str, name: str) -> dict[str, str]:
    return {"service_uri_source": plan, "folder_source": folder, "service_source": name}


def _export_status(job: TransferJobRecord, request: Request, tenant: str) -> dict[str, Any]:
    result = job.result or {}
    files = []
    if job.status == "completed" and job.file_sha256:
        name = job.file_name or "package.zip"
        url = request.url_for("spark_export_file", tenant=tenant, job_id=job.id, file_name=name)
        files.append(
            {
                "file": str(url),
                "file_hash": job.file_sha256,
                "zip_process_time": result.get("zip_process_time_ms", 0),
            }
        )
    services = [
        {**_service(p["plan"], p["folder"], p["name"]), "service_id_source": p["plan_id"]}
        for p in result.get("plans", [])
    ]
    versions = [
        {
            **_service(f"{v['plan']}[{v['version']}]", v["folder"], v["name"]),
            "version_source": v["version"],
            "service_id_source": v["plan_id"],
            "version_id_source": v["version_id"],
        }
        for v in result.get("versions", [])
    ]
    return {
        "object": "export",
        "id": job.id,
        "response_timestamp": _timestamp(),
        "status": job.status,
        "status_url": str(request.url_for("spark_export_status", tenant=tenant, job_id=job.id)),
        "process_time": _process_ms(job),
        "outputs": {"files": files, "services": services, "service_versions": versions},
        "errors": _errors(job),
        "source_system": job.source_system,
        "correlation_id": job.correlation_id,
    }


def _import_status(job: TransferJobRecord, request: Request, tenant: str) -> dict[str, Any]:
    result = job.result or {}
    services: list[dict[str, Any]] = []
    versions: list[dict[str, Any]] = []
    for item in result.get("plans", []):
        folder, _, name = item["plan"].rpartition("/")
        where = {"folder_destination": folder, "service_destination": name}
        services.append(
            {
                **_service(item["plan"], folder, name),
                **where,
                "service_uri_destination": item["plan"],
                "status": item["action"],
            }
        )
        for version in item["versions"]:
            uri = f"{item['plan']}[{version}]"
            versions.append(
                {
                    **_service(uri, folder, name),
                    "version_source": version,
                    **where,
                    "version_destination": version,
                    "service_uri_destination": uri,
                    "status": item["action"],
                }
            )
    return {
        "object": "import",
        "id": job.id,
        "response_timestamp": _timestamp(),
        "status": job.status,
        "status_url": str(request.url_for("spark_import_status", tenant=tenant, job_id=job.id)),
        "process_time": _process_ms(job),
        "outputs": {"services": services, "service_versions": versions},
        "errors": _errors(job),
        "warnings": result.get("warnings", []),
        "source_system": job.source_system,
        "correlation_id": job.correlation_id,
    }


def _summary(job: TransferJobRecord, kind: TransferKind) -> dict[str, Any]:
    return {
        "object": str(kind),
        "id": job.id,
        "data": {
            f"{kind}_status": job.status,
            "response_timestamp": _timestamp(),
            "created_by": job.created_by_name,
            "created_timestamp": _timestamp(job.created_at),
            "updated_timestamp": _timestamp(job.finished_at or job.started_at or job.created_at),
            "process_time": _process_ms(job),
        },
    }


def _tenant_status(services: Services, caller: Caller, kind: TransferKind) -> dict[str, Any]:
    """Unfinished jobs, and those that finished within the hour (the caller's own, or every
    one of the tenant's for supervisors); the tenant's limit and unfinished count."""
    transfers = services.transfers
    limits = transfers.tenant_limits(caller, kind)
    unfinished = transfers.list(caller, kind, statuses=_UNFINISHED, limit=200).items
    now = datetime.now(UTC)
    # a job finishing now may have been created up to its timeout earlier
    since = now - _RECENT - timedelta(seconds=limits.timeout_seconds)
    finished = transfers.list(caller, kind, statuses=_FINISHED, since=since, limit=200).items
    recent = [j for j in finished if j.finished_at is not None and j.finished_at >= now - _RECENT]
    return {
        f"in_progress_{kind}s": [_summary(j, kind) for j in unfinished],
        f"recent_{kind}s": [_summary(j, kind) for j in recent],
        "tenant": {
            "configuration": {f"{kind}_api_job_limit": limits.job_limit},
            "status": {f"{kind}_api_jobs_in_progress": transfers.active_count(caller, kind)},
        },
    }


# --- reading requests -----------------------------------------------------------------------


def _text(value: object, name: str, limit: int = 200) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidInput("must be a string", field=name)
    text = str(value)
    if len(text) > limit:
        raise InvalidInput(f"must be at most {limit} characters", field=name)
    return text


def _refs(value: object, name: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput("must be an array of strings", field=name)
    if len(value) > _MAX_REFS:
        raise InvalidInput(f"must hold at most {_MAX_REFS} items", field=name)
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.strip() or len(item) > _MAX_TEXT:
            raise InvalidInput(
                f"must be a non-empty string of at most {_MAX_TEXT} characters",
                field=f"{name}[{index}]",
            )
    return value


def _choice(value: object, name: str, allowed: dict[str, str] | set[str], default: str) -> str:
    if value is None:
        return default
    if not isinstance(value, str) or value not in allowed:
        words = ", ".join(f"'{word}'" for word in sorted(allowed))
        raise InvalidInput(f"must be one of {words}", field=name)
    return allowed[value] if isinstance(allowed, dict) else value


def _no_extra(body: dict[str, Any], allowed: set[str], where: str = "") -> None:
    extra = sorted(set(body) - allowed)
    if extra:
        raise InvalidInput(
            f"unknown field(s) {', '.join(repr(e[:40]) for e in extra[:5])}; "
            f"expected {', '.join(sorted(allowed))}",
            field=where or None,
        )


def _export_options(body: dict[str, Any]) -> ExportOptions:
    _no_extra(body, _EXPORT_KEYS)
    inputs = body.get("inputs")
    if not isinstance(inputs, dict):
        raise InvalidInput(
            "must be an object with folders, services and/or version_ids", field="inputs"
        )
    _no_extra(inputs, {"folders", "services", "version_ids"}, "inputs")
    plans: list[str] = []
    plan_ids: list[str] = []
    version_ids = list(_refs(inputs.get("version_ids"), "inputs.version_ids"))
    for ref in _refs(inputs.get("services"), "inputs.services"):
        # the Spark SDK's URI forms service/{id} and version/{id}, besides folder/service
        kind, _, rest = ref.partition("/")
        if kind == "service" and _looks_like_id(rest):
            plan_ids.append(rest)
        elif kind == "version" and _looks_like_id(rest):
            version_ids.append(rest)
        else:
            plans.append(ref)
    return ExportOptions(
        folders=tuple(_refs(inputs.get("folders"), "inputs.folders")),
        plans=tuple(plans),
        plan_ids=tuple(plan_ids),
        version_ids=tuple(version_ids),
        version_filter="latest"
        if _choice(body.get("version_filter"), "version_filter", {"all", "latest"}, "all")
        == "latest"
        else "all",
        file_filter="runtime"
        if _choice(body.get("file_filter"), "file_filter", _FILE_FILTERS, "migrate") == "runtime"
        else "migrate",
        source_system=_text(body.get("source_system"), "source_system"),
        correlation_id=_text(body.get("correlation_id"), "correlation_id"),
        file_name=_text(body.get("file_name"), "file_name"),
    )


def _looks_like_id(text: str) -> bool:
    return len(text) == 36 and text.count("-") == 4


def _import_options(text: str | None, upload_name: str | None) -> ImportOptions:
    body: dict[str, Any] = {}
    if text is not None and text.strip():
        parsed = parse_json(text, field="importRequestEntity")
        if not isinstance(parsed, dict):
            raise InvalidInput("must be a JSON object", field="importRequestEntity")
        body = parsed
    _no_extra(body, _IMPORT_KEYS, "importRequestEntity")
    inputs = body.get("inputs", {})
    if not isinstance(inputs, dict):
        raise InvalidInput("must be an object", field="inputs")
    _no_extra(inputs, {"services_modify"}, "inputs")
    modify = inputs.get("services_modify")
    modify = [] if modify is None else modify
    if not isinstance(modify, list) or len(modify) > _MAX_REFS:
        raise InvalidInput("must be an array of mappings", field="inputs.services_modify")
    for index, item in enumerate(modify):
        where = f"inputs.services_modify[{index}]"
        if not isinstance(item, dict):
            raise InvalidInput("must be an object", field=where)
        _no_extra(
            item, {"service_uri_source", "service_uri_destination", "update_version_type"}, where
        )
        source = _text(item.get("service_uri_source"), f"{where}.service_uri_source", _MAX_TEXT)
        target = _text(
            item.get("service_uri_destination"), f"{where}.service_uri_destination", _MAX_TEXT
        )
        if not source:
            raise InvalidInput("is required", field=f"{where}.service_uri_source")
        if target is not None and target.strip("/") != source.strip("/"):
            raise InvalidInput(
                "jobplan imports each plan at its exported folder/name; a different "
                "destination is not supported",
                field=f"{where}.service_uri_destination",
            )
        _choice(
            item.get("update_version_type"), f"{where}.update_version_type", _VERSION_TYPES, "minor"
        )
    existing = _choice(
        body.get("services_existing"),
        "services_existing",
        {str(choice) for choice in OnConflict},
        str(OnConflict.ABORT),
    )
    return ImportOptions(
        on_conflict=OnConflict(existing),
        source_system=_text(body.get("source_system"), "source_system"),
        correlation_id=_text(body.get("correlation_id"), "correlation_id"),
        file_name=safe_upload_name(upload_name),
    )


def _cancel_body(body: dict[str, Any], kind: TransferKind) -> None:
    key = f"{kind}_status"
    if body.get(key) != "cancelled" or set(body) != {key}:
        raise InvalidInput(f'the body must be {{"{key}": "cancelled"}}')


def _job_id(job_id: str) -> str:
    if len(job_id) > 64:
        raise NotFound("job", job_id[:64])
    return job_id


def _shaper(kind: TransferKind) -> Callable[[TransferJobRecord, Request, str], dict[str, Any]]:
    return _export_status if kind is TransferKind.EXPORT else _import_status


async def _tenant_wide(
    kind: TransferKind, tenant: str, request: Request, services: Services
) -> Response:
    async def work() -> Response:
        caller = await _caller(services, request, tenant)
        return JSONResponse(await run_blocking(_tenant_status, services, caller, kind))

    return await _answer(work)


async def _one(
    kind: TransferKind, tenant: str, job_id: str, request: Request, services: Services
) -> Response:
    async def work() -> Response:
        caller = await _caller(services, request, tenant)
        job = await run_blocking(services.transfers.get, caller, kind, _job_id(job_id))
        return JSONResponse(_shaper(kind)(job, request, tenant))

    return await _answer(work)


async def _cancel(
    kind: TransferKind, tenant: str, job_id: str, request: Request, services: Services
) -> Response:
    async def work() -> Response:
        caller = await _caller(services, request, tenant)
        body = await read_json_object(request, f'such as {{"{kind}_status": "cancelled"}}')
        _cancel_body(body, kind)
        job = await run_blocking(services.transfers.cancel, caller, kind, _job_id(job_id))
        return JSONResponse(_shaper(kind)(job, request, tenant))

    return await _answer(work)


# --- exports --------------------------------------------------------------------------------


@router.post("/{tenant}/api/v4/export", operation_id="spark_export_create")
async def create_export(tenant: str, request: Request, services: ServicesDep) -> Response:
    """Queue an export of folders, services (plans) and versions; answers its status."""

    async def work() -> Response:
        caller = await _caller(services, request, tenant)
        options = _export_options(await read_json_object(request, "with inputs"))
        job = await run_blocking(services.transfers.create_export, caller, options)
        return JSONResponse(_export_status(job, request, tenant))

    return await _answer(work)


@router.get("/{tenant}/api/v4/export/status", operation_id="spark_export_tenant_status")
async def export_tenant_status(tenant: str, request: Request, services: ServicesDep) -> Response:
    """Unfinished exports and those finished within the hour, with the tenant's limit."""
    return await _tenant_wide(TransferKind.EXPORT, tenant, request, services)


@router.get("/{tenant}/api/v4/export/{job_id}/status", name="spark_export_status")
async def export_status(
    tenant: str, job_id: str, request: Request, services: ServicesDep
) -> Response:
    """The export's status and, once completed, its file and what it holds."""
    return await _one(TransferKind.EXPORT, tenant, job_id, request, services)


@router.patch("/{tenant}/api/v4/export/{job_id}", operation_id="spark_export_cancel")
async def cancel_export(
    tenant: str, job_id: str, request: Request, services: ServicesDep
) -> Response:
    """``{"export_status": "cancelled"}`` cancels an unfinished export."""
    return await _cancel(TransferKind.EXPORT, tenant, job_id, request, services)


@router.get(
    "/{tenant}/api/v4/export/{job_id}/files/{file_name}",
    name="spark_export_file",
    response_class=FileResponse,
    responses={200: {"content": {"application/zip": {}}}},
)
async def download_export(
    tenant: str, job_id: str, file_name: str, request: Request, services: ServicesDep
) -> Response:
    """The exported zip (``outputs.files[].file``), with the same credentials."""

    async def work() -> Response:
        caller = await _caller(services, request, tenant)
        path, job = await run_blocking(services.transfers.export_file, caller, _job_id(job_id))
        name = job.file_name or "package.zip"
        if file_name != name:
            raise NotFound("export file", file_name[:200])
        return FileResponse(
            path,
            media_type="application/zip",
            filename=name,
            headers={"X-Checksum-SHA256": job.file_sha256 or ""},
        )

    return await _answer(work)


# --- imports --------------------------------------------------------------------------------


@router.post("/{tenant}/api/v4/import", operation_id="spark_import_create")
async def create_import(tenant: str, request: Request, services: ServicesDep) -> Response:
    """Upload an exported zip (multipart ``file``) with ``importRequestEntity`` (JSON)."""

    async def work() -> Response:
        caller = await _caller(services, request, tenant)
        async with read_upload(
            request,
            fields=("importRequestEntity",),
            missing_file="is required: the exported zip",
            wrong_type="send multipart/form-data with the zip as 'file' and the options as "
            "'importRequestEntity'",
        ) as upload:
            options = _import_options(upload.fields.get("importRequestEntity"), upload.file_name)
            job = await run_blocking(services.transfers.create_import, caller, upload.file, options)
        return JSONResponse(_import_status(job, request, tenant))

    return await _answer(work)


@router.get("/{tenant}/api/v4/import/status", operation_id="spark_import_tenant_status")
async def import_tenant_status(tenant: str, request: Request, services: ServicesDep) -> Response:
    """Unfinished imports and those finished within the hour, with the tenant's limit."""
    return await _tenant_wide(TransferKind.IMPORT, tenant, request, services)


@router.get("/{tenant}/api/v4/import/{job_id}/status", name="spark_import_status")
async def import_status(
    tenant: str, job_id: str, request: Request, services: ServicesDep
) -> Response:
    """The import's status and, once completed, the services and versions it stored."""
    return await _one(TransferKind.IMPORT, tenant, job_id, request, services)


@router.patch("/{tenant}/api/v4/import/{job_id}", operation_id="spark_import_cancel")
async def cancel_import(
    tenant: str, job_id: str, request: Request, services: ServicesDep
) -> Response:
    """``{"import_status": "cancelled"}`` cancels an unfinished import: nothing is kept."""
    return await _cancel(TransferKind.IMPORT, tenant, job_id, request, services)
