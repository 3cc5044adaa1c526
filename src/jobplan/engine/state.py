"""The run state machine: every transition of plan runs and job runs, inside one transaction.

Each public method takes an open connection and does its whole change in it, so callers (the
engine's writer, the service layer) decide what is committed together. Nothing here sleeps or
does I/O other than the database.

Plan runs:   QUEUED -> RUNNING <-> ERROR;   RUNNING|ERROR -> COMPLETE | ERROR | ENDED (final,
             ``ended_at`` set). See docs/runs.md for the full state machine.
Job runs:    WAITING -> RUNNING -> COMPLETE | ERROR | KILLED, with LOCK_QUEUED, ON_HOLD,
             SKIPPED and DISABLED as Ikasan defines them.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from jobplan.cron import CronExpression
from jobplan.engine.documents import VersionCache
from jobplan.engine.executors.base import ExecutionResult
from jobplan.engine.graph import FAILED, RunGraph
from jobplan.errors import Conflict, InvalidInput
from jobplan.model import (
    EventJob,
    HistoryStrategy,
    Job,
    JobRunStatus,
    OverlapPolicy,
    PlanRunStatus,
    TimeJob,
)
from jobplan.store import new_id
from jobplan.store import runs as store
from jobplan.store.records import JobRunRecord, PlanRecord, PlanRunRecord

__all__ = ["ACTIONS", "QUEUED", "Claim", "OpenOutcome", "RunState", "Ticket"]

#: Extra plan-run status: a start buffered by the overlap policy until the running one ends.
QUEUED = "QUEUED"
_OPEN = (PlanRunStatus.RUNNING.value, PlanRunStatus.ERROR.value)
_SEC = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class Ticket:
    """A job run the caller must execute (command, http) or poll (file)."""

    job_run: JobRunRecord
    plan_run: PlanRunRecord
    job: Job
    environment: dict[str, str]
    timeout_seconds: float | None


@dataclass(frozen=True, slots=True)
class Claim:
    """What one claim took: tickets to act on, and how many due rows it looked at."""

    tickets: list[Ticket]
    rows: int
    executions: int


@dataclass(frozen=True, slots=True)
class OpenOutcome:
    """What asking for a new plan run did, under the plan's overlap policy."""

    run: PlanRunRecord | None
    outcome: str  # started | queued | skipped
    cancelled: list[str] = field(default_factory=list)


class RunState:
    """Transitions, over a cache of parsed plan versions."""

    def __init__(self, versions: VersionCache, lease_seconds: float = 30.0) -> None:
        self.versions = versions
        self.lease = timedelta(seconds=lease_seconds)
        self._crons: dict[tuple[str, str, str], CronExpression] = {}

    # --- opening runs ---------------------------------------------------------------------

    def open_plan_run(
        self,
        conn: Connection,
        plan: PlanRecord,
        *,
        trigger: str,
        created_by: str,
        now: datetime,
        scheduled_for: datetime | None = None,
        overrides: Mapping[str, str] | None = None,
        force: bool = False,
        not_before: datetime | None = None,
    ) -> OpenOutcome:
        """Start (or queue, or skip) a run of the plan's current version."""
        assert plan.current_version_id is not None
        graph = self.versions.graph(conn, plan.current_version_id)
        document = graph.document
        parameters = {p.name: p.default or "" for p in document.parameters}
        for name, value in (overrides or {}).items():
            if name not in parameters:
                known = ", ".join(sorted(parameters)) or "none"
                raise InvalidInput(
                    f"unknown parameter '{name}' (the plan defines: {known})", field="parameters"
                )
            parameters[name] = value
        policy = document.policies.overlap
        active = store.plan_runs_of_plan(conn, plan.id, [PlanRunStatus.RUNNING.value])
        status = PlanRunStatus.RUNNING.value
        cancelled: list[str] = []
        if active and not force and policy != OverlapPolicy.ALLOW:
            if policy == OverlapPolicy.SKIP:
                return OpenOutcome(None, "skipped")
            if policy == OverlapPolicy.BUFFER_ONE:
                if store.plan_runs_of_plan(conn, plan.id, [QUEUED]):
                    return OpenOutcome(None, "skipped")
                status = QUEUED
            elif policy == OverlapPolicy.BUFFER_ALL:
                status = QUEUED
            elif policy == OverlapPolicy.CANCEL_OTHER:
                for other in active:
                    self.end_plan_run(
                        conn,
                        other,
                        PlanRunStatus.ENDED,
                        now,
                        reason="cancelled by a newer run (overlap policy cancel_other)",
                    )
                    cancelled.append(other.id)
        window = document.window
        ttl = window.ttl_seconds if window and window.ttl_seconds else None
        run = PlanRunRecord(
            id=new_id(),
            tenant_id=plan.tenant_id,
            plan_id=plan.id,
            plan_path=f"{plan.folder}/{plan.name}" if plan.folder else plan.name,
            plan_version_id=plan.current_version_id,
            version=plan.current_version or "",
            status=status,
            trigger=trigger,
            scheduled_for=scheduled_for,
            created_at=now,
            started_at=now if status != QUEUED else None,
            ended_at=None,
            deadline_at=None,
            purge_after=None,
            parameters=parameters,
            history=document.policies.history.value,
            reason=None,
            created_by=created_by,
        )
        if ttl is not None and status != QUEUED:
            run = replace(run, deadline_at=now + timedelta(seconds=ttl))
        store.insert_plan_run(conn, run)
        disabled = frozenset(plan.disabled_jobs or ())
        store.insert_job_runs(
            conn,
            [
                JobRunRecord(
                    id=new_id(),
                    tenant_id=plan.tenant_id,
                    plan_run_id=run.id,
                    job_name=name,
                    kind=node.job.kind.value,
                    status=graph.initial_status(name, disabled).value,
                    attempt=0,
                    wake_at=None,
                    owner_node=None,
                    lease_until=None,
                    stop_requested=False,
                    created_at=now,
                    queued_at=None,
                    started_at=None,
                    ended_at=None,
                    exit_code=None,
                    http_status=None,
                    pid=None,
                    reason=None,
                    flags=[],
                    acknowledged=False,
                )
                for name, node in graph.jobs.items()
            ],
        )
        if status == QUEUED:
            return OpenOutcome(run, "queued", cancelled)
        self.evaluate(conn, run, now, not_before=not_before)
        return OpenOutcome(run, "started", cancelled)

    # --- evaluation -----------------------------------------------------------------------

    def evaluate(
        self,
        conn: Connection,
        run: PlanRunRecord,
        now: datetime,
        *,
        not_before: datetime | None = None,
    ) -> None:
        """Arm the jobs whose conditions now hold and settle the plan run's status."""
        if run.ended_at is not None or run.status == QUEUED:
            return
        graph = self.versions.graph(conn, run.plan_version_id)
        job_runs = store.job_runs_of(conn, run.id)
        statuses = {jr.job_name: jr.status for jr in job_runs}
        armed: set[str] = set()
        start = not_before or now
        for jr in job_runs:
            if jr.status != JobRunStatus.WAITING:
                continue
            if jr.queued_at is not None:
                armed.add(jr.job_name)
                continue
            if not graph.may_start(jr.job_name, statuses):
                continue
            armed.add(jr.job_name)
            job = graph.jobs[jr.job_name].job
            store.update_job_run(
                conn, jr.id, queued_at=now, wake_at=self._first_wake(job, run, start)
            )
        status, stuck = graph.outcome(statuses, frozenset(armed))
        if stuck:
            store.update_job_runs(
                conn,
                [jr.id for jr in job_runs if jr.job_name in stuck],
                status=JobRunStatus.SKIPPED.value,
                ended_at=now,
                reason="not run: its dependencies can no longer be met",
            )
        if status == PlanRunStatus.COMPLETE:
            self.end_plan_run(conn, run, PlanRunStatus.COMPLETE, now)
        elif status.value != run.status:
            store.update_plan_run(conn, run.id, status=status.value)

    def _cron(self, job: TimeJob) -> CronExpression:
        key = (job.cron, job.timezone, job.dst_gap.value)
        cron = self._crons.get(key)
        if cron is None:
            if len(self._crons) > 10_000:
                self._crons.clear()
            cron = self._crons[key] = CronExpression(
                job.cron, job.timezone, dst_gap=job.dst_gap.value
            )
        return cron

    def _first_wake(self, job: Job, run: PlanRunRecord, start: datetime) -> datetime | None:
        if isinstance(job, TimeJob):
            # A time gate completes at its first fire from the second it is armed in (cron
            # has one-second resolution, so a fire earlier in that same second counts).
            base = max(run.scheduled_for or run.created_at, start).replace(microsecond=0)
            return self._cron(job).next_after(base - timedelta(microseconds=1))
        if isinstance(job, EventJob) and job.depends_on is None:
            return None  # waits for its event to be raised
        return start

    # --- the runner's side ----------------------------------------------------------------

    def claim(
        self,
        conn: Connection,
        node_id: str,
        now: datetime,
        limit: int,
        max_executions: int | None = None,
    ) -> Claim:
        """Take up to ``limit`` due job runs: complete time gates and event raisers here;
        return the ones to execute (command, http; at most ``max_executions``) or poll
        (file). Executions over the cap are left WAITING for a later claim."""
        tickets: list[Ticket] = []
        claimed = store.claim_due_job_runs(conn, node_id, now, now + self.lease, limit)
        executions = 0
        runs: dict[str, PlanRunRecord | None] = {}
        for jr in claimed:
            if jr.plan_run_id not in runs:
                runs[jr.plan_run_id] = store.get_plan_run(conn, jr.plan_run_id)
            run = runs[jr.plan_run_id]
            if run is None or run.ended_at is not None or run.status == QUEUED:
                store.update_job_run(conn, jr.id, owner_node=None, lease_until=None, wake_at=None)
                continue
            graph = self.versions.graph(conn, run.plan_version_id)
            job = graph.jobs[jr.job_name].job
            if isinstance(job, TimeJob):
                self._complete(conn, jr, run, now, started_at=jr.wake_at or now)
            elif isinstance(job, EventJob):
                self._complete(conn, jr, run, now, started_at=now)
                self.raise_event(conn, run.tenant_id, job.event, f"plan run {run.id}", now)
            elif job.kind.value == "file":
                tickets.append(Ticket(jr, run, job, {}, None))
            elif max_executions is not None and executions >= max_executions:
                store.update_job_run(conn, jr.id, owner_node=None, lease_until=None)
            else:
                ticket = self._start(conn, jr, run, graph, job, node_id, now)
                if ticket is not None:
                    executions += 1
                    tickets.append(ticket)
        return Claim(tickets, len(claimed), executions)

    def _start(
        self,
        conn: Connection,
        jr: JobRunRecord,
        run: PlanRunRecord,
        graph: RunGraph,
        job: Job,
        node_id: str,
        now: datetime,
    ) -> Ticket | None:
        for lock in graph.locks_of(jr.job_name):
            if store.count_lock_holders(conn, run.tenant_id, lock.name) >= lock.count:
                store.update_job_run(
                    conn,
                    jr.id,
                    status=JobRunStatus.LOCK_QUEUED.value,
                    wake_at=None,
                    owner_node=None,
                    lease_until=None,
                    queued_at=now,
                    reason=f"waiting for lock '{lock.name}'",
                )
                return None
        for lock in graph.locks_of(jr.job_name):
            store.add_lock_holder(conn, jr.id, run.tenant_id, lock.name, now)
        attempt = jr.attempt + 1
        store.update_job_run(
            conn,
            jr.id,
            status=JobRunStatus.RUNNING.value,
            attempt=attempt,
            started_at=now,
            ended_at=None,
            wake_at=None,
            owner_node=node_id,
            lease_until=now + self.lease,
            exit_code=None,
            http_status=None,
            reason=None,
        )
        if run.status != PlanRunStatus.RUNNING:
            store.update_plan_run(conn, run.id, status=PlanRunStatus.RUNNING.value)
        environment = dict(run.parameters)
        for parameter in job.parameters:
            environment.setdefault(parameter.name, parameter.default or "")
        environment.update(JOBPLAN_PLAN=run.plan_path, JOBPLAN_PLAN_RUN_ID=run.id)
        policies = graph.document.policies
        timeout = job.timeout_seconds or policies.timeout_seconds
        started = replace(jr, status=JobRunStatus.RUNNING.value, attempt=attempt, started_at=now)
        return Ticket(started, run, job, environment, float(timeout) if timeout else None)

    def finish(
        self,
        conn: Connection,
        job_run_id: str,
        node_id: str,
        result: ExecutionResult,
        now: datetime,
    ) -> bool:
        """Record an execution's result; returns ``False`` if the job run was no longer ours
        (recovered by another node, or ended meanwhile)."""
        jr = store.get_job_run(conn, job_run_id)
        if jr is None or jr.status != JobRunStatus.RUNNING or jr.owner_node != node_id:
            return False
        run = store.get_plan_run(conn, jr.plan_run_id)
        assert run is not None
        graph = self.versions.graph(conn, run.plan_version_id)
        job = graph.jobs[jr.job_name].job
        values: dict[str, Any] = {
            "ended_at": now,
            "owner_node": None,
            "lease_until": None,
            "exit_code": result.exit_code,
            "http_status": result.http_status,
        }
        flags = list(jr.flags)
        duration = (now - jr.started_at).total_seconds() if jr.started_at else 0.0
        if result.succeeded and job.min_execution_seconds and duration < job.min_execution_seconds:
            flags.append("too_short")
        overdue = job.max_execution_seconds and duration > job.max_execution_seconds
        if overdue and "overdue" not in flags:
            flags.append("overdue")
        values["flags"] = flags
        store.release_locks(conn, jr.id)
        if jr.stop_requested:
            values.update(status=JobRunStatus.KILLED.value, reason="stopped by an operator")
        elif result.succeeded:
            values.update(status=JobRunStatus.COMPLETE.value, reason=None)
        else:
            retry_at = self._retry_at(graph, job, jr.attempt, now)
            if retry_at is not None:
                values.update(
                    status=JobRunStatus.WAITING.value,
                    wake_at=retry_at,
                    ended_at=None,
                    reason=f"attempt {jr.attempt} failed: {result.reason}; retrying",
                )
            else:
                values.update(status=JobRunStatus.ERROR.value, reason=result.reason)
        store.update_job_run(conn, jr.id, **values)
        self._wake_lock_queue(conn, run.tenant_id, now)
        self.evaluate(conn, run, now)
        return True

    @staticmethod
    def _retry_at(graph: RunGraph, job: Job, attempt: int, now: datetime) -> datetime | None:
        policies = graph.document.policies
        max_retries = job.max_retries if job.max_retries is not None else policies.max_retries
        if attempt > max_retries:
            return None
        delay = min(
            policies.retry_backoff_seconds * 2 ** (attempt - 1),
            policies.retry_backoff_max_seconds,
        )
        delay *= 1 + random.uniform(-policies.retry_jitter, policies.retry_jitter)
        return now + timedelta(seconds=max(0.0, delay))

    def file_polled(
        self,
        conn: Connection,
        job_run_id: str,
        node_id: str,
        found: bool,
        now: datetime,
        reason: str | None = None,
    ) -> None:
        """Record a file job's poll: complete it, or sleep until its next poll time."""
        jr = store.get_job_run(conn, job_run_id)
        if jr is None or jr.status != JobRunStatus.WAITING or jr.owner_node != node_id:
            return
        run = store.get_plan_run(conn, jr.plan_run_id)
        assert run is not None
        if found:
            self._complete(conn, jr, run, now, started_at=jr.queued_at or now, reason=reason)
            return
        job = self.versions.graph(conn, run.plan_version_id).jobs[jr.job_name].job
        poll = CronExpression(getattr(job, "poll_cron"), getattr(job, "timezone"))  # noqa: B009
        store.update_job_run(
            conn,
            jr.id,
            owner_node=None,
            lease_until=None,
            wake_at=poll.next_after(now),
            reason=reason,
        )

    def _complete(
        self,
        conn: Connection,
        jr: JobRunRecord,
        run: PlanRunRecord,
        now: datetime,
        *,
        started_at: datetime,
        reason: str | None = None,
    ) -> None:
        store.update_job_run(
            conn,
            jr.id,
            status=JobRunStatus.COMPLETE.value,
            started_at=started_at,
            ended_at=now,
            wake_at=None,
            owner_node=None,
            lease_until=None,
            attempt=jr.attempt + 1,
            reason=reason,
        )
        self.evaluate(conn, run, now)

    def _wake_lock_queue(self, conn: Connection, tenant_id: str, now: datetime) -> None:
        # woken jobs contend again, oldest first (wake_at keeps their queue order)
        for index, jr in enumerate(store.lock_queued(conn, tenant_id)):
            store.update_job_run(
                conn,
                jr.id,
                status=JobRunStatus.WAITING.value,
                wake_at=now + timedelta(microseconds=index),
                reason=None,
            )

    def raise_event(
        self, conn: Connection, tenant_id: str, name: str, by: str, now: datetime
    ) -> int:
        """Raise a global event: completes every armed event job waiting for it in the
        tenant's open plan runs. Returns how many it completed."""
        store.insert_event(conn, tenant_id, name, by, now)
        completed = 0
        for jr in store.armed_event_waiters(conn, tenant_id):
            run = store.get_plan_run(conn, jr.plan_run_id)
            assert run is not None
            job = self.versions.graph(conn, run.plan_version_id).jobs[jr.job_name].job
            if isinstance(job, EventJob) and job.event == name and job.depends_on is None:
                self._complete(
                    conn,
                    jr,
                    run,
                    now,
                    started_at=jr.queued_at or now,
                    reason=f"event '{name}' raised by {by}",
                )
                completed += 1
        return completed

    # --- ending runs ----------------------------------------------------------------------

    def end_plan_run(
        self,
        conn: Connection,
        run: PlanRunRecord,
        status: PlanRunStatus,
        now: datetime,
        *,
        reason: str | None = None,
    ) -> None:
        """Close a plan run: request a stop of its running jobs, disarm the rest, apply the
        history strategy, count it in the plan's statistics and start a buffered run."""
        if run.ended_at is not None:
            return
        job_runs = store.job_runs_of(conn, run.id)
        for jr in job_runs:
            if jr.status == JobRunStatus.RUNNING:
                store.update_job_run(conn, jr.id, stop_requested=True)
            elif jr.status in (JobRunStatus.WAITING, JobRunStatus.LOCK_QUEUED):
                store.update_job_run(conn, jr.id, wake_at=None, queued_at=None)
        if status == PlanRunStatus.ENDED and run.status == PlanRunStatus.ERROR:
            status = PlanRunStatus.ERROR  # it ended while failed: count it as a failure
        started = run.started_at or run.created_at
        store.record_plan_end(
            conn,
            run.tenant_id,
            run.plan_id,
            status.value,
            max(0.0, (now - started).total_seconds()),
            now,
        )
        history = HistoryStrategy(run.history)
        failed = status != PlanRunStatus.COMPLETE or any(jr.status in FAILED for jr in job_runs)
        if history == HistoryStrategy.OFF or (history == HistoryStrategy.ERROR and not failed):
            store.delete_plan_run(conn, run.id)
        else:
            if history == HistoryStrategy.MINIMAL:
                store.delete_output(conn, run.id)
            graph = self.versions.graph(conn, run.plan_version_id)
            retention = graph.document.policies.retention_days
            store.update_plan_run(
                conn,
                run.id,
                status=status.value,
                ended_at=now,
                reason=reason,
                purge_after=now + timedelta(days=retention),
            )
        self._start_buffered(conn, run.plan_id, now)

    def _start_buffered(self, conn: Connection, plan_id: str, now: datetime) -> None:
        if store.plan_runs_of_plan(conn, plan_id, [PlanRunStatus.RUNNING.value]):
            return
        queued = store.plan_runs_of_plan(conn, plan_id, [QUEUED])
        if not queued:
            return
        nxt = queued[0]
        graph = self.versions.graph(conn, nxt.plan_version_id)
        window = graph.document.window
        deadline = (
            now + timedelta(seconds=window.ttl_seconds) if window and window.ttl_seconds else None
        )
        store.update_plan_run(
            conn, nxt.id, status=PlanRunStatus.RUNNING.value, started_at=now, deadline_at=deadline
        )
        self.evaluate(
            conn,
            replace(nxt, status=PlanRunStatus.RUNNING.value, started_at=now, deadline_at=deadline),
            now,
        )

    def expire_deadlines(self, conn: Connection, now: datetime, limit: int = 500) -> int:
        """End plan runs whose TTL has passed."""
        expired = store.plan_runs_past_deadline(conn, now, limit)
        for run in expired:
            self.end_plan_run(conn, run, PlanRunStatus.ENDED, now, reason="TTL reached")
        return len(expired)

    # --- operator actions -----------------------------------------------------------------

    def stop_plan_run(self, conn: Connection, run: PlanRunRecord, by: str, now: datetime) -> None:
        if run.ended_at is not None:
            raise Conflict(f"plan run {run.id} has already ended ({run.status})")
        if run.status == QUEUED:
            store.delete_plan_run(conn, run.id)
            return
        self.end_plan_run(conn, run, PlanRunStatus.ENDED, now, reason=f"stopped by {by}")

    def job_action(
        self, conn: Connection, jr: JobRunRecord, action: str, by: str, now: datetime
    ) -> None:
        """hold | release | skip | unskip | reset | acknowledge | kill on one job run.
        Raises :class:`Conflict` naming the job's state when the action does not apply."""
        run = store.get_plan_run(conn, jr.plan_run_id)
        assert run is not None
        allowed = _ACTIONS[action]
        if jr.status not in allowed:
            states = ", ".join(sorted(allowed))
            raise Conflict(
                f"cannot {action} job run '{jr.job_name}': it is {jr.status} "
                f"({action} applies to {states})"
            )
        if run.ended_at is not None and action != "acknowledge":
            raise Conflict(
                f"cannot {action} job run '{jr.job_name}': its plan run has ended ({run.status})"
            )
        if action == "acknowledge":
            store.update_job_run(conn, jr.id, acknowledged=True)
            return
        if action == "kill":
            store.update_job_run(conn, jr.id, stop_requested=True)
            return
        if action == "hold":
            store.update_job_run(
                conn,
                jr.id,
                status=JobRunStatus.ON_HOLD.value,
                wake_at=None,
                queued_at=None,
                owner_node=None,
                lease_until=None,
                reason=f"held by {by}",
            )
        elif action == "release":
            store.update_job_run(
                conn, jr.id, status=JobRunStatus.WAITING.value, reason=f"released by {by}"
            )
        elif action == "skip":
            store.update_job_run(
                conn,
                jr.id,
                status=JobRunStatus.SKIPPED.value,
                wake_at=None,
                queued_at=None,
                ended_at=now,
                reason=f"skipped by {by}",
            )
        elif action in ("unskip", "reset"):
            store.update_job_run(
                conn,
                jr.id,
                status=JobRunStatus.WAITING.value,
                wake_at=None,
                queued_at=None,
                ended_at=None,
                stop_requested=False,
                acknowledged=False,
                reason=f"{'unskipped' if action == 'unskip' else 'reset'} by {by}",
            )
        store.release_locks(conn, jr.id)
        self._wake_lock_queue(conn, run.tenant_id, now)
        if run.status == PlanRunStatus.ERROR and action in ("skip", "reset", "release", "unskip"):
            run = replace(run, status=PlanRunStatus.RUNNING.value)
            store.update_plan_run(conn, run.id, status=run.status)
        self.evaluate(conn, run, now)

    # --- recovery -------------------------------------------------------------------------

    def recover(self, conn: Connection, job_runs: list[JobRunRecord], now: datetime) -> int:
        """Settle job runs that were RUNNING on a node that died: retry them per policy, or
        mark them ERROR with reason "interrupted"."""
        for jr in job_runs:
            run = store.get_plan_run(conn, jr.plan_run_id)
            if run is None:
                continue
            store.release_locks(conn, jr.id)
            if jr.stop_requested or run.ended_at is not None:
                store.update_job_run(
                    conn,
                    jr.id,
                    status=JobRunStatus.KILLED.value,
                    ended_at=now,
                    owner_node=None,
                    lease_until=None,
                    reason="interrupted: the node running it stopped",
                )
                continue
            graph = self.versions.graph(conn, run.plan_version_id)
            job = graph.jobs[jr.job_name].job
            retry_at = self._retry_at(graph, job, jr.attempt, now)
            if retry_at is not None:
                store.update_job_run(
                    conn,
                    jr.id,
                    status=JobRunStatus.WAITING.value,
                    wake_at=now,
                    owner_node=None,
                    lease_until=None,
                    reason=f"attempt {jr.attempt} interrupted (the node running it stopped); "
                    "retrying",
                )
            else:
                store.update_job_run(
                    conn,
                    jr.id,
                    status=JobRunStatus.ERROR.value,
                    ended_at=now,
                    owner_node=None,
                    lease_until=None,
                    reason="interrupted: the node running it stopped",
                )
            self._wake_lock_queue(conn, run.tenant_id, now)
            self.evaluate(conn, run, now)
        return len(job_runs)


_ACTIONS: dict[str, frozenset[str]] = {
    "hold": frozenset({JobRunStatus.WAITING, JobRunStatus.LOCK_QUEUED}),
    "release": frozenset({JobRunStatus.ON_HOLD}),
    "skip": frozenset(
        {
            JobRunStatus.WAITING,
            JobRunStatus.LOCK_QUEUED,
            JobRunStatus.ON_HOLD,
            JobRunStatus.ERROR,
            JobRunStatus.KILLED,
        }
    ),
    "unskip": frozenset({JobRunStatus.SKIPPED}),
    "reset": frozenset(
        {JobRunStatus.COMPLETE, JobRunStatus.ERROR, JobRunStatus.KILLED, JobRunStatus.SKIPPED}
    ),
    "acknowledge": frozenset({JobRunStatus.ERROR}),
    "kill": frozenset({JobRunStatus.RUNNING}),
}
ACTIONS = tuple(_ACTIONS)
