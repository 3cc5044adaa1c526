"""Transfer jobs as their callers see them: created (within the tenant's limits), listed,
read and cancelled. The work itself is :mod:`.runner`'s."""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

import structlog
from sqlalchemy import Connection

from jobplan.errors import Conflict, InvalidInput, LimitExceeded, NotFound
from jobplan.metrics import Metrics
from jobplan.service import audit
from jobplan.service.audit import audited, field_changes
from jobplan.service.caller import Caller, Permission
from jobplan.service.folders import normalise_folder
from jobplan.service.pagination import Page, check_page
from jobplan.service.plans import PlanService
from jobplan.service.transfers.files import TransferFiles
from jobplan.service.transfers.options import (
    ExportOptions,
    ImportOptions,
    TransferKind,
    TransferLimits,
    TransferStatus,
)
from jobplan.service.transfers.selection import UUID, select_versions
from jobplan.settings import Settings
from jobplan.store import Database, accounts, new_id, transfers, utcnow
from jobplan.store.committed import call_after_commit
from jobplan.store.records import TransferJobRecord

__all__ = ["TransferJobs", "caller_of", "count_end", "expiry", "tenant_limits"]

log = structlog.get_logger(__name__)

_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,200}$")


def tenant_limits(
    conn: Connection, settings: Settings, tenant_id: str, kind: TransferKind
) -> TransferLimits:
    """The server's limits for ``kind`` jobs, overridden by the tenant's own settings."""
    tenant = accounts.get_tenant(conn, tenant_id)
    own = tenant.settings if tenant is not None else {}
    default_jobs = (
        settings.export_job_limit if kind is TransferKind.EXPORT else settings.import_job_limit
    )
    return TransferLimits(
        job_limit=int(own.get(f"{kind}_job_limit") or default_jobs),
        max_package_bytes=int(own.get("max_package_bytes") or settings.max_package_bytes),
        timeout_seconds=float(
            own.get("transfer_timeout_seconds") or settings.transfer_timeout_seconds
        ),
    )


def count_end(conn: Connection, metrics: Metrics, kind: str, status: str) -> None:
    """Count a job that ended (``jobplan_transfer_jobs_total``), once ``conn`` commits."""
    kind, status = str(kind), str(status)
    call_after_commit(conn, lambda: metrics.transfer_jobs.labels(kind, status).inc())


def expiry(settings: Settings) -> datetime:
    """When a job ending now is purged with its files."""
    return utcnow() + timedelta(seconds=settings.transfer_retention_seconds)


def _caller_snapshot(caller: Caller) -> transfers.CallerSnapshot:
    return transfers.CallerSnapshot(
        user_id=caller.user_id,
        username=caller.username,
        tenant_name=caller.tenant_name,
        role=caller.role,
        is_system_admin=caller.is_system_admin,
        scopes=sorted(caller.scopes) if caller.scopes is not None else None,
        api_key_id=caller.api_key_id,
    )


def caller_of(tenant_id: str, saved: transfers.CallerSnapshot) -> Caller:
    """Who created a job of ``tenant_id``, as they were then (the job runs with their
    rights)."""
    return Caller(
        user_id=saved.user_id,
        username=saved.username,
        tenant_id=tenant_id,
        tenant_name=saved.tenant_name,
        role=saved.role,
        is_system_admin=saved.is_system_admin,
        scopes=frozenset(saved.scopes) if saved.scopes is not None else None,
        api_key_id=saved.api_key_id,
    )


def _check_file_name(name: str | None, default: str) -> str:
    if name is None or name == "":
        return default
    if not _FILE_NAME.fullmatch(name):
        raise InvalidInput(
            "must be 1-200 letters, digits, spaces, '.', '_' or '-' (no folders)",
            field="file_name",
        )
    return name if name.lower().endswith(".zip") else f"{name}.zip"


def _check_tag(value: str | None, name: str) -> str | None:
    if value is not None and len(value) > 200:
        raise InvalidInput("must be at most 200 characters", field=name)
    return value


def _described(request: transfers.ExportRequest | transfers.ImportRequest) -> dict[str, Any]:
    """A job's options for its audit record: token names, never their values."""
    options = request.options.model_dump(mode="json", exclude_defaults=True)
    tokens = options.pop("tokens", None)
    if tokens:
        options["tokens"] = sorted(tokens)
    if isinstance(request, transfers.ExportRequest):
        options["versions"] = len(request.version_ids)
    return options


class TransferJobs:
    """Export and import jobs of the caller's tenant, from creation to cancellation."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        plans: PlanService,
        files: TransferFiles,
        cancelling: set[str],
        notify: Callable[[], None],
        metrics: Metrics,
    ) -> None:
        self._metrics = metrics
        self._db = database
        self._settings = settings
        self._plans = plans
        self._files = files
        self._cancelling = cancelling
        self._notify = notify

    # --- limits ---------------------------------------------------------------------------

    def tenant_limits(self, caller: Caller, kind: TransferKind) -> TransferLimits:
        with self._db.read() as conn:
            return tenant_limits(conn, self._settings, caller.tenant_id, kind)

    def active_count(self, caller: Caller, kind: TransferKind) -> int:
        """The tenant's unfinished jobs of ``kind`` (everyone's: they share the limit)."""
        self._need(caller, kind)
        with self._db.read() as conn:
            return transfers.count_active(conn, caller.tenant_id, str(kind))

    # --- creating jobs --------------------------------------------------------------------

    @audited("export.create", "export", lambda a: getattr(a.get("options"), "file_name", None))
    def create_export(self, caller: Caller, options: ExportOptions) -> TransferJobRecord:
        """Check the selection (unknown plans, folders or versions are refused now) and
        queue the export."""
        caller.require(Permission.PLANS_READ)
        if options.include_history:
            caller.require(Permission.RUNS_READ)
        file_name = _check_file_name(options.file_name, "package.zip")
        _check_tag(options.source_system, "source_system")
        _check_tag(options.correlation_id, "correlation_id")
        # no collector pause here: it is process-wide, and this is a request's thread
        with self._db.read() as conn:
            selected = select_versions(conn, self._plans, caller, options)
        request = transfers.ExportRequest(
            caller=_caller_snapshot(caller),
            options=transfers.ExportRequestOptions.model_validate(
                {**asdict(options), "file_name": file_name}
            ),
            version_ids=[version.id for version in selected],
        )
        return self._create(caller, TransferKind.EXPORT, request, options, file_name)

    @audited("import.create", "import", lambda a: getattr(a.get("options"), "file_name", None))
    def create_import(
        self, caller: Caller, upload: IO[bytes], options: ImportOptions
    ) -> TransferJobRecord:
        """Store the uploaded bundle and queue its import. Only the size is checked now;
        everything else is the job's (a broken bundle makes a ``failed`` job saying why)."""
        caller.require(Permission.PLANS_WRITE)
        folder = normalise_folder(options.folder, "folder") if options.folder else ""
        if not isinstance(options.tokens, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in options.tokens.items()
        ):
            raise InvalidInput("must be an object of text values", field="tokens")
        _check_tag(options.source_system, "source_system")
        _check_tag(options.correlation_id, "correlation_id")
        file_name = _check_file_name(options.file_name, "bundle.zip")
        with self._db.read() as conn:
            limits = tenant_limits(conn, self._settings, caller.tenant_id, TransferKind.IMPORT)
            active = transfers.count_active(conn, caller.tenant_id, str(TransferKind.IMPORT))
        if active >= limits.job_limit:  # checked again when the job is created
            raise LimitExceeded(
                f"tenant '{caller.tenant_name}' already has {active} unfinished import "
                "job(s), its limit; wait for it to finish or cancel it"
            )
        job_id = new_id()
        target = self._files.prepare(caller.tenant_id, job_id, ".upload")
        size = self._files.receive(upload, target, limits.max_package_bytes)
        try:
            if size == 0:
                raise InvalidInput("is empty; send a zip bundle", field="file")
            request = transfers.ImportRequest(
                caller=_caller_snapshot(caller),
                options=transfers.ImportRequestOptions(
                    tokens=options.tokens,
                    on_conflict=options.on_conflict.value,
                    dry_run=options.dry_run,
                    folder=folder,
                    file_name=file_name,
                    size=size,
                ),
            )
            return self._create(
                caller, TransferKind.IMPORT, request, options, file_name, job_id=job_id
            )
        except BaseException:
            target.unlink(missing_ok=True)
            raise

    def _create(
        self,
        caller: Caller,
        kind: TransferKind,
        request: transfers.ExportRequest | transfers.ImportRequest,
        options: ExportOptions | ImportOptions,
        file_name: str,
        *,
        job_id: str | None = None,
    ) -> TransferJobRecord:
        now = utcnow()
        with self._db.transaction() as conn:
            transfers.lock_tenant(conn, caller.tenant_id)
            limits = tenant_limits(conn, self._settings, caller.tenant_id, kind)
            active = transfers.count_active(conn, caller.tenant_id, kind)
            if active >= limits.job_limit:
                raise LimitExceeded(
                    f"tenant '{caller.tenant_name}' already has {active} unfinished {kind} "
                    f"job(s), its limit; wait for it to finish or cancel it"
                )
            record = TransferJobRecord(
                id=job_id or new_id(),
                tenant_id=caller.tenant_id,
                kind=str(kind),
                status=TransferStatus.CREATED,
                progress=0,
                request=request.model_copy(
                    update={"timeout_seconds": limits.timeout_seconds}
                ).model_dump(mode="json"),
                result=None,
                reason=None,
                created_by=caller.user_id,
                created_by_name=caller.username,
                source_system=options.source_system,
                correlation_id=options.correlation_id,
                file_name=file_name,
                file_size=None,
                file_sha256=None,
                node_id=None,
                cancel_requested=False,
                created_at=now,
                started_at=None,
                finished_at=None,
                deadline_at=now + timedelta(seconds=limits.timeout_seconds),
                expires_at=None,
            )
            transfers.insert(conn, record)
            audit.record(
                conn,
                target_id=record.id,
                target_path=file_name,
                changes=field_changes({}, _described(request)),
            )
        log.info("transfer_created", kind=str(kind), job=record.id, tenant=caller.tenant_name)
        self._notify()
        return record

    # --- reading and cancelling -----------------------------------------------------------

    @staticmethod
    def _visible(caller: Caller, job: TransferJobRecord) -> bool:
        return job.created_by == caller.user_id or caller.can(Permission.USERS_READ)

    @staticmethod
    def _need(caller: Caller, kind: TransferKind) -> None:
        caller.require(
            Permission.PLANS_READ if kind is TransferKind.EXPORT else Permission.PLANS_WRITE
        )

    def get(self, caller: Caller, kind: TransferKind, job_id: str) -> TransferJobRecord:
        """A job of the caller's (any of the tenant's for supervisors and admins)."""
        self._need(caller, kind)
        if not UUID.match(job_id):
            raise NotFound(f"{kind} job", job_id)
        with self._db.read() as conn:
            job = transfers.get(conn, caller.tenant_id, str(kind), job_id)
        if job is None or not self._visible(caller, job):
            raise NotFound(f"{kind} job", job_id)
        return job

    def list(
        self,
        caller: Caller,
        kind: TransferKind,
        *,
        statuses: builtins.list[str] | None = None,
        since: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[TransferJobRecord]:
        """The caller's jobs, newest first (every job of the tenant for supervisors)."""
        self._need(caller, kind)
        check_page(limit, offset)
        known = {str(s) for s in TransferStatus}
        for status in statuses or []:
            if status not in known:
                raise InvalidInput(
                    f"unknown status {status!r}; expected one of {', '.join(sorted(known))}",
                    field="status",
                )
        mine = None if caller.can(Permission.USERS_READ) else caller.user_id
        with self._db.read() as conn:
            items, total = transfers.list_jobs(
                conn,
                caller.tenant_id,
                str(kind),
                created_by=mine,
                statuses=tuple(statuses) if statuses else None,
                since=since,
                limit=limit,
                offset=offset,
            )
        return Page(items, total, limit, offset)

    @audited("transfer.cancel", None, "job_id")
    def cancel(self, caller: Caller, kind: TransferKind, job_id: str) -> TransferJobRecord:
        """Cancel a job that has not finished: nothing it did is kept."""
        job = self.get(caller, kind, job_id)
        if job.status not in transfers.ACTIVE:
            raise Conflict(f"{kind} job {job_id} has already finished ({job.status})")
        self._cancelling.add(job.id)
        try:
            with self._db.transaction() as conn:
                ended = transfers.mark_cancelled(conn, job.id, expiry(self._settings))
                if ended:
                    audit.record(
                        conn,
                        target_type=str(kind),
                        target_id=job.id,
                        target_path=job.file_name,
                        changes=field_changes({"status": job.status}, {"status": "cancelled"}),
                    )
                    count_end(conn, self._metrics, job.kind, TransferStatus.CANCELLED)
        finally:
            self._cancelling.discard(job.id)
        if not ended:
            current = self.get(caller, kind, job_id)
            raise Conflict(f"{kind} job {job_id} has already finished ({current.status})")
        self._files.discard(job, ".zip.part", ".upload")
        log.info("transfer_cancelled", kind=str(kind), job=job.id)
        return self.get(caller, kind, job_id)

    def export_file(self, caller: Caller, job_id: str) -> tuple[Path, TransferJobRecord]:
        """The finished export's zip file and its job."""
        job = self.get(caller, TransferKind.EXPORT, job_id)
        if job.status != TransferStatus.COMPLETED:
            raise Conflict(f"export job {job_id} has no file: it is {job.status}")
        path = self._files.path(job.tenant_id, job.id, ".zip")
        if not path.is_file():
            raise NotFound("export file", job_id)
        return path, job
