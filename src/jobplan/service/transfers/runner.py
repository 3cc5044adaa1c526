"""The runners of queued jobs (the worker threads call :meth:`TransferRunner.run_next`) and
the housekeeping of jobs that overran or expired."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, fields, replace
from datetime import datetime, timedelta
from typing import Any

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
from jobplan.bundle.errors import clip
from jobplan.errors import Conflict, JobplanError
from jobplan.metrics import Metrics
from jobplan.model import CalendarDocument, SemVer
from jobplan.service.caller import Caller
from jobplan.service.plans import ImportedPlan, OnConflict, PlanService
from jobplan.service.runs import RunService
from jobplan.service.transfers.documents import DocumentCache
from jobplan.service.transfers.files import CappedFile, PackageTooLarge, TransferFiles
from jobplan.service.transfers.jobs import caller_of, count_end, expiry, tenant_limits
from jobplan.service.transfers.options import TransferKind, TransferStatus
from jobplan.service.transfers.progress import Cancelled, TimedOut, Watch
from jobplan.settings import Settings
from jobplan.store import Database, plans, transfers, utcnow
from jobplan.store import calendars as calendar_store
from jobplan.store.records import PlanVersionRecord, TransferJobRecord

__all__ = ["TransferRunner"]

log = structlog.get_logger(__name__)


class TransferRunner:
    """Runs queued export and import jobs to their end, and closes the ones left behind."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        plans: PlanService,
        runs: RunService,
        files: TransferFiles,
        cancelling: set[str],
        hook: Callable[[], Callable[[], None] | None],
        metrics: Metrics,
    ) -> None:
        self._metrics = metrics
        self._db = database
        self._settings = settings
        self._plans = plans
        self._runs = runs
        self._files = files
        self._cancelling = cancelling
        self._hook = hook
        self.documents = DocumentCache()

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
            deadline = utcnow() + timedelta(seconds=_timeout_of(job))
            transfers.set_deadline(conn, job.id, deadline)
            job = replace(job, deadline_at=deadline)
        log.info("transfer_started", kind=job.kind, job=job.id)
        self._run(job)
        return True

    def _run(self, job: TransferJobRecord) -> None:
        watch = Watch(self._db, job, 0, 90, self._cancelling.__contains__)
        watch.hook = self._hook()
        reason: str | None
        try:
            # a request this server cannot read fails its job (saying why), never the worker
            request = transfers.load_request(job.kind, job.request)
            watch.check()
            if isinstance(request, transfers.ExportRequest):
                self._export(job, request, watch)
            else:
                self._import(job, request, watch)
            return
        except Cancelled:
            status, reason = TransferStatus.CANCELLED, None
        except FileNotFoundError:
            # a cancellation (or the deadline sweep) removed the job's file under it
            status, reason = TransferStatus.CANCELLED, None
        except TimedOut:
            status = TransferStatus.CLOSED_BY_TIMEOUT
            reason = f"not finished within {_timeout_of(job):g} seconds"
        except PackageTooLarge as exc:
            status, reason = TransferStatus.FAILED, str(exc)
        except BundleError as exc:
            status, reason = TransferStatus.FAILED, exc.message
        except JobplanError as exc:
            status, reason = TransferStatus.FAILED, exc.message
        except Exception:
            log.exception("transfer_crashed", kind=job.kind, job=job.id)
            status, reason = TransferStatus.FAILED, "internal error; see the server log"
        finally:
            self._files.discard(job, ".zip.part")
            if job.kind == TransferKind.IMPORT:
                self._files.discard(job, ".upload")
        if reason is not None:
            reason = clip(reason)  # stored and returned by every status call: under 2 KiB
        if status is not TransferStatus.CANCELLED:
            try:
                with self._db.transaction() as conn:
                    if transfers.finish(
                        conn, job.id, status, expires_at=expiry(self._settings), reason=reason
                    ):
                        count_end(conn, self._metrics, job.kind, status)
            except JobplanError:  # the deadline sweep closes it if this cannot be written
                log.exception("transfer_end_not_saved", kind=job.kind, job=job.id)
        log.info("transfer_ended", kind=job.kind, job=job.id, status=str(status), reason=reason)

    # --- exports --------------------------------------------------------------------------

    def _export(
        self, job: TransferJobRecord, request: transfers.ExportRequest, watch: Watch
    ) -> None:
        caller = caller_of(job.tenant_id, request.caller)
        options = request.options
        with paused_gc(), self._db.read() as conn:  # documents are large JSON trees
            versions = plans.get_versions_by_ids(conn, job.tenant_id, request.version_ids)
            paths = {
                plan.id: plan
                for plan in (plans.get_plan(conn, job.tenant_id, v.plan_id) for v in versions)
                if plan is not None
            }
            cap = tenant_limits(
                conn, self._settings, job.tenant_id, TransferKind.EXPORT
            ).max_package_bytes
            calendars = _calendars_named(conn, job.tenant_id, versions)
        if len(paths) != len({v.plan_id for v in versions}) or len(versions) != len(
            request.version_ids
        ):
            raise Conflict("plans selected for export were deleted before it ran")
        # read lazily: write_bundle validates the stored documents while the collector is
        # paused (see jobplan.bundle.paused_gc)
        bundle_plans = (
            BundlePlan(self.documents.load(v), version=v.version, version_id=v.id) for v in versions
        )
        history: Iterable[tuple[str, Iterable[bytes]]] = ()
        if options.include_history and options.file_filter == "migrate":
            history = self._history(caller, sorted({p.path for p in paths.values()}), watch)
        part = self._files.prepare(job.tenant_id, job.id, ".zip.part")
        started = time.monotonic()
        with open(part, "wb") as raw:
            out = CappedFile(raw, cap)
            write_bundle(
                bundle_plans,
                out,  # type: ignore[arg-type]
                source_tenant=caller.tenant_name,
                with_tokens=options.with_tokens,
                tokens=TokenSpec(context_name=options.context_name)
                if options.with_tokens
                else None,
                source_system=job.source_system,
                correlation_id=job.correlation_id,
                progress=watch,
                layout_folders=options.file_filter == "migrate",
                history=history,
                pause_collector=True,  # a worker thread: see jobplan.bundle.paused_gc
                calendars=calendars,
            )
            out.flush()
            os.fsync(raw.fileno())
        zip_ms = int((time.monotonic() - started) * 1000)
        watch.check()
        final = self._files.path(job.tenant_id, job.id, ".zip")
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
                expires_at=expiry(self._settings),
                result=result,
                file=(job.file_name or "package.zip", out.size, out.digest.hexdigest()),
            )
            if done:
                count_end(conn, self._metrics, job.kind, TransferStatus.COMPLETED)
        if not done:  # cancelled or timed out at the last moment
            final.unlink(missing_ok=True)
        log.info("transfer_ended", kind=job.kind, job=job.id, status="completed", bytes=out.size)

    def _history(
        self, caller: Caller, plan_paths: list[str], watch: Watch
    ) -> Iterator[tuple[str, Iterable[bytes]]]:
        for index, path in enumerate(plan_paths):
            yield f"{index:05d}-{path.replace('/', '.')}", self._history_lines(caller, path, watch)

    def _history_lines(self, caller: Caller, path: str, watch: Watch) -> Iterator[bytes]:
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

    # --- imports --------------------------------------------------------------------------

    def _import(
        self, job: TransferJobRecord, request: transfers.ImportRequest, watch: Watch
    ) -> None:
        caller = caller_of(job.tenant_id, request.caller)
        options = request.options
        if not isinstance(options.tokens, dict):  # only an ended job's are redacted
            raise Conflict(f"import job {job.id} has ended: its token values were removed")
        with self._db.read() as conn:
            cap = tenant_limits(
                conn, self._settings, job.tenant_id, TransferKind.IMPORT
            ).max_package_bytes
        limits = BundleLimits(
            max_archive_bytes=cap,
            max_total_bytes=max(cap, BundleLimits().max_total_bytes),
            max_memory_bytes=self._settings.import_memory_bytes,
        )
        contents = read_bundle(
            self._files.path(job.tenant_id, job.id, ".upload"),
            tokens=options.tokens,
            limits=limits,
            folder=options.folder,
            progress=watch,
        )
        watch.check()
        dry_run = options.dry_run
        warnings = [str(w) for w in contents.warnings]

        def complete(conn: Connection, outcome: list[ImportedPlan]) -> None:
            if not transfers.finish(
                conn,
                job.id,
                TransferStatus.COMPLETED,
                expires_at=expiry(self._settings),
                result=_import_result(outcome, warnings, contents.source, dry_run),
            ):
                raise Cancelled()
            count_end(conn, self._metrics, job.kind, TransferStatus.COMPLETED)

        outcome = self._plans.import_documents(
            caller,
            [(plan.document, plan.effective_version) for plan in contents.plans],
            OnConflict(options.on_conflict),
            dry_run=dry_run,
            comment=f"imported by job {job.id}",
            check=watch.between_plans,
            before_commit=complete,
            calendars=contents.calendars,
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
                if transfers.finish(
                    conn,
                    job.id,
                    TransferStatus.CLOSED_BY_TIMEOUT,
                    expires_at=expiry(self._settings),
                    reason=(
                        f"waited longer than {_timeout_of(job):g} seconds to start"
                        if waited
                        else f"not finished within {_timeout_of(job):g} seconds"
                    ),
                ):
                    count_end(conn, self._metrics, job.kind, TransferStatus.CLOSED_BY_TIMEOUT)
        for job in overdue:
            self._files.discard(job, ".zip.part", ".upload")
        with self._db.transaction() as conn:
            expired = transfers.expired_files(conn, now)
            transfers.purge_expired(conn, [job.id for job in expired])
        for job in expired:
            self._files.discard(job, ".zip", ".zip.part", ".upload")

    def interrupted(self) -> int:
        """Fail jobs left ``in_progress`` by a server that stopped (single-node SQLite: all
        of them; otherwise the deadline sweep closes them)."""
        with self._db.transaction() as conn:
            jobs = transfers.in_progress(conn)
            for job in jobs:
                if transfers.finish(
                    conn,
                    job.id,
                    TransferStatus.FAILED,
                    expires_at=expiry(self._settings),
                    reason="interrupted: the server stopped while the job ran",
                ):
                    count_end(conn, self._metrics, job.kind, TransferStatus.FAILED)
        for job in jobs:
            self._files.discard(job, ".zip.part", ".upload")
        return len(jobs)


def _timeout_of(job: TransferJobRecord) -> float:
    """The job's timeout, read from its request whatever the request's format (the sweep
    closes jobs this server cannot run)."""
    value = job.request.get("timeout_seconds", 0) if isinstance(job.request, dict) else 0
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _jsonable(record: Any) -> dict[str, Any]:
    """A run record's fields for ``json.dumps``: its flat values as they are (``asdict``'s
    deep copy was most of a history export's time), instants as ISO text."""
    values = ((f.name, getattr(record, f.name)) for f in fields(record))
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values}


def _import_result(
    outcome: list[ImportedPlan], warnings: list[str], source: str, dry_run: bool
) -> dict[str, Any]:
    by_action: dict[str, list[str]] = {
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


def _calendars_named(
    conn: Connection, tenant_id: str, versions: Sequence[PlanVersionRecord]
) -> list[CalendarDocument]:
    """The tenant's calendars that the windows of ``versions`` name (read from the stored
    documents as they are: a bundle carries the calendars its plans need)."""
    names: set[str] = set()
    for version in versions:
        named = (version.document.get("window") or {}).get("calendar")
        names.update([named] if isinstance(named, str) else (named or []))
    return [
        CalendarDocument(name=c.name, description=c.description, days=c.days)
        for c in calendar_store.list_calendars(conn, tenant_id)
        if c.name in names
    ]
