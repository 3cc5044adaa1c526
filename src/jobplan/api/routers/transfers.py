"""``/api/v1/exports`` and ``/api/v1/imports``: asynchronous bundle jobs (docs/bundles.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response, status
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from jobplan.api.adapter import run_blocking
from jobplan.api.deps import CallerDep, LimitQuery, OffsetQuery, ServicesDep, set_page_headers
from jobplan.api.openapi import AUTHENTICATED, problem_responses
from jobplan.api.uploads import parse_tokens, read_upload, upload_name
from jobplan.errors import InvalidInput
from jobplan.service.caller import Caller
from jobplan.service.container import Services
from jobplan.service.plans import OnConflict
from jobplan.service.records import TransferJobRecord
from jobplan.service.transfers import ExportOptions, ImportOptions, TransferKind

router = APIRouter(prefix="/api/v1", tags=["bundles"], responses=problem_responses(*AUTHENTICATED))

JobId = Annotated[str, Path(max_length=64, description="Export or import job id.")]
Ref = Annotated[str, Field(min_length=1, max_length=1024)]
Tag = Annotated[str, Field(max_length=200)]
StatusQuery = Annotated[
    list[str] | None, Query(max_length=6, description="Only jobs in these statuses.")
]


class ExportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    folders: list[Ref] = Field(default_factory=list, max_length=1000)
    plans: list[Ref] = Field(
        default_factory=list,
        max_length=10000,
        description="`folder/plan`, `folder/plan[version-prefix]` or plan ids.",
    )
    plan_ids: list[Ref] = Field(default_factory=list, max_length=10000)
    version_ids: list[Ref] = Field(default_factory=list, max_length=10000)
    version_filter: Literal["all", "latest"] = "all"
    file_filter: Literal["migrate", "runtime"] = "migrate"
    with_tokens: bool = False
    context_name: Literal["keep", "token", "env_suffix"] = Field(
        default="keep",
        description="With tokens: `token` writes plan names as `[[context.name]]`; "
        "`env_suffix` turns `eod_PROD` into `eod_[[env.name]]`.",
    )
    include_history: bool = False
    source_system: Tag | None = None
    correlation_id: Tag | None = None
    file_name: Tag | None = None

    def options(self) -> ExportOptions:
        return ExportOptions(
            folders=tuple(self.folders),
            plans=tuple(self.plans),
            plan_ids=tuple(self.plan_ids),
            version_ids=tuple(self.version_ids),
            version_filter=self.version_filter,
            file_filter=self.file_filter,
            with_tokens=self.with_tokens,
            context_name=self.context_name,
            include_history=self.include_history,
            source_system=self.source_system,
            correlation_id=self.correlation_id,
            file_name=self.file_name,
        )


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["cancelled"] = Field(description="The only change allowed: `cancelled`.")


class FileOut(BaseModel):
    name: str
    size: int
    sha256: str
    url: str


class TransferOut(BaseModel):
    """An export or import job. Imports that ran (or dry-ran) list the plans they added,
    changed and left unchanged; exports list what they packaged."""

    id: str
    object: str = Field(description="`export` or `import`.")
    status: str
    progress: int = Field(description="Percent done (100 once completed).")
    reason: str | None
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    deadline_at: datetime | None
    expires_at: datetime | None
    process_time_ms: int | None
    source_system: str | None
    correlation_id: str | None
    status_url: str
    options: dict[str, Any]
    file: FileOut | None = None
    dry_run: bool | None = None
    added: list[str] | None = None
    changed: list[str] | None = None
    unchanged: list[str] | None = None
    conflicts: list[str] | None = None
    plans: list[dict[str, Any]] | None = None
    versions: list[dict[str, Any]] | None = None
    warnings: list[str] | None = None

    @classmethod
    def of(cls, job: TransferJobRecord, request: Request) -> TransferOut:
        kind = "exports" if job.kind == TransferKind.EXPORT else "imports"
        options = dict(job.request.get("options", {}))
        if "tokens" in options:  # values may be environment secrets: show only the names
            options["tokens"] = sorted(options["tokens"])
        result = job.result or {}
        finished = job.finished_at or None
        elapsed = (
            int(((finished or job.started_at) - job.started_at).total_seconds() * 1000)
            if job.started_at and finished
            else None
        )
        file = None
        if job.kind == TransferKind.EXPORT and job.status == "completed" and job.file_sha256:
            file = FileOut(
                name=job.file_name or "package.zip",
                size=job.file_size or 0,
                sha256=job.file_sha256,
                url=str(request.url_for(f"{kind}_file", job_id=job.id)),
            )
        return cls(
            id=job.id,
            object=job.kind,
            status=job.status,
            progress=job.progress,
            reason=job.reason,
            created_by=job.created_by_name,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            deadline_at=job.deadline_at,
            expires_at=job.expires_at,
            process_time_ms=elapsed,
            source_system=job.source_system,
            correlation_id=job.correlation_id,
            status_url=str(request.url_for(f"{kind}_get", job_id=job.id)),
            options=options,
            file=file,
            **{key: result[key] for key in _RESULT_FIELDS if key in result},
        )


_RESULT_FIELDS = (
    "dry_run",
    "added",
    "changed",
    "unchanged",
    "conflicts",
    "plans",
    "versions",
    "warnings",
)


def _listed(
    kind: TransferKind,
    caller: Caller,
    services: Services,
    request: Request,
    response: Response,
    statuses: list[str] | None,
    limit: int,
    offset: int,
) -> list[TransferOut]:
    page = services.transfers.list(caller, kind, statuses=statuses, limit=limit, offset=offset)
    set_page_headers(request, response, page)
    return [TransferOut.of(job, request) for job in page.items]


# --- exports ---------------------------------------------------------------------------------


@router.post(
    "/exports",
    status_code=status.HTTP_202_ACCEPTED,
    name="exports_create",
    responses=problem_responses(404, 409),
)
def create_export(
    body: ExportIn, caller: CallerDep, services: ServicesDep, request: Request, response: Response
) -> TransferOut:
    """Queue an export of the selected plans; watch it at `status_url`."""
    job = services.transfers.create_export(caller, body.options())
    out = TransferOut.of(job, request)
    response.headers["Location"] = out.status_url
    return out


@router.get("/exports", name="exports_list")
def list_exports(
    caller: CallerDep,
    services: ServicesDep,
    request: Request,
    response: Response,
    status_: Annotated[StatusQuery, Query(alias="status")] = None,
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
) -> list[TransferOut]:
    """Your export jobs, newest first (every job of the tenant for supervisors and admins)."""
    return _listed(TransferKind.EXPORT, caller, services, request, response, status_, limit, offset)


@router.get("/exports/{job_id}", name="exports_get", responses=problem_responses(404))
def get_export(
    job_id: JobId, caller: CallerDep, services: ServicesDep, request: Request
) -> TransferOut:
    return TransferOut.of(services.transfers.get(caller, TransferKind.EXPORT, job_id), request)


@router.patch("/exports/{job_id}", name="exports_cancel", responses=problem_responses(404, 409))
def cancel_export(
    job_id: JobId, body: CancelIn, caller: CallerDep, services: ServicesDep, request: Request
) -> TransferOut:
    """Cancel an unfinished export (`{"status": "cancelled"}`); nothing is left to download."""
    return TransferOut.of(services.transfers.cancel(caller, TransferKind.EXPORT, job_id), request)


@router.get(
    "/exports/{job_id}/file",
    name="exports_file",
    response_class=FileResponse,
    responses={
        200: {"content": {"application/zip": {}}, "description": "The bundle."},
        **problem_responses(404, (409, "The export has no file (not completed).")),
    },
)
def download_export(job_id: JobId, caller: CallerDep, services: ServicesDep) -> FileResponse:
    """The exported bundle; its SHA-256 is in the job's status and the `X-Checksum-SHA256`
    header."""
    path, job = services.transfers.export_file(caller, job_id)
    return FileResponse(
        path,
        media_type="application/zip",
        filename=job.file_name or "package.zip",
        headers={"X-Checksum-SHA256": job.file_sha256 or ""},
    )


# --- imports ---------------------------------------------------------------------------------


_IMPORT_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "tokens": {"type": "string", "description": "JSON object"},
                        "on_conflict": {"enum": [str(c) for c in OnConflict]},
                        "dry_run": {"type": "boolean"},
                        "folder": {"type": "string"},
                        "source_system": {"type": "string"},
                        "correlation_id": {"type": "string"},
                    },
                }
            }
        },
    }
}
_FORM_FIELDS = {"tokens", "on_conflict", "dry_run", "folder", "source_system", "correlation_id"}


@router.post(
    "/imports",
    status_code=status.HTTP_202_ACCEPTED,
    name="imports_create",
    openapi_extra=_IMPORT_FORM,
    responses=problem_responses(404, 413),
)
async def create_import(
    caller: CallerDep, services: ServicesDep, request: Request, response: Response
) -> TransferOut:
    """Upload a bundle (multipart `file`) and queue its import: all plans or none. The
    caller is authenticated before the body is read."""
    async with read_upload(
        request,
        fields=_FORM_FIELDS,
        missing_file="is required: the bundle as a multipart file part",
        strict=True,
    ) as upload:
        fields = upload.fields
        options = ImportOptions(
            tokens=parse_tokens(fields.get("tokens")),
            on_conflict=_choice(fields.get("on_conflict", "abort")),
            dry_run=_flag(fields.get("dry_run", "false"), "dry_run"),
            folder=fields.get("folder", ""),
            source_system=fields.get("source_system") or None,
            correlation_id=fields.get("correlation_id") or None,
            file_name=upload_name(upload.file_name),
        )
        job = await run_blocking(services.transfers.create_import, caller, upload.file, options)
    out = TransferOut.of(job, request)
    response.headers["Location"] = out.status_url
    return out


def _choice(value: str) -> OnConflict:
    try:
        return OnConflict(value)
    except ValueError:
        choices = ", ".join(str(c) for c in OnConflict)
        raise InvalidInput(f"must be one of {choices}", field="on_conflict") from None


def _flag(value: str, field: str) -> bool:
    if value.lower() in ("true", "1", "yes", "on"):
        return True
    if value.lower() in ("false", "0", "no", "off", ""):
        return False
    raise InvalidInput("must be true or false", field=field)


@router.get("/imports", name="imports_list")
def list_imports(
    caller: CallerDep,
    services: ServicesDep,
    request: Request,
    response: Response,
    status_: Annotated[StatusQuery, Query(alias="status")] = None,
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
) -> list[TransferOut]:
    """Your import jobs, newest first (every job of the tenant for supervisors and admins)."""
    return _listed(TransferKind.IMPORT, caller, services, request, response, status_, limit, offset)


@router.get("/imports/{job_id}", name="imports_get", responses=problem_responses(404))
def get_import(
    job_id: JobId, caller: CallerDep, services: ServicesDep, request: Request
) -> TransferOut:
    return TransferOut.of(services.transfers.get(caller, TransferKind.IMPORT, job_id), request)


@router.patch("/imports/{job_id}", name="imports_cancel", responses=problem_responses(404, 409))
def cancel_import(
    job_id: JobId, body: CancelIn, caller: CallerDep, services: ServicesDep, request: Request
) -> TransferOut:
    """Cancel an unfinished import (`{"status": "cancelled"}`): nothing of it is kept."""
    return TransferOut.of(services.transfers.cancel(caller, TransferKind.IMPORT, job_id), request)
