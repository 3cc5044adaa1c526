"""Asynchronous bundle exports and imports: created by a request, run by a worker, watched
through their status, cancelled by ``cancel``. One implementation for ``/api/v1/exports``,
``/api/v1/imports``, the Spark and Ikasan dialects and the CLI (see docs/bundles.md)."""

from __future__ import annotations

import builtins
import hashlib
import json
import os
import re
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import IO, Any, Literal

import structlog
from sqlalchemy import Connection

from jobplan.bundle import (
    BundleError,
    BundleLimits,
    BundlePlan,
    TokenSpec,
    paused_gc,
    read_bundle,
    write_bundle,
)
from jobplan.errors import (
    Conflict,
    InvalidInput,
    JobplanError,
    LimitExceeded,
    NotFound,
    StoreError,
    TooLarge,
)
from jobplan.model import PlanDocument, Role, SemVer, latest_matching
from jobplan.service.caller import Caller, Permission
from jobplan.service.folders import normalise_folder
from jobplan.service.pagination import Page, check_page
from jobplan.service.plans import ImportedPlan, OnConflict, PlanService, load_document
from jobplan.service.runs import RunService
from jobplan.settings import Settings
from jobplan.store import Database, accounts, new_id, plans, transfers, utcnow
from jobplan.store.records import PlanVersionRecord, TransferJobRecord

__all__ = [
    "ExportOptions",
    "ImportOptions",
    "TransferKind",
    "TransferLimits",
    "TransferService",
    "TransferStatus",
]

log = structlog.get_logger(__name__)

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_PINNED = re.compile(r"^(?P<plan>.+)\[(?P<version>[^\[\]]*)\]$")
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,200}$")
_PROGRESS_EVERY = 0.25  # seconds between progress writes and cancellation checks
_CHUNK = 1024 * 1024
_CACHED_JOBS = 20_000
"""How many jobs the validated documents kept for exports may hold in all (about 2 KB of
memory each)."""


class TransferKind(StrEnum):
    EXPORT = "export"
    IMPORT = "import"


class TransferStatus(StrEnum):
    CREATED = "created"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    CLOSED_BY_TIMEOUT = "closed_by_timeout"


@dataclass(frozen=True, slots=True)
class ExportOptions:
    """What to export: the union of the selections, filtered by ``version_filter``."""

    folders: tuple[str, ...] = ()
    plans: tuple[str, ...] = ()
    """``folder/plan``, ``folder/plan[version-prefix]`` or a plan id."""
    plan_ids: tuple[str, ...] = ()
    version_ids: tuple[str, ...] = ()
    version_filter: Literal["all", "latest"] = "all"
    file_filter: Literal["migrate", "runtime"] = "migrate"
    """``migrate``: everything; ``runtime``: plan entries and manifest only (no empty Ikasan
    folders, no history)."""
    with_tokens: bool = False
    context_name: Literal["keep", "token", "env_suffix"] = "keep"
    """With tokens: keep plan names, make them ``[[context.name]]``, or turn an environment
    suffix into a token (``eod_PROD`` -> ``eod_[[env.name]]``), as Ikasan's exports do."""
    include_history: bool = False
    source_system: str | None = None
    correlation_id: str | None = None
    file_name: str | None = None


@dataclass(frozen=True, slots=True)
class ImportOptions:
    tokens: dict[str, str] = field(default_factory=dict)
    on_conflict: OnConflict = OnConflict.ABORT
    dry_run: bool = False
    folder: str = ""
    """Folder for plans whose bundle does not name one (Ikasan exports)."""
    source_system: str | None = None
    correlation_id: str | None = None
    file_name: str | None = None


@dataclass(frozen=True, slots=True)
class TransferLimits:
    """A tenant's limits: the server's settings, overridden by the tenant's own settings."""

    job_limit: int
    max_package_bytes: int
    timeout_seconds: float


class _Cancelled(Exception):
    pass


class _TimedOut(Exception):
    pass


class _Watch:
    """Called as work advances: records progress now and then, and stops the work (by
    raising) when the job was cancelled or ran out of time."""

    def __init__(
        self,
        db: Database,
        job: TransferJobRecord,
        low: int,
        high: int,
        cancelled: Callable[[str], bool],
    ) -> None:
        self._db = db
        self._job = job
        self._cancelled = cancelled
        self._low, self._high = low, high
        self._last = 0.0
        self.hook: Callable[[], None] | None = None

    def __call__(self, done: int, total: int) -> None:
        if self.hook is not None:
            self.hook()
        now = time.monotonic()
        if now - self._last < _PROGRESS_EVERY:
            return
        self._last = now
        self.check()
        percent = self._low + (self._high - self._low) * done // max(total, 1)
        try:
            with self._db.transaction() as conn:
                transfers.set_progress(conn, self._job.id, min(percent, 99))
        except StoreError:
            # progress is informative: a busy database (SQLite's writer held by a long
            # import) must not fail the job
            log.warning("transfer_progress_not_saved", job=self._job.id)

    def check(self) -> None:
        if self._job.deadline_at is not None and utcnow() > self._job.deadline_at:
            raise _TimedOut()
        if self._cancelled(self._job.id):
            raise _Cancelled()
        with self._db.read() as conn:
            if transfers.is_cancelled(conn, self._job.id):
                raise _Cancelled()

    def between_plans(self) -> None:
        if self.hook is not None:
            self.hook()
        if self._cancelled(self._job.id):
            raise _Cancelled()
        now = time.monotonic()
        if now - self._last >= _PROGRESS_EVERY:
            self._last = now
            self.check()


class _DocumentCache:
    """Validated plan documents by version id, for exports.

    A stored version never changes, so its document is validated once (about 50 µs a job)
    and reused by later exports of it. Least recently used first out; documents hold
    ``max_jobs`` jobs at most in all, and one with more is not kept.
    """

    def __init__(self, max_jobs: int = _CACHED_JOBS) -> None:
        self._max_jobs = max_jobs
        self._items: OrderedDict[str, tuple[PlanDocument, int]] = OrderedDict()
        self._jobs = 0
        self._lock = threading.Lock()

    def load(self, record: PlanVersionRecord) -> PlanDocument:
        """``load_document(record)``, validated only the first time."""
        with self._lock:
            found = self._items.get(record.id)
            if found is not None:
                self._items.move_to_end(record.id)
                return found[0]
        document = load_document(record)
        size = sum(1 for _ in document.all_jobs())
        if size > self._max_jobs:
            return document
        with self._lock:
            if record.id not in self._items:
                self._items[record.id] = (document, size)
                self._jobs += size
                while self._jobs > self._max_jobs:
                    _, (_, evicted) = self._items.popitem(last=False)
                    self._jobs -= evicted
        return document


class _CappedFile:
    """A file being written that hashes what passes and refuses to grow past ``cap``.

    Writes are gathered into chunks of about ``_CHUNK`` bytes before they are hashed and
    passed on: the zip writer makes several small writes per entry (three or four per entry
    for the central directory alone)."""

    def __init__(self, raw: IO[bytes], cap: int) -> None:
        self._raw = raw
        self._cap = cap
        self.size = 0
        self.digest = hashlib.sha256()
        self._pending: list[bytes] = []
        self._pending_size = 0

    def write(self, data: bytes) -> int:
        size = len(data)
        self.size += size
        if self.size > self._cap:
            raise _TooLarge(self._cap)
        self._pending.append(data)
        self._pending_size += size
        if self._pending_size >= _CHUNK:
            self._drain()
        return size

    def _drain(self) -> None:
        if self._pending:
            chunk = b"".join(self._pending)
            self._pending.clear()
            self._pending_size = 0
            self.digest.update(chunk)
            self._raw.write(chunk)

    def flush(self) -> None:
        self._drain()
        self._raw.flush()

    def tell(self) -> int:
        return self.size

    def seekable(self) -> bool:
        return False


class _TooLarge(Exception):
    def __init__(self, cap: int) -> None:
        super().__init__(f"the package would exceed the limit of {cap} bytes")


def _caller_snapshot(caller: Caller) -> dict[str, Any]:
    return {
        "user_id": caller.user_id,
        "username": caller.username,
        "tenant_name": caller.tenant_name,
        "role": str(caller.role),
        "is_system_admin": caller.is_system_admin,
        "scopes": sorted(caller.scopes) if caller.scopes is not None else None,
        "api_key_id": caller.api_key_id,
    }


def _caller_of(job: TransferJobRecord) -> Caller:
    saved = job.request["caller"]
    scopes = saved["scopes"]
    return Caller(
        user_id=saved["user_id"],
        username=saved["username"],
        tenant_id=job.tenant_id,
        tenant_name=saved["tenant_name"],
        role=Role(saved["role"]),
        is_system_admin=saved["is_system_admin"],
        scopes=frozenset(scopes) if scopes is not None else None,
        api_key_id=saved["api_key_id"],
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


class TransferService:
    """Export and import jobs of the caller's tenant."""

    def __init__(
        self, database: Database, settings: Settings, plans: PlanService, runs: RunService
    ) -> None:
        self._db = database
        self._settings = settings
        self._plans = plans
        self._runs = runs
        self.directory = settings.effective_transfer_dir
        #: called when a job is created (the worker wakes at once)
        self.notify: Callable[[], None] = lambda: None
        #: test seam: called at every progress step of a running job
        self.progress_hook: Callable[[], None] | None = None
        # jobs cancelled through this process: seen by its workers at once, even while
        # an import holds SQLite's write lock (so the cancellation cannot be written yet)
        self._cancelling: set[str] = set()
        self._documents = _DocumentCache()

    # --- limits ---------------------------------------------------------------------------

    def limits(self, conn: Connection, tenant_id: str, kind: TransferKind) -> TransferLimits:
        tenant = accounts.get_tenant(conn, tenant_id)
        own = tenant.settings if tenant is not None else {}
        default_jobs = (
            self._settings.export_job_limit
            if kind is TransferKind.EXPORT
            else self._settings.import_job_limit
        )
        return TransferLimits(
            job_limit=int(own.get(f"{kind}_job_limit") or default_jobs),
            max_package_bytes=int(own.get("max_package_bytes") or self._settings.max_package_bytes),
            timeout_seconds=float(
                own.get("transfer_timeout_seconds") or self._settings.transfer_timeout_seconds
            ),
        )

    def tenant_limits(self, caller: Caller, kind: TransferKind) -> TransferLimits:
        with self._db.read() as conn:
            return self.limits(conn, caller.tenant_id, kind)

    def active_count(self, caller: Caller, kind: TransferKind) -> int:
        """The tenant's unfinished jobs of ``kind`` (everyone's: they share the limit)."""
        self._need(caller, kind)
        with self._db.read() as conn:
            return transfers.count_active(conn, caller.tenant_id, str(kind))

    # --- creating jobs --------------------------------------------------------------------

    def create_export(self, caller: Caller, options: ExportOptions) -> TransferJobRecord:
        """Check the selection (unknown plans, folders or versions are refused now) and
        queue the export."""
        caller.require(Permission.PLANS_READ)
        if options.include_history:
            caller.require(Permission.RUNS_READ)
        file_name = _check_file_name(options.file_name, "package.zip")
        _check_tag(options.source_system, "source_system")
        _check_tag(options.correlation_id, "correlation_id")
        with paused_gc(), self._db.read() as conn:  # reads the selected plans' documents
            selected = self._select(conn, caller, options)
        request = {
            "caller": _caller_snapshot(caller),
            "options": {**asdict(options), "file_name": file_name},
            "version_ids": [version.id for version in selected],
        }
        return self._create(caller, TransferKind.EXPORT, request, options, file_name)

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
            limits = self.limits(conn, caller.tenant_id, TransferKind.IMPORT)
            active = transfers.count_active(conn, caller.tenant_id, str(TransferKind.IMPORT))
        if active >= limits.job_limit:  # checked again when the job is created
            raise LimitExceeded(
                f"tenant '{caller.tenant_name}' already has {active} unfinished import "
                "job(s), its limit; wait for it to finish or cancel it"
            )
        cap = limits.max_package_bytes
        job_id = new_id()
        target = self._path(caller.tenant_id, job_id, ".upload")
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            with open(target, "wb") as out:
                size = 0
                while chunk := upload.read(_CHUNK):
                    size += len(chunk)
                    if size > cap:
                        raise TooLarge(
                            f"the bundle is larger than the tenant's limit of {cap} bytes",
                            field="file",
                        )
                    out.write(chunk)
            if size == 0:
                raise InvalidInput("is empty; send a zip bundle", field="file")
            request = {
                "caller": _caller_snapshot(caller),
                "options": {
                    "tokens": options.tokens,
                    "on_conflict": str(options.on_conflict),
                    "dry_run": options.dry_run,
                    "folder": folder,
                    "file_name": file_name,
                    "size": size,
                },
            }
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
        request: dict[str, Any],
        options: ExportOptions | ImportOptions,
        file_name: str,
        *,
        job_id: str | None = None,
    ) -> TransferJobRecord:
        now = utcnow()
        with self._db.transaction() as conn:
            transfers.lock_tenant(conn, caller.tenant_id)
            limits = self.limits(conn, caller.tenant_id, kind)
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
                request={**request, "timeout_seconds": limits.timeout_seconds},
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
        log.info("transfer_created", kind=str(kind), job=record.id, tenant=caller.tenant_name)
        self.notify()
        return record

    # --- selection ------------------------------------------------------------------------

    def _select(
        self, conn: Connection, caller: Caller, options: ExportOptions
    ) -> list[PlanVersionRecord]:
        pinned = bool(options.version_ids) or any(_PINNED.match(p) for p in options.plans)
        if options.version_filter not in ("all", "latest"):
            raise InvalidInput("must be 'all' or 'latest'", field="version_filter")
        if options.file_filter not in ("migrate", "runtime"):
            raise InvalidInput("must be 'migrate' or 'runtime'", field="file_filter")
        if options.context_name not in ("keep", "token", "env_suffix"):
            raise InvalidInput("must be 'keep', 'token' or 'env_suffix'", field="context_name")
        if options.context_name != "keep" and not options.with_tokens:
            raise InvalidInput("needs with_tokens", field="context_name")
        if options.version_filter == "latest" and pinned:
            raise InvalidInput(
                "'latest' cannot be combined with pinned versions (plan[version] or "
                "version ids); use 'all' or drop the pins",
                field="version_filter",
            )
        latest_only = options.version_filter == "latest"
        chosen: dict[str, PlanVersionRecord] = {}

        def take_plan(plan_id: str) -> None:
            versions = plans.list_versions(conn, caller.tenant_id, plan_id)
            for version in versions[:1] if latest_only else versions:
                chosen[version.id] = version

        for index, folder in enumerate(options.folders):
            where = f"folders[{index}]"
            path = normalise_folder(folder, where)
            if path and plans.get_folder_by_path(conn, caller.tenant_id, path) is None:
                raise NotFound("folder", folder)
            found = self._plans_in(conn, caller, path)
            if not found:
                raise InvalidInput(f"folder {folder!r} holds no plans", field=where)
            for plan_id in found:
                take_plan(plan_id)
        for index, ref in enumerate([*options.plans, *options.plan_ids]):
            where = (
                f"plans[{index}]"
                if index < len(options.plans)
                else f"plan_ids[{index - len(options.plans)}]"
            )
            if not isinstance(ref, str) or not ref.strip() or len(ref) > 1024:
                raise InvalidInput("must be a plan path or id", field=where)
            match = _PINNED.match(ref)
            plan = self._plans.resolve(conn, caller, match["plan"] if match else ref)
            if match is None:
                take_plan(plan.id)
                continue
            versions = plans.list_versions(conn, caller.tenant_id, plan.id)
            try:
                best = latest_matching([v.version for v in versions], match["version"])
            except ValueError as exc:
                raise InvalidInput(str(exc), field=where) from None
            if best is None:
                raise NotFound("plan version", ref)
            version = next(v for v in versions if v.version == str(best))
            chosen[version.id] = version
        for index, version_id in enumerate(options.version_ids):
            if not isinstance(version_id, str) or not _UUID.match(version_id):
                raise InvalidInput("must be a version id", field=f"version_ids[{index}]")
        for version in plans.get_versions_by_ids(conn, caller.tenant_id, [*options.version_ids]):
            chosen[version.id] = version
        missing = set(options.version_ids) - set(chosen)
        if missing:
            raise NotFound("plan version", sorted(missing)[0])
        if not chosen:
            raise InvalidInput(
                "select at least one folder, plan or version to export", field="inputs"
            )
        return sorted(chosen.values(), key=lambda v: v.id)

    @staticmethod
    def _plans_in(conn: Connection, caller: Caller, folder: str) -> builtins.list[str]:
        found: builtins.list[str] = []
        offset = 0
        while True:
            page, total = plans.list_plans(
                conn,
                caller.tenant_id,
                folder=folder,
                recursive=True,
                name_contains=None,
                exact_name=None,
                enabled=None,
                limit=500,
                offset=offset,
            )
            found.extend(plan.id for plan in page)
            offset += len(page)
            if not page or offset >= total:
                return found

    # --- reading and cancelling -----------------------------------------------------------

    @staticmethod
    def _visible(caller: Caller, job: TransferJobRecord) -> bool:
        return job.created_by == caller.user_id or caller.can(Permission.USERS_READ)

    def _need(self, caller: Caller, kind: TransferKind) -> None:
        caller.require(
            Permission.PLANS_READ if kind is TransferKind.EXPORT else Permission.PLANS_WRITE
        )

    def get(self, caller: Caller, kind: TransferKind, job_id: str) -> TransferJobRecord:
        """A job of the caller's (any of the tenant's for supervisors and admins)."""
        self._need(caller, kind)
        if not _UUID.match(job_id):
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

    def cancel(self, caller: Caller, kind: TransferKind, job_id: str) -> TransferJobRecord:
        """Cancel a job that has not finished: nothing it did is kept."""
        job = self.get(caller, kind, job_id)
        if job.status not in transfers.ACTIVE:
            raise Conflict(f"{kind} job {job_id} has already finished ({job.status})")
        self._cancelling.add(job.id)
        try:
            with self._db.transaction() as conn:
                ended = transfers.mark_cancelled(conn, job.id, self._expiry())
                if ended:
                    transfers.redact_tokens(conn, job.id)
        finally:
            self._cancelling.discard(job.id)
        if not ended:
            current = self.get(caller, kind, job_id)
            raise Conflict(f"{kind} job {job_id} has already finished ({current.status})")
        self._discard(job, ".zip.part", ".upload")
        log.info("transfer_cancelled", kind=str(kind), job=job.id)
        return self.get(caller, kind, job_id)

    def export_file(self, caller: Caller, job_id: str) -> tuple[Path, TransferJobRecord]:
        """The finished export's zip file and its job."""
        job = self.get(caller, TransferKind.EXPORT, job_id)
        if job.status != TransferStatus.COMPLETED:
            raise Conflict(f"export job {job_id} has no file: it is {job.status}")
        path = self._path(job.tenant_id, job.id, ".zip")
        if not path.is_file():
            raise NotFound("export file", job_id)
        return path, job

    # --- running jobs (the worker calls these) --------------------------------------------

    def run_next(self, node_id: str) -> bool:
        """Claim and run the oldest queued job; ``False`` when there was none."""
        # an idle worker only reads: SQLite's write lock is the engine's to hold
        with self._db.read() as conn:
            if not transfers.has_queued(conn):
                return False
        with self._db.transaction() as conn:
            job = transfers.claim_next(conn, node_id)
            if job is None:
                return False
            # the timeout counts from the start, not from creation: a job queued behind
            # other tenants' jobs still gets its whole time (a job that waited longer than
            # its timeout was closed by the sweep instead)
            deadline = utcnow() + timedelta(seconds=self._timeout_of(job))
            transfers.set_deadline(conn, job.id, deadline)
            job = replace(job, deadline_at=deadline)
        log.info("transfer_started", kind=job.kind, job=job.id)
        if job.kind == TransferKind.EXPORT:
            self._run(job, self._export)
        else:
            self._run(job, self._import)
        return True

    def _run(
        self, job: TransferJobRecord, work: Callable[[TransferJobRecord, _Watch], None]
    ) -> None:
        watch = _Watch(self._db, job, 0, 90, self._cancelling.__contains__)
        watch.hook = self.progress_hook
        reason: str | None
        try:
            watch.check()
            work(job, watch)
            self._forget_tokens(job)
            return
        except _Cancelled:
            status, reason = TransferStatus.CANCELLED, None
        except FileNotFoundError:
            # a cancellation (or the deadline sweep) removed the job's file under it
            status, reason = TransferStatus.CANCELLED, None
        except _TimedOut:
            status = TransferStatus.CLOSED_BY_TIMEOUT
            reason = f"not finished within {self._timeout_of(job):g} seconds"
        except _TooLarge as exc:
            status, reason = TransferStatus.FAILED, str(exc)
        except BundleError as exc:
            status, reason = TransferStatus.FAILED, exc.message
        except JobplanError as exc:
            status, reason = TransferStatus.FAILED, exc.message
        except Exception:
            log.exception("transfer_crashed", kind=job.kind, job=job.id)
            status, reason = TransferStatus.FAILED, "internal error; see the server log"
        finally:
            self._discard(job, ".zip.part")
            if job.kind == TransferKind.IMPORT:
                self._discard(job, ".upload")
        if status is not TransferStatus.CANCELLED:
            try:
                with self._db.transaction() as conn:
                    transfers.finish(conn, job.id, status, expires_at=self._expiry(), reason=reason)
                    transfers.redact_tokens(conn, job.id)
            except JobplanError:  # the deadline sweep closes it if this cannot be written
                log.exception("transfer_end_not_saved", kind=job.kind, job=job.id)
        log.info("transfer_ended", kind=job.kind, job=job.id, status=str(status), reason=reason)

    def _forget_tokens(self, job: TransferJobRecord) -> None:
        try:
            with self._db.transaction() as conn:
                transfers.redact_tokens(conn, job.id)
        except JobplanError:
            log.exception("transfer_tokens_not_redacted", job=job.id)

    @staticmethod
    def _timeout_of(job: TransferJobRecord) -> float:
        return float(job.request.get("timeout_seconds", 0))

    def _export(self, job: TransferJobRecord, watch: _Watch) -> None:
        caller = _caller_of(job)
        options = job.request["options"]
        with paused_gc(), self._db.read() as conn:  # documents are large JSON trees
            versions = plans.get_versions_by_ids(conn, job.tenant_id, job.request["version_ids"])
            paths = {
                plan.id: plan
                for plan in (plans.get_plan(conn, job.tenant_id, v.plan_id) for v in versions)
                if plan is not None
            }
            cap = self.limits(conn, job.tenant_id, TransferKind.EXPORT).max_package_bytes
        if len(paths) != len({v.plan_id for v in versions}) or len(versions) != len(
            job.request["version_ids"]
        ):
            raise Conflict("plans selected for export were deleted before it ran")
        # read lazily: write_bundle validates the stored documents while the collector is
        # paused (see jobplan.bundle.paused_gc)
        bundle_plans = (
            BundlePlan(self._documents.load(v), version=v.version, version_id=v.id)
            for v in versions
        )
        history: Iterable[tuple[str, Iterable[bytes]]] = ()
        if options["include_history"] and options["file_filter"] == "migrate":
            history = self._history(caller, sorted({p.path for p in paths.values()}), watch)
        part = self._path(job.tenant_id, job.id, ".zip.part")
        part.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        started = time.monotonic()
        with open(part, "wb") as raw:
            out = _CappedFile(raw, cap)
            write_bundle(
                bundle_plans,
                out,  # type: ignore[arg-type]
                source_tenant=caller.tenant_name,
                with_tokens=options["with_tokens"],
                tokens=(
                    TokenSpec(context_name=options.get("context_name", "keep"))
                    if options["with_tokens"]
                    else None
                ),
                source_system=job.source_system,
                correlation_id=job.correlation_id,
                progress=watch,
                layout_folders=options["file_filter"] == "migrate",
                history=history,
            )
            out.flush()
            os.fsync(raw.fileno())
        zip_ms = int((time.monotonic() - started) * 1000)
        watch.check()
        final = self._path(job.tenant_id, job.id, ".zip")
        os.replace(part, final)
        result = {
            "plans": sorted(
                (
                    {"plan": p.path, "plan_id": p.id, "folder": p.folder, "name": p.name}
                    for p in paths.values()
                ),
                key=lambda item: (item["folder"], item["name"]),
            ),
            "versions": sorted(
                (
                    {
                        "plan": paths[v.plan_id].path,
                        "plan_id": v.plan_id,
                        "folder": paths[v.plan_id].folder,
                        "name": paths[v.plan_id].name,
                        "version": v.version,
                        "version_id": v.id,
                    }
                    for v in versions
                ),
                key=lambda item: (
                    item["folder"],
                    item["name"],
                    SemVer.parse(item["version"]),
                ),
            ),
            "zip_process_time_ms": zip_ms,
        }
        with self._db.transaction() as conn:
            done = transfers.finish(
                conn,
                job.id,
                TransferStatus.COMPLETED,
                expires_at=self._expiry(),
                result=result,
                file=(job.file_name or "package.zip", out.size, out.digest.hexdigest()),
            )
        if not done:  # cancelled or timed out at the last moment
            final.unlink(missing_ok=True)
        log.info("transfer_ended", kind=job.kind, job=job.id, status="completed", bytes=out.size)

    def _history(
        self, caller: Caller, plan_paths: builtins.list[str], watch: _Watch
    ) -> Iterator[tuple[str, Iterable[bytes]]]:
        for index, path in enumerate(plan_paths):
            yield f"{index:05d}-{path.replace('/', '.')}", self._history_lines(caller, path, watch)

    def _history_lines(self, caller: Caller, path: str, watch: _Watch) -> Iterator[bytes]:
        """A plan's runs as JSON lines, read page by page (memory stays flat)."""
        until = utcnow()
        offset = 0
        while True:
            page = self._runs.list_runs(
                caller, plan_ref=path, until=until, limit=200, offset=offset
            )
            lines = []
            for run in page.items:
                jobs = self._runs.get(caller, run.id).jobs
                lines.append(
                    json.dumps(
                        {
                            "plan_run": _jsonable(run),
                            "job_runs": [_jsonable(j) for j in jobs],
                        },
                        sort_keys=True,
                    ).encode()
                    + b"\n"
                )
            if lines:
                yield b"".join(lines)
            watch.between_plans()
            offset += len(page.items)
            if not page.items or offset >= page.total:
                return

    def _import(self, job: TransferJobRecord, watch: _Watch) -> None:
        caller = _caller_of(job)
        options = job.request["options"]
        with self._db.read() as conn:
            cap = self.limits(conn, job.tenant_id, TransferKind.IMPORT).max_package_bytes
        limits = BundleLimits(
            max_archive_bytes=cap,
            max_total_bytes=max(cap, BundleLimits().max_total_bytes),
        )
        contents = read_bundle(
            self._path(job.tenant_id, job.id, ".upload"),
            tokens=options["tokens"],
            limits=limits,
            folder=options["folder"],
            progress=watch,
        )
        watch.check()
        dry_run = options["dry_run"]
        warnings = [str(w) for w in contents.warnings]

        def complete(conn: Connection, outcome: builtins.list[ImportedPlan]) -> None:
            if not transfers.finish(
                conn,
                job.id,
                TransferStatus.COMPLETED,
                expires_at=self._expiry(),
                result=_import_result(outcome, warnings, contents.source, dry_run),
            ):
                raise _Cancelled()

        outcome = self._plans.import_documents(
            caller,
            [(plan.document, plan.effective_version) for plan in contents.plans],
            OnConflict(options["on_conflict"]),
            dry_run=dry_run,
            comment=f"imported by job {job.id}",
            check=watch.between_plans,
            before_commit=complete,
        )
        if dry_run:
            with self._db.transaction() as conn:
                complete(conn, outcome)

    # --- housekeeping ---------------------------------------------------------------------

    def sweep(self) -> None:
        """Close jobs past their deadline (their node may have died) and purge expired ones."""
        now = utcnow()
        with self._db.read() as conn:  # most sweeps find nothing: no write lock for them
            overdue = transfers.overdue(conn, now)
            expired = transfers.expired_files(conn, now)
        if not overdue and not expired:
            return
        with self._db.transaction() as conn:
            overdue = transfers.overdue(conn, now)
            for job in overdue:
                waited = job.status == TransferStatus.CREATED
                transfers.finish(
                    conn,
                    job.id,
                    TransferStatus.CLOSED_BY_TIMEOUT,
                    expires_at=self._expiry(),
                    reason=(
                        f"waited longer than {self._timeout_of(job):g} seconds to start"
                        if waited
                        else f"not finished within {self._timeout_of(job):g} seconds"
                    ),
                )
                transfers.redact_tokens(conn, job.id)
        for job in overdue:
            self._discard(job, ".zip.part", ".upload")
        with self._db.transaction() as conn:
            expired = transfers.expired_files(conn, now)
            transfers.purge_expired(conn, [job.id for job in expired])
        for job in expired:
            self._discard(job, ".zip", ".zip.part", ".upload")

    def interrupted(self) -> int:
        """Fail jobs left ``in_progress`` by a server that stopped (single-node SQLite: all
        of them; otherwise the deadline sweep closes them)."""
        with self._db.transaction() as conn:
            jobs = transfers.in_progress(conn)
            for job in jobs:
                transfers.finish(
                    conn,
                    job.id,
                    TransferStatus.FAILED,
                    expires_at=self._expiry(),
                    reason="interrupted: the server stopped while the job ran",
                )
                transfers.redact_tokens(conn, job.id)
        for job in jobs:
            self._discard(job, ".zip.part", ".upload")
        return len(jobs)

    def remove_tenant_files(self, tenant_id: str) -> None:
        """Delete a deleted tenant's bundle files (its jobs went with it)."""
        shutil.rmtree(self.directory / tenant_id, ignore_errors=True)

    def _expiry(self) -> datetime:
        return utcnow() + timedelta(seconds=self._settings.transfer_retention_seconds)

    def _path(self, tenant_id: str, job_id: str, suffix: str) -> Path:
        return self.directory / tenant_id / f"{job_id}{suffix}"

    def _discard(self, job: TransferJobRecord, *suffixes: str) -> None:
        for suffix in suffixes:
            self._path(job.tenant_id, job.id, suffix).unlink(missing_ok=True)


def _jsonable(record: Any) -> dict[str, Any]:
    """A run record's fields for ``json.dumps``: its flat values as they are (``asdict``'s
    deep copy was most of a history export's time), instants as ISO text."""
    values = ((f.name, getattr(record, f.name)) for f in fields(record))
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values}


def _import_result(
    outcome: builtins.list[ImportedPlan], warnings: builtins.list[str], source: str, dry_run: bool
) -> dict[str, Any]:
    by_action: dict[str, builtins.list[str]] = {
        "added": [],
        "changed": [],
        "unchanged": [],
        "conflict": [],
    }
    for item in outcome:
        by_action[item.action].append(item.plan)
    return {
        "dry_run": dry_run,
        "source": source,
        "added": by_action["added"],
        "changed": by_action["changed"],
        "unchanged": by_action["unchanged"],
        "conflicts": by_action["conflict"],
        "plans": [asdict(item) for item in outcome],
        "warnings": warnings,
    }
