""":class:`TransferService`: the one object the adapters and the worker call, built from
the jobs (:mod:`.jobs`) and their runner (:mod:`.runner`)."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import IO

from jobplan.metrics import Metrics
from jobplan.service.caller import Caller
from jobplan.service.pagination import Page
from jobplan.service.plans import PlanService
from jobplan.service.runs import RunService
from jobplan.service.transfers.files import TransferFiles
from jobplan.service.transfers.jobs import TransferJobs
from jobplan.service.transfers.options import (
    ExportOptions,
    ImportOptions,
    TransferKind,
    TransferLimits,
)
from jobplan.service.transfers.runner import TransferRunner
from jobplan.settings import Settings
from jobplan.store import Database
from jobplan.store.records import TransferJobRecord

__all__ = ["TransferService"]


class TransferService:
    """Export and import jobs of the caller's tenant."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        plans: PlanService,
        runs: RunService,
        metrics: Metrics | None = None,
    ) -> None:
        metrics = metrics if metrics is not None else Metrics()
        self.files = TransferFiles(settings.effective_transfer_dir)
        self.directory = self.files.directory
        #: called when a job is created (the worker wakes at once)
        self.notify: Callable[[], None] = lambda: None
        #: test seam: called at every progress step of a running job
        self.progress_hook: Callable[[], None] | None = None
        # jobs cancelled through this process: seen by its workers at once, even while
        # an import holds SQLite's write lock (so the cancellation cannot be written yet)
        cancelling: set[str] = set()
        self.jobs = TransferJobs(
            database, settings, plans, self.files, cancelling, lambda: self.notify(), metrics
        )
        self.runner = TransferRunner(
            database,
            settings,
            plans,
            runs,
            self.files,
            cancelling,
            lambda: self.progress_hook,
            metrics,
        )

    # --- the jobs, as callers see them ----------------------------------------------------

    def tenant_limits(self, caller: Caller, kind: TransferKind) -> TransferLimits:
        return self.jobs.tenant_limits(caller, kind)

    def active_count(self, caller: Caller, kind: TransferKind) -> int:
        """The tenant's unfinished jobs of ``kind`` (everyone's: they share the limit)."""
        return self.jobs.active_count(caller, kind)

    def create_export(self, caller: Caller, options: ExportOptions) -> TransferJobRecord:
        """Check the selection (unknown plans, folders or versions are refused now) and
        queue the export."""
        return self.jobs.create_export(caller, options)

    def create_import(
        self, caller: Caller, upload: IO[bytes], options: ImportOptions
    ) -> TransferJobRecord:
        """Store the uploaded bundle and queue its import."""
        return self.jobs.create_import(caller, upload, options)

    def get(self, caller: Caller, kind: TransferKind, job_id: str) -> TransferJobRecord:
        """A job of the caller's (any of the tenant's for supervisors and admins)."""
        return self.jobs.get(caller, kind, job_id)

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
        return self.jobs.list(
            caller, kind, statuses=statuses, since=since, limit=limit, offset=offset
        )

    def cancel(self, caller: Caller, kind: TransferKind, job_id: str) -> TransferJobRecord:
        """Cancel a job that has not finished: nothing it did is kept."""
        return self.jobs.cancel(caller, kind, job_id)

    def export_file(self, caller: Caller, job_id: str) -> tuple[Path, TransferJobRecord]:
        """The finished export's zip file and its job."""
        return self.jobs.export_file(caller, job_id)

    # --- running jobs (the worker calls these) --------------------------------------------

    def run_next(self, node_id: str) -> bool:
        """Claim and run the oldest queued job; ``False`` when there was none."""
        return self.runner.run_next(node_id)

    def sweep(self) -> None:
        """Close jobs past their deadline (their node may have died) and purge expired ones."""
        self.runner.sweep()

    def interrupted(self) -> int:
        """Fail jobs left ``in_progress`` by a server that stopped."""
        return self.runner.interrupted()

    def remove_tenant_files(self, tenant_id: str) -> None:
        """Delete a deleted tenant's bundle files (its jobs went with it)."""
        self.files.remove_tenant(tenant_id)
