"""Volt MX jobs: plans known by a per-tenant job number that stays the same across updates.

A Volt MX job is a plan (in :data:`VOLTMX_FOLDER`) with one HTTP job and a window; the
dialect (``api/dialects/voltmx.py``) translates Volt MX bodies to plan documents and calls
these operations, which add the numbering to the plan and run services.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from jobplan.engine.state import OpenOutcome
from jobplan.errors import NotFound, StoreError
from jobplan.model import PlanDocument
from jobplan.service.caller import Caller, Permission
from jobplan.service.plans import PlanService, PlanView, load_document
from jobplan.service.runs import RunService
from jobplan.store import Database
from jobplan.store import plans as plan_store
from jobplan.store import runs as run_store
from jobplan.store import services as store
from jobplan.store.records import PlanRecord, PlanRunRecord, PlanStatsRecord

__all__ = ["HISTORY_LIMIT", "VOLTMX_FOLDER", "VoltMxJob", "VoltMxJobService", "VoltMxRun"]

#: The folder Volt MX jobs are created in.
VOLTMX_FOLDER = "voltmx"
#: Most runs a history answer holds (the newest).
HISTORY_LIMIT = 500
_FAILED = ("ERROR", "KILLED")


@dataclass(frozen=True, slots=True)
class VoltMxJob:
    """A Volt MX job: its number, its plan's current version and its statistics."""

    job_id: int
    plan: PlanRecord
    document: PlanDocument
    updated_by: str
    stats: PlanStatsRecord | None
    last_status: str | None
    """Status of the latest run (an open one included), else of the last counted one."""


@dataclass(frozen=True, slots=True)
class VoltMxRun:
    """One run in a job's history: its number in the retained history (oldest is 1), when
    its service call started and ended, the cron of the version it ran, and why it failed."""

    number: int
    run: PlanRunRecord
    started_at: datetime | None
    ended_at: datetime | None
    cron: str | None
    reason: str | None


class VoltMxJobService:
    def __init__(self, database: Database, plans: PlanService, runs: RunService) -> None:
        self._db = database
        self._plans = plans
        self._runs = runs

    def create(self, caller: Caller, document: PlanDocument) -> int:
        """Create the job's plan and give it the tenant's next job number."""
        numbers: list[int] = []

        def number(conn: Connection, view: PlanView) -> None:
            numbers.append(store.assign_job_number(conn, caller.tenant_id, view.plan.id))

        self._plans.create(caller, document, "created through the Volt MX API", then=number)
        return numbers[0]

    def update(self, caller: Caller, job_id: int, document: PlanDocument) -> None:
        """Store ``document`` as the job's new plan version; ``document.enabled`` also sets
        the plan's enabled state (Volt MX ``jobStatus``)."""
        plan_id = self._plan_id(caller, job_id)
        result = self._plans.update(caller, plan_id, document, "updated through the Volt MX API")
        if result.view.plan.enabled != document.enabled:
            self._plans.set_enabled(caller, plan_id, document.enabled)

    def delete(self, caller: Caller, job_id: int) -> None:
        """Delete the job's plan; its number is not given to another job."""
        self._plans.delete(caller, self._plan_id(caller, job_id))

    def run(self, caller: Caller, job_id: int) -> OpenOutcome:
        """Start a run now (under the plan's overlap policy)."""
        return self._runs.start(caller, self._plan_id(caller, job_id))

    def get(self, caller: Caller, job_id: int) -> VoltMxJob:
        caller.require(Permission.PLANS_READ)
        with self._db.read() as conn:
            plan_id = self._plan_id_in(conn, caller, job_id)
            return self._job(conn, caller, job_id, plan_id, with_stats=False)

    def list(self, caller: Caller) -> builtins.list[VoltMxJob]:
        """Every job of the tenant, by number, with statistics."""
        caller.require(Permission.PLANS_READ)
        caller.require(Permission.RUNS_READ)
        with self._db.read() as conn:
            return [
                self._job(conn, caller, entry.job_id, entry.plan_id, with_stats=True)
                for entry in store.voltmx_jobs_of(conn, caller.tenant_id)
                if entry.plan_id is not None
            ]

    def history(
        self, caller: Caller, job_id: int, limit: int = HISTORY_LIMIT
    ) -> builtins.list[VoltMxRun]:
        """The job's runs as its history strategy lets Volt MX show them, newest first:
        none for ``OFF``, failed ones for ``ERROR``, all for ``MINIMAL`` and ``FULL``. (The
        engine drops such runs when they end; open ones are filtered here.)"""
        caller.require(Permission.RUNS_READ)
        with self._db.read() as conn:
            plan_id = self._plan_id_in(conn, caller, job_id)
            runs, total = run_store.list_plan_runs(
                conn, caller.tenant_id, plan_id=plan_id, limit=limit
            )
            crons: dict[str, str | None] = {}
            out = []
            for index, run in enumerate(runs):
                if run.history == "OFF" or (run.history == "ERROR" and run.status != "ERROR"):
                    continue
                if run.plan_version_id not in crons:
                    crons[run.plan_version_id] = self._cron_of(conn, caller, run)
                jobs = run_store.job_runs_of(conn, run.id)
                failed = [j.reason for j in jobs if j.reason and j.status in _FAILED]
                call = jobs[0] if len(jobs) == 1 else None
                out.append(
                    VoltMxRun(
                        number=total - index,
                        run=run,
                        started_at=call.started_at if call else run.started_at,
                        ended_at=call.ended_at if call else run.ended_at,
                        cron=crons[run.plan_version_id],
                        reason=failed[0] if failed else run.reason,
                    )
                )
        return out

    # --- internals ------------------------------------------------------------------------

    def _plan_id(self, caller: Caller, job_id: int) -> str:
        with self._db.read() as conn:
            return self._plan_id_in(conn, caller, job_id)

    @staticmethod
    def _plan_id_in(conn: Connection, caller: Caller, job_id: int) -> str:
        plan_id = store.plan_of_job(conn, caller.tenant_id, job_id)
        if plan_id is None:
            raise NotFound("job", job_id)
        return plan_id

    @staticmethod
    def _job(
        conn: Connection, caller: Caller, job_id: int, plan_id: str, *, with_stats: bool
    ) -> VoltMxJob:
        plan = plan_store.get_plan(conn, caller.tenant_id, plan_id)
        if plan is None:  # deleted since the number was read
            raise NotFound("job", job_id)
        version = plan_store.get_version(
            conn, caller.tenant_id, plan.id, plan.current_version_id or ""
        )
        if version is None:
            raise StoreError(f"plan {plan.path!r} has no current version")
        stats, last_status = None, None
        if with_stats:
            stats = run_store.get_stats(conn, caller.tenant_id, plan.id)
            latest, _ = run_store.list_plan_runs(conn, caller.tenant_id, plan_id=plan.id, limit=1)
            last_status = latest[0].status if latest else stats.last_status if stats else None
        document = load_document(version)
        return VoltMxJob(job_id, plan, document, version.created_by, stats, last_status)

    @staticmethod
    def _cron_of(conn: Connection, caller: Caller, run: PlanRunRecord) -> str | None:
        version = plan_store.get_version(conn, caller.tenant_id, run.plan_id, run.plan_version_id)
        if version is None:
            return None
        window = load_document(version).window
        return window.cron if window else None
