"""Transfers: export plans to a bundle, import a bundle (dry run first), watch, cancel."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from starlette.datastructures import UploadFile

from jobplan.api.uploads import upload_name
from jobplan.errors import InvalidInput
from jobplan.service.caller import Permission
from jobplan.service.plans import OnConflict
from jobplan.service.transfers import ExportOptions, ImportOptions, TransferKind
from jobplan.web.render import page
from jobplan.web.routing import acting, blocking, console_router, viewing
from jobplan.web.session import SessionDep, WebSession

__all__ = ["UPLOAD_PATH", "parse_token_lines", "router"]

router = console_router()

#: Where the console uploads bundles (the app lets this path take bundle-sized bodies).
UPLOAD_PATH = "/transfers/imports"
_FINISHED = {"completed", "failed", "cancelled", "closed_by_timeout"}
_MAX_SELECTED = 500
_LISTED = 20


def parse_token_lines(text: str) -> dict[str, str]:
    """``name=value`` per line (blank lines and ``#`` comments skipped), as the CLI's
    ``--token name=value``."""
    tokens: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        name, sep, value = stripped.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(f"line {number}: write name=value", field="tokens")
        tokens[name.strip()] = value.strip()
    return tokens


def _kind(value: str) -> TransferKind:
    try:
        return TransferKind(value.removesuffix("s"))
    except ValueError:
        raise InvalidInput("must be exports or imports", field="kind") from None


def _job_fragment(
    request: Request, session: WebSession, kind: TransferKind, job_id: str, status_code: int = 200
) -> HTMLResponse:
    job = session.services.transfers.get(session.caller, kind, job_id)
    return page(
        request,
        "_transfer_job.html",
        session,
        status_code=status_code,
        job=job,
        kind=kind.value,
        finished=job.status in _FINISHED,
        result=job.result or {},
    )


@router.get("/transfers")
def transfers_page(request: Request, session: SessionDep) -> HTMLResponse:
    viewing(request, session)
    services, caller = session.services, session.caller
    exports = services.transfers.list(caller, TransferKind.EXPORT, limit=_LISTED)
    imports = services.transfers.list(caller, TransferKind.IMPORT, limit=_LISTED)
    plans = services.plans.list(caller, limit=_MAX_SELECTED)
    folders = services.folders.list(caller, limit=_MAX_SELECTED)
    unfinished = any(job.status not in _FINISHED for job in exports.items + imports.items)
    return page(
        request,
        "transfers.html",
        session,
        title="Transfers",
        exports=exports.items,
        imports=imports.items,
        plans=plans.items,
        folders=folders.items,
        unfinished=unfinished,
        finished=_FINISHED,
        conflict_rules=[rule.value for rule in OnConflict],
        can_import=caller.can(Permission.PLANS_WRITE),
    )


@router.post("/transfers/exports")
async def create_export(request: Request, session: SessionDep) -> Response:
    await acting(request, session)
    form = await request.form()
    plan_ids = tuple(v for v in form.getlist("plan") if isinstance(v, str) and v)
    folders = tuple(v for v in form.getlist("folder") if isinstance(v, str) and v)
    if not plan_ids and not folders:
        raise InvalidInput("choose at least one plan or folder", field="plan")
    if len(plan_ids) + len(folders) > _MAX_SELECTED:
        raise InvalidInput(f"choose at most {_MAX_SELECTED} plans and folders", field="plan")
    options = ExportOptions(
        folders=folders,
        plan_ids=plan_ids,
        version_filter="latest" if form.get("latest") == "on" else "all",
        with_tokens=form.get("with_tokens") == "on",
        include_history=form.get("include_history") == "on",
    )
    job = await blocking(session.services.transfers.create_export, session.caller, options)
    return await blocking(_job_fragment, request, session, TransferKind.EXPORT, job.id, 202)


@router.post(UPLOAD_PATH)
async def create_import(request: Request, session: SessionDep) -> Response:
    """Upload a bundle and queue its import (or its dry run); answers the job's fragment,
    which follows the job until it ends."""
    await acting(request, session)
    form = await request.form(max_files=1, max_fields=10)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise InvalidInput("choose a bundle (.zip) to import", field="file")
        rule = str(form.get("on_conflict") or "abort")
        if rule not in {r.value for r in OnConflict}:
            raise InvalidInput(
                f"must be one of {', '.join(r.value for r in OnConflict)}", field="on_conflict"
            )
        tokens_text = form.get("tokens")
        options = ImportOptions(
            tokens=parse_token_lines(tokens_text if isinstance(tokens_text, str) else ""),
            on_conflict=OnConflict(rule),
            dry_run=form.get("dry_run") == "true",
            folder=str(form.get("target_folder") or ""),
            file_name=upload_name(upload.filename),
        )
        job = await blocking(
            session.services.transfers.create_import, session.caller, upload.file, options
        )
    finally:
        await form.close()
    return await blocking(_job_fragment, request, session, TransferKind.IMPORT, job.id, 202)


@router.get("/transfers/{kind}/{job_id}")
def transfer_job(
    request: Request,
    session: SessionDep,
    kind: str,
    job_id: str,
    fragment: Annotated[bool, Query()] = False,
) -> HTMLResponse:
    viewing(request, session)
    transfer_kind = _kind(kind)
    if fragment:
        return _job_fragment(request, session, transfer_kind, job_id)
    job = session.services.transfers.get(session.caller, transfer_kind, job_id)
    context: dict[str, Any] = {
        "job": job,
        "kind": transfer_kind.value,
        "finished": job.status in _FINISHED,
        "result": job.result or {},
    }
    return page(request, "transfer.html", session, title=f"{kind[:-1]} {job.id}", **context)


@router.post("/transfers/{kind}/{job_id}/cancel")
async def cancel_transfer(
    request: Request, session: SessionDep, kind: str, job_id: str
) -> Response:
    await acting(request, session)
    transfer_kind = _kind(kind)
    await blocking(session.services.transfers.cancel, session.caller, transfer_kind, job_id)
    if request.headers.get("HX-Request") == "true":
        return await blocking(_job_fragment, request, session, transfer_kind, job_id)
    return RedirectResponse("/transfers", status_code=303)


@router.get("/transfers/exports/{job_id}/download")
def download_export(request: Request, session: SessionDep, job_id: str) -> FileResponse:
    viewing(request, session)
    path, job = session.services.transfers.export_file(session.caller, job_id)
    return FileResponse(path, media_type="application/zip", filename=job.file_name or path.name)
