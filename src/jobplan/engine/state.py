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

import logging
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from jobplan.engine import notify
from jobplan.engine.blackouts import in_blackout
from jobplan.engine.context import ContextError, FireContexts
from jobplan.engine.crons import CronCache
from jobplan.engine.documents import VersionCache
from jobplan.engine.executors.base import ExecutionResult
from jobplan.engine.graph import FAILED, RunGraph
from jobplan.engine.secrets import SecretSource
from jobplan.errors import Conflict, InvalidInput
from jobplan.logging import get_logger
from jobplan.metrics import Metrics
from jobplan.model import (
    EventJob,
    FileJob,
    HistoryStrategy,
    Job,
    JobAction,
    JobRunStatus,
    Notifications,
    OnError,
    OverlapPolicy,
    PlanDocument,
    PlanRunStatus,
    StartOutcome,
    TimeJob,
    substitution,
)
from jobplan.store import agents as agent_store
from jobplan.store import backfills as backfill_store
from jobplan.store import notifications as outbox
from jobplan.store import plans as plan_store
from jobplan.store import runs as store
from jobplan.store.committed import after_commit, call_after_commit
from jobplan.store.records import (
    JobRunRecord,
    JobRunStateRecord,
    NotificationRecord,
    PlanRecord,
    PlanRunRecord,
    RerunRecord,
)

__all__ = [
    "ACTIONS",
    "RERUN_SELECTIONS",
    "Claim",
    "OpenOutcome",
    "OpenRequest",
    "RerunOutcome",
    "RunState",
    "Ticket",
    "actions_allowed",
    "rerun_refusal",
    "rerunnable",
]

_OPEN = (PlanRunStatus.RUNNING.value, PlanRunStatus.ERROR.value)
#: the triggers of runs a scheduler tick opens
_SCHEDULED = frozenset({"schedule", "catchup"})
#: The trigger of runs a backfill opens, and the state of a backfill still opening them.
BACKFILL, BACKFILL_RUNNING = "backfill", "running"
log = get_logger(__name__)
_FINAL = frozenset({JobRunStatus.COMPLETE, JobRunStatus.ERROR, JobRunStatus.KILLED})
#: A job run that ended while settling: (kind, status, started at), for metrics.
_Ended = tuple[str, str, datetime | None]
_SEC = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class Ticket:
    """A job run the caller must execute (command, http) or poll (file)."""

    job_run: JobRunRecord
    plan_run: PlanRunRecord
    job: Job
    environment: dict[str, str]
    timeout_seconds: float | None
    secrets: tuple[str, ...] = ()
    """The secret values resolved into ``environment`` or the request: masked (``***``) in
    everything the attempt produces."""


@dataclass(frozen=True, slots=True)
class Claim:
    """What one claim took: tickets to act on, and how many due rows it looked at."""

    tickets: list[Ticket]
    rows: int
    executions: int


@dataclass(frozen=True, slots=True)
class OpenRequest:
    """A run to open: of which plan, why, by whom, for which fire time."""

    plan: PlanRecord
    trigger: str
    created_by: str
    scheduled_for: datetime | None = None
    overrides: Mapping[str, str] | None = None
    force: bool = False
    not_before: datetime | None = None


@dataclass(frozen=True, slots=True)
class OpenOutcome:
    """What asking for a new plan run did, under the plan's overlap policy."""

    run: PlanRunRecord | None
    outcome: StartOutcome
    cancelled: list[str] = field(default_factory=list)


#: What a re-run may name instead of a list of jobs: the failed ones, or every one that ran.
RERUN_SELECTIONS = ("failed", "all")


@dataclass(frozen=True, slots=True)
class RerunOutcome:
    """What re-running a plan run did: the run as it now stands, the record of the re-run,
    and the jobs given a new attempt (by name, sorted)."""

    run: PlanRunRecord
    rerun: RerunRecord
    cleared: list[str]


class RunState:
    """Transitions, over a cache of parsed plan versions."""

    def __init__(
        self,
        versions: VersionCache,
        lease_seconds: float = 30.0,
        metrics: Metrics | None = None,
        *,
        unknown_agents: str = "server",
    ) -> None:
        """``unknown_agents``: ``server`` runs job runs naming an unregistered agent on the
        server; ``wait`` leaves them for that agent (JOBPLAN_UNKNOWN_AGENTS)."""
        self.versions = versions
        self.lease = timedelta(seconds=lease_seconds)
        self.unknown_agents_wait = unknown_agents == "wait"
        self.crons = CronCache()
        #: computes each job's context and resolves its references; add namespace sources
        #: (``contexts.namespaces["secret"] = ...``) before the engine starts
        self.contexts = FireContexts(self.crons)
        self.metrics = metrics if metrics is not None else Metrics()
        #: the secrets jobs refer to (``${secret:NAME}``), opened when they start; its key
        #: ring (``secrets.box``) is set by the services
        self.secrets = SecretSource()
        self.contexts.namespaces["secret"] = self.secrets
        #: runs opened together that share a graph shape, disabled jobs and instants share
        #: one settled template (False: settle each run on its own, the plain path the
        #: shared one is tested against)
        self.share_settling = True
        #: evaluate plan runs from their full job run records (the plain path, kept as the
        #: reference the narrow read is tested against) instead of the fields it reads
        self.full_evaluation = False

    def _job_ended(
        self,
        conn: Connection,
        kind: str,
        status: str,
        started: datetime | None,
        now: datetime,
    ) -> None:
        """Count a job run that reached a final status, once its transaction commits."""
        metrics = self.metrics
        call_after_commit(conn, lambda: metrics.job_run_ended(kind, status, started, now))

    def _jobs_ended(self, conn: Connection, ended: list[_Ended], now: datetime) -> None:
        if ended:
            metrics = self.metrics

            def count() -> None:
                for kind, status, started in ended:
                    metrics.job_run_ended(kind, status, started, now)

            call_after_commit(conn, count)

    def _plan_run_ended(self, conn: Connection, status: str) -> None:
        metrics = self.metrics
        call_after_commit(conn, lambda: metrics.plan_run_ended(status))

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
        request = OpenRequest(
            plan, trigger, created_by, scheduled_for, overrides, force, not_before
        )
        return self.open_plan_runs(conn, [request], now)[0]

    def open_plan_runs(
        self, conn: Connection, requests: list[OpenRequest], now: datetime
    ) -> list[OpenOutcome]:
        """Open many runs in one go (a scheduler tick): overlap state is read once for all
        plans, each run is settled in memory, and rows are written with bulk inserts."""
        graphs = [self.versions.graph(conn, _version_of(r.plan)) for r in requests]
        # only plans whose overlap policy looks at other runs need their open runs counted;
        # an open run counts whether it is running or failed and waiting for an operator
        plan_ids = sorted(
            {
                r.plan.id
                for r, graph in zip(requests, graphs, strict=True)
                if not r.force and graph.document.policies.overlap != OverlapPolicy.ALLOW
            }
        )
        running = store.count_open_runs_by_plan(conn, plan_ids, overlap=True) if plan_ids else {}
        queued = store.count_runs_by_plan(conn, plan_ids, PlanRunStatus.QUEUED) if plan_ids else {}
        ids = iter(store.new_run_ids(sum(1 + len(graph.jobs) for graph in graphs)))
        outcomes: list[OpenOutcome] = []
        new_runs: list[PlanRunRecord] = []
        new_jobs: list[JobRunRecord] = []
        ended: list[tuple[PlanRunRecord, str, Notifications]] = []
        started: list[NotificationRecord] = []  # on_start messages, written before the ends
        jobs_ended: list[_Ended] = []  # counted once the tick commits, in one go
        settled_runs: dict[
            tuple[object, frozenset[str], datetime, datetime],
            tuple[PlanRunStatus, list[_Ended], dict[str, _Draft]],
        ] = {}
        debug = logging.getLogger(__name__).isEnabledFor(logging.DEBUG)
        for request, graph in zip(requests, graphs, strict=True):
            plan = request.plan
            document = graph.document
            policies = document.policies
            parameters = _parameters(document, request.overrides)
            status = PlanRunStatus.RUNNING.value
            cancelled: list[str] = []
            policy = policies.overlap
            if running.get(plan.id) and not request.force and policy != OverlapPolicy.ALLOW:
                if policy == OverlapPolicy.SKIP or (
                    policy == OverlapPolicy.BUFFER_ONE and queued.get(plan.id)
                ):
                    outcomes.append(OpenOutcome(None, StartOutcome.SKIPPED))
                    continue
                if policy in (OverlapPolicy.BUFFER_ONE, OverlapPolicy.BUFFER_ALL):
                    status = PlanRunStatus.QUEUED.value
                elif policy == OverlapPolicy.CANCEL_OTHER:
                    self._flush(conn, new_runs, new_jobs, ended, started, now)
                    for other in store.open_plan_runs_of_plan(conn, plan.id, overlap=True):
                        self.end_plan_run(
                            conn,
                            other,
                            PlanRunStatus.ENDED,
                            now,
                            reason="cancelled by a newer run (overlap policy cancel_other)",
                        )
                        cancelled.append(other.id)
                    running[plan.id] = 0
            disabled = frozenset(plan.disabled_jobs or ())
            ended_at: datetime | None = None
            purge_after: datetime | None = None
            if status == PlanRunStatus.QUEUED:
                drafts = _initial_drafts(graph, disabled)
                queued[plan.id] = queued.get(plan.id, 0) + 1
                outcome = StartOutcome.QUEUED
            else:
                opened_for = request.scheduled_for or now
                start = request.not_before or now
                # settling depends only on the graph's shape, the disabled jobs and these
                # instants: runs that share them (a burst) share one settled set of drafts
                # (only read from here on), so only the first is settled
                key = (graph.shape or graph, disabled, start, opened_for)
                known = settled_runs.get(key) if self.share_settling else None
                if known is None:
                    drafts = _initial_drafts(graph, disabled)
                    settled, _, ended_jobs = self._settle(graph, drafts, now, start, opened_for)
                    known = settled_runs[key] = (settled, ended_jobs, drafts)
                settled, ended_jobs, drafts = known
                jobs_ended.extend(ended_jobs)
                status = settled.value
                outcome = StartOutcome.STARTED
                if settled == PlanRunStatus.COMPLETE:
                    ended_at = now
                    purge_after = now + timedelta(days=policies.retention_days)
                else:
                    running[plan.id] = running.get(plan.id, 0) + 1
            window = document.window
            run = PlanRunRecord(
                id=next(ids),
                tenant_id=plan.tenant_id,
                plan_id=plan.id,
                plan_path=plan.path,
                plan_version_id=_version_of(plan),
                version=plan.current_version or "",
                status=status,
                trigger=request.trigger,
                scheduled_for=request.scheduled_for,
                created_at=now,
                started_at=now if status != PlanRunStatus.QUEUED else None,
                ended_at=ended_at,
                deadline_at=(
                    now + timedelta(seconds=window.ttl_seconds)
                    if window and window.ttl_seconds and status != PlanRunStatus.QUEUED
                    else None
                ),
                purge_after=purge_after,
                parameters=parameters,
                history=policies.history.value,
                reason=None,
                created_by=request.created_by,
                overdue_at=(
                    _overdue_at(document, now) if status == PlanRunStatus.RUNNING.value else None
                ),
            )
            # a scheduled run that completed as it opened (no job executed) is told at DEBUG
            # and counted in the tick's INFO summary (``scheduler.tick``): two INFO lines per
            # such run were about a third of a burst's CPU (docs/performance.md)
            quiet = ended_at is not None and request.trigger in _SCHEDULED
            if not quiet:
                _log_opened(conn, run)
            elif debug:
                _log_opened(conn, run, "debug")
            if status != PlanRunStatus.QUEUED and document.notifications.on_start:
                started.extend(
                    notify.messages(
                        document.notifications, notify.RUN_STARTED, run, now, status=status
                    )
                )
            if ended_at is not None:
                ended.append((run, status, document.notifications))
                if not quiet:
                    _log_ended(conn, run, status, now, None)
                elif debug:
                    _log_ended(conn, run, status, now, None, "debug")
            new_runs.append(run)
            routes = graph.routes
            new_jobs.extend(
                draft.record(next(ids), run, name, *routes[name]) for name, draft in drafts.items()
            )
            outcomes.append(OpenOutcome(run, outcome, cancelled))
        self._flush(conn, new_runs, new_jobs, ended, started, now)
        self._jobs_ended(conn, jobs_ended, now)
        return outcomes

    def _flush(
        self,
        conn: Connection,
        runs: list[PlanRunRecord],
        jobs: list[JobRunRecord],
        ended: list[tuple[PlanRunRecord, str, Notifications]],
        started: list[NotificationRecord],
        now: datetime,
    ) -> None:
        """Write opened runs (runs that finished while opening get their history strategy
        and statistics here, as :meth:`end_plan_run` would give them)."""
        drop = {
            run.id
            for run, status, _ in ended
            if run.history == HistoryStrategy.OFF
            or (run.history == HistoryStrategy.ERROR and status == PlanRunStatus.COMPLETE)
        }
        if drop:
            runs[:] = [run for run in runs if run.id not in drop]
            jobs[:] = [job for job in jobs if job.plan_run_id not in drop]
        store.insert_plan_runs(conn, runs)
        store.insert_job_runs(conn, jobs)
        told = [
            message
            for run, status, settings in ended
            if settings.on_success
            for message in notify.messages(settings, notify.RUN_COMPLETED, run, now, status=status)
        ]
        outbox.insert(conn, [*started, *told])
        store.record_plan_ends(
            conn, [(run.tenant_id, run.plan_id, status, 0.0, now) for run, status, _ in ended]
        )
        if ended:
            metrics, statuses = self.metrics, [status for _, status, _ in ended]

            def count() -> None:
                for status in statuses:
                    metrics.plan_run_ended(status)

            call_after_commit(conn, count)
        runs.clear()
        jobs.clear()
        ended.clear()
        started.clear()

    # --- evaluation -----------------------------------------------------------------------

    def evaluate(
        self,
        conn: Connection,
        run: PlanRunRecord,
        now: datetime,
        *,
        not_before: datetime | None = None,
        opened_for: datetime | None = None,
    ) -> None:
        """Arm the jobs whose conditions now hold, complete time gates that are due, and
        settle the plan run's status. ``opened_for``: the run is (re)opening for this fire
        time (time gates armed now count their fire from it)."""
        if run.ended_at is not None or run.status == PlanRunStatus.QUEUED:
            return
        graph = self.versions.graph(conn, run.plan_version_id)
        # every finish evaluates its plan run: read only the fields evaluating needs (reading
        # and building every full record made a finish cost grow with the run's size, see
        # docs/performance.md "Plan run size"); the full records only when the run's status
        # changes, at most a few times per run
        records: Mapping[str, JobRunRecord | JobRunStateRecord] = (
            {jr.job_name: jr for jr in store.job_runs_of(conn, run.id)}
            if self.full_evaluation
            else {jr.job_name: jr for jr in store.job_run_states_of(conn, run.id)}
        )
        drafts = {name: _Draft.of(jr) for name, jr in records.items()}
        status, changed, ended_jobs = self._settle(
            graph, drafts, now, not_before or now, opened_for
        )
        self._jobs_ended(conn, ended_jobs, now)
        for name in changed:
            store.settle_job_run(conn, records[name].id, drafts[name].changes(records[name]))
        ends = status == PlanRunStatus.COMPLETE or (
            status == PlanRunStatus.ERROR and graph.document.policies.on_error == OnError.END
        )
        if not ends and status.value == run.status:
            return
        # the job runs as they now stand (what ending the run or telling about it reads)
        job_runs = (
            [
                replace(jr, **drafts[name].changes(jr)) if name in changed else jr
                for name, jr in records.items()
                if isinstance(jr, JobRunRecord)
            ]
            if self.full_evaluation
            else store.job_runs_of(conn, run.id)
        )
        if ends:
            failed = sorted(jr.job_name for jr in job_runs if jr.status in FAILED)
            reason = None if status == PlanRunStatus.COMPLETE else _failed_reason(failed)
            self.end_plan_run(conn, run, status, now, reason=reason, job_runs=job_runs)
        else:
            store.update_plan_run(conn, run.id, status=status.value)
            # held for an operator: tell them, when a job has just failed (not when an
            # operator's skip or release leaves the run stalled behind an old failure)
            if status == PlanRunStatus.ERROR and any(
                jr.status in FAILED and jr.ended_at == now for jr in job_runs
            ):
                outbox.insert(
                    conn,
                    notify.messages(
                        graph.document.notifications,
                        notify.RUN_FAILED,
                        run,
                        now,
                        status=status.value,
                        reason="a job failed; the run waits for an operator",
                        job_runs=job_runs,
                    ),
                )

    def _settle(
        self,
        graph: RunGraph,
        jobs: dict[str, _Draft],
        now: datetime,
        start: datetime,
        opened_for: datetime | None = None,
    ) -> tuple[PlanRunStatus, set[str], list[_Ended]]:
        """Evaluate in memory, changing ``jobs`` in place; returns the plan run's status,
        the names of the job runs that changed and the job runs that ended (for metrics).
        Jobs whose conditions hold are armed; time gates already due complete at once (what
        the runner would do a moment later). ``opened_for`` is the run's scheduled (or
        creation) time when it is being opened."""
        changed: set[str] = set()
        ended: list[_Ended] = []
        progress = True
        while progress:
            progress = False
            statuses = {name: jr.status for name, jr in jobs.items()}
            for name, jr in jobs.items():
                if jr.status != JobRunStatus.WAITING:
                    continue
                job = graph.jobs[name].job
                queued_at, wake = jr.queued_at, jr.wake_at
                if queued_at is None:
                    if not graph.may_start(name, statuses):
                        continue
                    queued_at = now
                    wake = self._first_wake(graph, name, start, opened_for)
                if (
                    isinstance(job, TimeJob)
                    and wake is not None
                    and wake <= now
                    and jr.owner_node is None
                ):
                    jr.status = JobRunStatus.COMPLETE.value
                    jr.queued_at = queued_at
                    jr.started_at = wake
                    jr.ended_at = now
                    jr.wake_at = None
                    jr.attempt += 1
                    changed.add(name)
                    progress = True
                    ended.append((job.kind.value, jr.status, wake))
                elif queued_at is not jr.queued_at:
                    jr.queued_at = queued_at
                    jr.wake_at = wake
                    changed.add(name)
        statuses = {name: jr.status for name, jr in jobs.items()}
        armed = frozenset(
            name
            for name, jr in jobs.items()
            if jr.status == JobRunStatus.WAITING and jr.queued_at is not None
        )
        status, stuck = graph.outcome(statuses, armed)
        for name in stuck:
            jr = jobs[name]
            jr.status = JobRunStatus.SKIPPED.value
            jr.ended_at = now
            jr.reason = "not run: its dependencies can no longer be met"
            changed.add(name)
            ended.append((graph.jobs[name].job.kind.value, jr.status, None))
        return status, changed, ended

    def _first_wake(
        self, graph: RunGraph, name: str, start: datetime, opened_for: datetime | None
    ) -> datetime | None:
        """When an armed job should next be looked at.

        A time gate armed as its run opens completes at its first fire from the run's
        scheduled time (a late tick or window jitter does not push it to the next day); one
        armed later, at its first fire from the second it is armed in. Fires inside the gate's
        blackouts are passed over. A job in a stage with a window waits for that window too.
        """
        node = graph.jobs[name]
        job = node.job
        wake: datetime | None = start
        if isinstance(job, TimeJob):
            base = opened_for or start
            cron = self.crons.get(job.cron, job.timezone, job.dst_gap.value)
            fire = self.crons.next_after(
                cron, base.replace(microsecond=0) - timedelta(microseconds=1)
            )
            for _ in range(10_000):
                if fire is None or not in_blackout(job.blackouts, fire, job.timezone):
                    break
                fire = cron.next_after(fire)
            wake = max(fire, start) if fire is not None and opened_for else fire
        elif isinstance(job, EventJob) and job.depends_on is None:
            wake = None  # waits for its event to be raised
        if node.window is not None and wake is not None:
            window = node.window
            cron = self.crons.get(window.cron, window.timezone, window.dst_gap.value)
            opens = self.crons.next_after(
                cron, start.replace(microsecond=0) - timedelta(microseconds=1)
            )
            wake = max(wake, opens) if opens is not None else None
        return wake

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
        claimed = store.claim_due_job_runs(
            conn,
            node_id,
            now,
            now + self.lease,
            limit,
            unknown_agents_wait=self.unknown_agents_wait,
        )
        executions = 0
        for jr, run, graph, job in self._claimed_in_open_runs(conn, claimed):
            if isinstance(job, TimeJob):
                self._complete(conn, jr, run, now, started_at=jr.wake_at or now)
            elif isinstance(job, EventJob):
                self._complete(conn, jr, run, now, started_at=now)
                self.raise_event(conn, run.tenant_id, job.event, f"plan run {run.id}", now)
            elif job.kind.value == "file":
                tickets.append(Ticket(jr, run, job, {}, None))
            elif max_executions is not None and executions >= max_executions:
                store.release_claim(conn, jr.id)
            else:
                ticket = self._start(conn, jr, run, graph, job, node_id, now)
                if ticket is not None:
                    executions += 1
                    tickets.append(ticket)
        return Claim(tickets, len(claimed), executions)

    def claim_for_agent(
        self,
        conn: Connection,
        agent_id: str,
        tenant_id: str,
        targets: list[str],
        now: datetime,
        limit: int,
    ) -> list[Ticket]:
        """Take up to ``limit`` due job runs routed to an agent (``targets``: its name and
        ``label:<label>`` of each label): command jobs are started (RUNNING, owned and
        leased by the agent, locks taken), file jobs are leased to it for one poll (still
        WAITING; see :meth:`file_polled`)."""
        claimed = store.claim_agent_job_runs(
            conn, agent_id, tenant_id, targets, now, now + self.lease, limit
        )
        tickets: list[Ticket] = []
        for jr, run, graph, job in self._claimed_in_open_runs(conn, claimed):
            if isinstance(job, FileJob):
                tickets.append(Ticket(jr, run, job, {}, None))
            elif job.kind.value == "command":
                ticket = self._start(conn, jr, run, graph, job, agent_id, now)
                if ticket is not None:
                    tickets.append(ticket)
            else:  # routed by mistake (only command and file jobs carry a target)
                store.release_claim(conn, jr.id)
        return tickets

    def _claimed_in_open_runs(
        self, conn: Connection, claimed: list[JobRunRecord]
    ) -> Iterator[tuple[JobRunRecord, PlanRunRecord, RunGraph, Job]]:
        """The claimed job runs whose plan runs are open, with their run (row locked), graph
        and job; the others' claims are released here (a node's claim and an agent's alike).
        """
        runs: dict[str, PlanRunRecord | None] = {}
        busy: set[str] = set()
        for jr in claimed:
            if jr.plan_run_id not in runs and jr.plan_run_id not in busy:
                # the run's row is locked while its jobs change; another node changing this
                # run right now makes us pass its jobs over until the next claim rather than
                # wait for it (we hold these job rows: waiting could deadlock)
                run = store.get_plan_run(conn, jr.plan_run_id, lock=True, skip_locked=True)
                if run is None and store.get_plan_run(conn, jr.plan_run_id) is not None:
                    busy.add(jr.plan_run_id)
                else:
                    runs[jr.plan_run_id] = run
            if jr.plan_run_id in busy:
                store.release_claim(conn, jr.id)
                continue
            run = runs[jr.plan_run_id]
            if run is None or run.ended_at is not None or run.status == PlanRunStatus.QUEUED:
                store.release_claim(conn, jr.id, disarm=True)
                continue
            graph = self.versions.graph(conn, run.plan_version_id)
            yield jr, run, graph, graph.jobs[jr.job_name].job

    def secrets_of(self, conn: Connection, job_run_id: str) -> tuple[str, ...]:
        """The secret values a job run's job refers to, resolved now as when it started (to
        mask what an agent sends back about it on a node that did not hand it out); ``()``
        when it refers to none, or they cannot be resolved any more (deleted since)."""
        jr = store.get_job_run(conn, job_run_id)
        run = store.get_plan_run(conn, jr.plan_run_id) if jr is not None else None
        if jr is None or run is None:
            return ()
        graph = self.versions.graph(conn, run.plan_version_id)
        node = graph.jobs.get(jr.job_name)
        if node is None:
            return ()
        parameters = dict(run.parameters)
        parameters.update(node.parameters)
        try:
            prepared = self.contexts.prepare(conn, run, graph.document, node.job, parameters)
        except ContextError:
            return ()
        return prepared.secrets

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
            # serialise takers of this lock across nodes (PostgreSQL; SQLite has one writer)
            store.serialise_lock(conn, run.tenant_id, lock.name)
            if store.count_lock_holders(conn, run.tenant_id, lock.name) >= lock.count:
                store.queue_for_lock(conn, jr.id, now, f"waiting for lock '{lock.name}'")
                return None
        for lock in graph.locks_of(jr.job_name):
            store.add_lock_holder(conn, jr.id, run.tenant_id, lock.name, now)
        attempt = jr.attempt + 1
        store.mark_started(
            conn, jr.id, attempt=attempt, node_id=node_id, now=now, lease_until=now + self.lease
        )
        if run.status != PlanRunStatus.RUNNING:
            store.update_plan_run(conn, run.id, status=PlanRunStatus.RUNNING.value)
        parameters = dict(run.parameters)
        parameters.update(graph.jobs[jr.job_name].parameters)
        try:
            prepared = self.contexts.prepare(conn, run, graph.document, job, parameters)
        except ContextError as exc:
            failed = ExecutionResult(succeeded=False, reason=exc.reason)
            self.finish(conn, jr.id, node_id, failed, now)
            return None
        job, environment = prepared.job, prepared.environment
        policies = graph.document.policies
        timeout = job.timeout_seconds or policies.timeout_seconds
        started = replace(jr, status=JobRunStatus.RUNNING.value, attempt=attempt, started_at=now)
        after_commit(
            conn,
            log,
            "job_run.started",
            job_run=jr.id,
            plan_run=run.id,
            plan=run.plan_path,
            job=jr.job_name,
            kind=jr.kind,
            attempt=attempt,
            node_id=node_id,
            tenant_id=run.tenant_id,
        )
        return Ticket(
            started,
            run,
            job,
            environment,
            float(timeout) if timeout else None,
            secrets=prepared.secrets,
        )

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
        # lock the run: two nodes finishing its last two jobs at once must see each other's
        # result (else each thinks the other job still runs, and the run never ends)
        run = store.get_plan_run(conn, jr.plan_run_id, lock=True)
        assert run is not None
        jr = store.get_job_run(conn, job_run_id)
        if jr is None or jr.status != JobRunStatus.RUNNING or jr.owner_node != node_id:
            return False
        graph = self.versions.graph(conn, run.plan_version_id)
        job = graph.jobs[jr.job_name].job
        flags = list(jr.flags)
        duration = (now - jr.started_at).total_seconds() if jr.started_at else 0.0
        too_short = job.min_execution_seconds and duration < job.min_execution_seconds
        if result.succeeded and too_short and "too_short" not in flags:
            flags.append("too_short")
        overdue = job.max_execution_seconds and duration > job.max_execution_seconds
        if overdue and "overdue" not in flags:
            flags.append("overdue")
            self._tell_job_overdue(conn, jr, now)
        store.release_locks(conn, jr.id)
        retry_at = None
        if not jr.stop_requested and not result.succeeded:
            retry_at = self._retry_at(graph, job, jr.retries + 1, now)
        if retry_at is not None:
            _log_job_ended(
                conn, jr, run, JobRunStatus.ERROR.value, result, duration, result.reason, retry_at
            )
            store.schedule_retry(
                conn,
                jr.id,
                wake_at=retry_at,
                retries=jr.retries + 1,
                reason=f"attempt {jr.attempt} failed: {result.reason}; retrying",
                exit_code=result.exit_code,
                http_status=result.http_status,
                flags=flags,
            )
        else:
            if jr.stop_requested:
                status, reason = JobRunStatus.KILLED, "stopped by an operator"
            elif result.succeeded:
                status, reason = JobRunStatus.COMPLETE, None
            else:
                status, reason = JobRunStatus.ERROR, result.reason
            _log_job_ended(conn, jr, run, status.value, result, duration, reason, None)
            store.mark_ended(
                conn,
                jr.id,
                status=status.value,
                now=now,
                reason=reason,
                exit_code=result.exit_code,
                http_status=result.http_status,
                flags=flags,
            )
            self._job_ended(conn, jr.kind, status.value, jr.started_at, now)
        self._wake_lock_queue(conn, run.tenant_id, now)
        self.evaluate(conn, run, now)
        return True

    @staticmethod
    def _retry_at(graph: RunGraph, job: Job, retry: int, now: datetime) -> datetime | None:
        """When retry number ``retry`` (1, 2, ...) should run, or ``None`` if none is left.
        Exponential backoff capped at the maximum; jitter only ever lengthens the wait."""
        policies = graph.document.policies
        max_retries = job.max_retries if job.max_retries is not None else policies.max_retries
        if retry > max_retries:
            return None
        delay = min(
            policies.retry_backoff_seconds * 2 ** (retry - 1),
            policies.retry_backoff_max_seconds,
        )
        delay *= 1 + random.uniform(0, policies.retry_jitter)
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
        run = store.get_plan_run(conn, jr.plan_run_id, lock=True)
        assert run is not None
        jr = store.get_job_run(conn, job_run_id)
        if jr is None or jr.status != JobRunStatus.WAITING or jr.owner_node != node_id:
            return
        if found:
            self._complete(conn, jr, run, now, started_at=jr.queued_at or now, reason=reason)
            return
        job = self.versions.graph(conn, run.plan_version_id).jobs[jr.job_name].job
        if not isinstance(job, FileJob):
            raise TypeError(f"job {jr.job_name!r} is not a file job")
        poll = self.crons.get(job.poll_cron, job.timezone)
        store.poll_again(conn, jr.id, poll.next_after(now), reason)

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
        store.mark_completed(
            conn, jr.id, attempt=jr.attempt + 1, started_at=started_at, now=now, reason=reason
        )
        self._job_ended(conn, jr.kind, JobRunStatus.COMPLETE.value, started_at, now)
        self.evaluate(conn, run, now)

    def _wake_lock_queue(self, conn: Connection, tenant_id: str, now: datetime) -> None:
        # woken jobs contend again, oldest first (wake_at keeps their queue order)
        for index, jr in enumerate(store.lock_queued(conn, tenant_id)):
            store.wake_from_lock_queue(conn, jr.id, now + timedelta(microseconds=index))

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
        job_runs: list[JobRunRecord] | None = None,
    ) -> None:
        """Close a plan run: request a stop of its running jobs, disarm the rest, apply the
        history strategy, count it in the plan's statistics and start a buffered run."""
        if run.ended_at is not None:
            return
        if job_runs is None:
            job_runs = store.job_runs_of(conn, run.id)
        for jr in job_runs:
            if jr.status == JobRunStatus.RUNNING:
                store.request_stop(conn, jr.id)
            elif jr.status in (JobRunStatus.WAITING, JobRunStatus.LOCK_QUEUED):
                store.disarm(conn, jr.id)
        if status == PlanRunStatus.ENDED and run.status == PlanRunStatus.ERROR:
            status = PlanRunStatus.ERROR  # it ended while failed: count it as a failure
        graph = self.versions.graph(conn, run.plan_version_id)
        if status == PlanRunStatus.COMPLETE or run.status != PlanRunStatus.ERROR:
            # a run held in ERROR was reported when it failed: its end is not news
            event = notify.RUN_COMPLETED if status == PlanRunStatus.COMPLETE else notify.RUN_FAILED
            outbox.insert(
                conn,
                notify.messages(
                    graph.document.notifications,
                    event,
                    run,
                    now,
                    status=status.value,
                    reason=reason,
                    job_runs=job_runs,
                ),
            )
        started = run.started_at or run.created_at
        duration = max(0.0, (now - started).total_seconds())
        store.record_plan_ends(conn, [(run.tenant_id, run.plan_id, status.value, duration, now)])
        _log_ended(conn, run, status.value, now, reason)
        self._plan_run_ended(conn, status.value)
        history = HistoryStrategy(run.history)
        failed = status != PlanRunStatus.COMPLETE or any(jr.status in FAILED for jr in job_runs)
        still_running = any(jr.status == JobRunStatus.RUNNING for jr in job_runs)
        drop = history == HistoryStrategy.OFF or (history == HistoryStrategy.ERROR and not failed)
        if drop and not still_running:
            store.delete_plan_run(conn, run.id)
        elif drop:
            # its running jobs must still be stopped: purged once they have ended
            store.update_plan_run(
                conn,
                run.id,
                status=status.value,
                ended_at=now,
                reason=reason,
                purge_after=now,
                overdue_at=None,
            )
        else:
            if history == HistoryStrategy.MINIMAL:
                store.delete_output(conn, run.id)
            retention = graph.document.policies.retention_days
            store.update_plan_run(
                conn,
                run.id,
                status=status.value,
                ended_at=now,
                reason=reason,
                purge_after=now + timedelta(days=retention),
                overdue_at=None,
            )
        self._start_buffered(conn, run.plan_id, now)
        if run.trigger == BACKFILL:
            backfill_id = backfill_store.backfill_of_run(conn, run.id)
            if backfill_id is not None:
                self.advance_backfill(conn, backfill_id, now)

    # --- backfills ------------------------------------------------------------------------

    def advance_backfill(self, conn: Connection, backfill_id: str, now: datetime) -> int:
        """Open a running backfill's next fire times, oldest first, while fewer than its
        ``max_active`` runs are open; mark it complete once every fire has a run and every
        run has ended; returns how many runs it opened. Its row is locked first
        (PostgreSQL), so two nodes never open the same fire twice. Backfill runs bypass the
        plan's overlap policy (``force``): docs/backfill.md."""
        backfill = backfill_store.get_backfill(conn, backfill_id, lock=True)
        if backfill is None or backfill.state != BACKFILL_RUNNING:
            return 0
        opened = backfill.opened
        still_open = backfill_store.counts_of(conn, [backfill.id])[backfill.id][0]
        plan = plan_store.get_plan(conn, backfill.tenant_id, backfill.plan_id)
        if plan is None or plan.current_version_id is None:
            backfill_store.update_backfill(
                conn, backfill.id, state="cancelled", reason="the plan was deleted", ended_at=now
            )
            return 0
        while opened < len(backfill.fires) and still_open < backfill.max_active:
            fires = backfill.fires[opened : opened + backfill.max_active - still_open]
            requests = [
                OpenRequest(
                    plan,
                    BACKFILL,
                    backfill.created_by,
                    scheduled_for=datetime.fromisoformat(fire),
                    force=True,
                )
                for fire in fires
            ]
            outcomes = self.open_plan_runs(conn, requests, now)
            backfill_store.insert_backfill_runs(
                conn,
                backfill.id,
                [
                    (outcome.run.id, request.scheduled_for or now)
                    for outcome, request in zip(outcomes, requests, strict=True)
                    if outcome.run is not None
                ],
            )
            opened += len(fires)
            still_open = backfill_store.counts_of(conn, [backfill.id])[backfill.id][0]
        done = opened >= len(backfill.fires) and still_open == 0
        if opened != backfill.opened or done:
            backfill_store.update_backfill(
                conn,
                backfill.id,
                opened=opened,
                **({"state": "complete", "ended_at": now} if done else {}),
            )
        return opened - backfill.opened

    def advance_backfills(self, conn: Connection, now: datetime, limit: int = 100) -> int:
        """Advance running backfills not being advanced elsewhere (a node's sweep, after a
        restart or when a run ended in a way that advanced nothing); returns how many runs
        they opened."""
        return sum(
            self.advance_backfill(conn, backfill_id, now)
            for backfill_id in backfill_store.running_backfills(conn, limit)
        )

    def _start_buffered(self, conn: Connection, plan_id: str, now: datetime) -> None:
        if store.open_plan_runs_of_plan(conn, plan_id, overlap=True):
            return
        queued = store.plan_runs_of_plan(conn, plan_id, [PlanRunStatus.QUEUED.value])
        if not queued:
            return
        nxt = queued[0]
        graph = self.versions.graph(conn, nxt.plan_version_id)
        window = graph.document.window
        deadline = (
            now + timedelta(seconds=window.ttl_seconds) if window and window.ttl_seconds else None
        )
        started = replace(
            nxt,
            status=PlanRunStatus.RUNNING.value,
            started_at=now,
            deadline_at=deadline,
            overdue_at=_overdue_at(graph.document, now),
        )
        store.update_plan_run(
            conn,
            nxt.id,
            status=started.status,
            started_at=now,
            deadline_at=deadline,
            overdue_at=started.overdue_at,
        )
        settings = graph.document.notifications
        if settings.on_start:
            outbox.insert(
                conn,
                notify.messages(settings, notify.RUN_STARTED, started, now, status=started.status),
            )
        self.evaluate(conn, started, now)

    def expire_deadlines(self, conn: Connection, now: datetime, limit: int = 500) -> int:
        """End plan runs whose TTL has passed."""
        expired = store.plan_runs_past_deadline(conn, now, limit)
        for run in expired:
            self.end_plan_run(conn, run, PlanRunStatus.ENDED, now, reason="TTL reached")
        return len(expired)

    def notify_overdue(self, conn: Connection, now: datetime, limit: int = 500) -> int:
        """Tell the plans' ``on_overdue`` recipients about runs that became overdue (once)."""
        due = store.plan_runs_overdue(conn, now, limit)
        for run in due:
            document = self.versions.graph(conn, run.plan_version_id).document
            seconds = document.notifications.overdue_after_seconds
            reason = f"still {run.status} {seconds} s after it started"
            outbox.insert(
                conn,
                notify.messages(
                    document.notifications,
                    notify.RUN_OVERDUE,
                    run,
                    now,
                    status=run.status,
                    reason=reason,
                ),
            )
            store.update_plan_run(conn, run.id, overdue_at=None)
        return len(due)

    def flag_overdue_job(self, conn: Connection, job_run_id: str, now: datetime) -> None:
        """Flag a job run still running past its ``max_execution_seconds`` and tell the
        plan's ``on_overdue`` recipients (once per job run)."""
        jr = store.get_job_run(conn, job_run_id)
        if jr is None or "overdue" in jr.flags:
            return
        store.set_flags(conn, jr.id, [*jr.flags, "overdue"])
        self._tell_job_overdue(conn, jr, now)

    def watch_agent_waits(self, conn: Connection, now: datetime, grace: timedelta) -> int:
        """Job runs waiting for their agent: say so in their reason once due for a second
        ("waiting for agent edge-1"); after ``grace`` with no agent online that could take
        one, flag it ``agent_offline`` and tell the plan's ``on_overdue`` recipients (once).
        Returns how many were flagged."""
        wait = self.unknown_agents_wait
        store.mark_waiting_for_agents(conn, now - _SEC, unknown_agents_wait=wait)
        waiting = store.waiting_for_agents_since(conn, now - grace, 200, unknown_agents_wait=wait)
        if not waiting:
            return 0
        online = agent_store.online_targets(
            conn, {jr.tenant_id for jr in waiting}, now - self.lease
        )
        flagged = 0
        for jr in waiting:
            if (jr.tenant_id, jr.agent) in online:
                continue  # an agent that could take it is online (busy): no news
            run = store.get_plan_run(conn, jr.plan_run_id)
            if run is None:
                continue
            seconds = f"{grace.total_seconds():g}"
            store.flag_agent_offline(
                conn,
                jr.id,
                [*jr.flags, "agent_offline"] if "agent_offline" not in jr.flags else jr.flags,
                f"{jr.reason}{store.NONE_ONLINE} for {seconds} s",
            )
            document = self.versions.graph(conn, run.plan_version_id).document
            outbox.insert(
                conn,
                notify.messages(
                    document.notifications,
                    notify.AGENT_OFFLINE,
                    run,
                    now,
                    status=run.status,
                    reason=f"job '{jr.job_name}' has been {jr.reason} for {seconds} s, "
                    "and none that could take it is online",
                    job_run=jr,
                ),
            )
            flagged += 1
        return flagged

    def _tell_job_overdue(self, conn: Connection, jr: JobRunRecord, now: datetime) -> None:
        run = store.get_plan_run(conn, jr.plan_run_id)
        if run is None:
            return
        graph = self.versions.graph(conn, run.plan_version_id)
        limit = graph.jobs[jr.job_name].job.max_execution_seconds
        outbox.insert(
            conn,
            notify.messages(
                graph.document.notifications,
                notify.JOB_OVERDUE,
                run,
                now,
                status=run.status,
                reason=f"job '{jr.job_name}' ran longer than its {limit or 0:g} s",
                job_run=jr,
            ),
        )

    # --- operator actions -----------------------------------------------------------------

    def stop_plan_run(self, conn: Connection, run: PlanRunRecord, by: str, now: datetime) -> None:
        if run.ended_at is not None:
            raise Conflict(f"plan run {run.id} has already ended ({run.status})")
        if run.status == PlanRunStatus.QUEUED:
            store.delete_plan_run(conn, run.id)
            _log_ended(conn, run, PlanRunStatus.ENDED.value, now, f"stopped by {by}")
            return
        self.end_plan_run(conn, run, PlanRunStatus.ENDED, now, reason=f"stopped by {by}")

    def job_action(
        self, conn: Connection, jr: JobRunRecord, action: JobAction, by: str, now: datetime
    ) -> None:
        """hold | release | skip | unskip | reset | acknowledge | kill on one job run.
        Raises :class:`Conflict` naming the job's state when the action does not apply."""
        run = store.get_plan_run(conn, jr.plan_run_id, lock=True)
        assert run is not None
        jr = store.get_job_run(conn, jr.id) or jr  # as of the lock
        allowed = _ACTIONS[action]
        if jr.status not in allowed:
            states = ", ".join(sorted(allowed))
            raise Conflict(
                f"cannot {action} job run '{jr.job_name}': it is {jr.status} "
                f"({action} applies to {states})"
            )
        if run.ended_at is not None and action != JobAction.ACKNOWLEDGE:
            raise Conflict(
                f"cannot {action} job run '{jr.job_name}': its plan run has ended ({run.status})"
            )
        if action == JobAction.ACKNOWLEDGE:
            store.acknowledge(conn, jr.id)
            return
        if action == JobAction.KILL:
            store.request_stop(conn, jr.id)
            return
        if action == JobAction.HOLD:
            store.hold(conn, jr.id, f"held by {by}")
        elif action == JobAction.RELEASE:
            store.release_hold(conn, jr.id, f"released by {by}")
        elif action == JobAction.SKIP:
            store.mark_skipped(conn, jr.id, now, f"skipped by {by}")
            if jr.status not in _FINAL:  # a failed job skipped was counted when it failed
                self._job_ended(conn, jr.kind, JobRunStatus.SKIPPED.value, None, now)
        elif action in (JobAction.UNSKIP, JobAction.RESET):
            store.reset(
                conn, jr.id, f"{'unskipped' if action == JobAction.UNSKIP else 'reset'} by {by}"
            )
        store.release_locks(conn, jr.id)
        self._wake_lock_queue(conn, run.tenant_id, now)
        if run.status == PlanRunStatus.ERROR and action in _RESUMING:
            run = replace(run, status=PlanRunStatus.RUNNING.value)
            store.update_plan_run(conn, run.id, status=run.status)
        self.evaluate(conn, run, now)

    # --- re-runs --------------------------------------------------------------------------

    def rerun_plan_run(
        self,
        conn: Connection,
        run: PlanRunRecord,
        jobs: str | Sequence[str],
        *,
        downstream: bool,
        by: str,
        now: datetime,
        force: bool = False,
    ) -> RerunOutcome:
        """Re-run a finished or stalled plan run in place (Airflow's "clear"): the chosen job
        runs (``"failed"``, ``"all"`` that ran, or names; with ``downstream`` also every job
        depending on them, transitively) go back to WAITING for a new attempt; the others
        keep their results and do not run again. The run keeps its version, parameters and
        fire time and reopens (RUNNING) to end by the usual rules.

        A run can be re-run once it has ended with none of its jobs still running, or while
        it is *stalled*: open in ERROR with no job running, queued on a lock, on hold or
        armed. Raises :class:`Conflict` otherwise, when its plan version is gone, when the
        selection clears nothing, or (unless ``force``) when reopening an ended run would
        break its overlap policy; :class:`InvalidInput` for unknown or no job names."""
        # the plan's row first, then the run's (the scheduler's order): the scheduler passes
        # the plan over until this commits, so a fire cannot slip past the overlap check
        plan_store.get_plan(conn, run.tenant_id, run.plan_id, lock=True)
        locked = store.get_plan_run(conn, run.id, lock=True)
        if locked is None:
            raise Conflict(f"plan run {run.id} no longer exists")
        run = locked
        records = {jr.job_name: jr for jr in store.job_runs_of(conn, run.id)}
        _check_rerunnable(run, records.values())
        if plan_store.get_version_by_id(conn, run.plan_version_id) is None:
            raise Conflict(
                f"cannot re-run plan run {run.id}: its plan version {run.version} is gone "
                f"(plan '{run.plan_path}' was deleted)"
            )
        graph = self.versions.graph(conn, run.plan_version_id)
        chosen = _rerun_selection(run, records, jobs)
        if downstream:
            chosen |= graph.downstream(chosen) & records.keys()
        named = set() if isinstance(jobs, str) else set(jobs)
        cleared = sorted(
            name
            for name in chosen
            if records[name].status in _RERUNNABLE
            # a held job named explicitly is released by its re-run
            or (name in named and records[name].status == JobRunStatus.ON_HOLD)
        )
        if not cleared:
            raise Conflict(
                f"nothing to re-run in plan run {run.id}: "
                f"{_describe_selection(jobs)} has no job that ran (they are "
                + ", ".join(f"{n} {records[n].status}" for n in sorted(chosen)[:5])
                + ")"
            )
        if run.ended_at is not None and not force:
            self._check_rerun_overlap(conn, run, graph)
        number = store.count_reruns(conn, run.id) + 1
        rerun = RerunRecord(
            id=store.new_run_ids(1)[0],
            tenant_id=run.tenant_id,
            plan_run_id=run.id,
            number=number,
            requested_by=by,
            requested_at=now,
            selection={
                "jobs": jobs if isinstance(jobs, str) else list(jobs),
                "downstream": downstream,
                "force": force,
            },
            previous_status=run.status,
            previous_started_at=run.started_at,
            previous_ended_at=run.ended_at,
            previous_reason=run.reason,
            jobs=[_attempt_of(records[name]) for name in cleared],
        )
        store.insert_rerun(conn, rerun)
        store.clear_for_rerun(
            conn, [records[name].id for name in cleared], f"re-run {number} by {by}"
        )
        reopened = self._reopen(conn, run, graph, now, f"re-run {number} by {by}")
        self.evaluate(conn, reopened, now, opened_for=run.scheduled_for or run.created_at)
        after_commit(
            conn,
            log,
            "plan_run.rerun",
            plan_run=run.id,
            plan=run.plan_path,
            rerun=number,
            jobs=cleared,
            previous_status=run.status,
            by=by,
            tenant_id=run.tenant_id,
        )
        final = store.get_plan_run(conn, run.id)
        return RerunOutcome(final or reopened, rerun, cleared)

    def _check_rerun_overlap(self, conn: Connection, run: PlanRunRecord, graph: RunGraph) -> None:
        """Reopening an ended run makes it active again: under any overlap policy but
        ``allow``, refuse while another run of the plan is open (``force`` overrides)."""
        policy = graph.document.policies.overlap
        if policy == OverlapPolicy.ALLOW:
            return
        others = store.open_plan_runs_of_plan(conn, run.plan_id)
        if others:
            other = others[-1]
            raise Conflict(
                f"cannot re-run plan run {run.id} now: plan '{run.plan_path}' has an open run "
                f"{other.id} ({other.status}) and its overlap policy is {policy.value}; wait "
                "for it to end or stop it, or set force to re-run anyway"
            )

    def _reopen(
        self, conn: Connection, run: PlanRunRecord, graph: RunGraph, now: datetime, why: str
    ) -> PlanRunRecord:
        """RUNNING again. An ended run starts afresh (start time, TTL and overdue time from
        now; no purge date; ``on_start`` told, with ``why`` as the reason) and its earlier end
        leaves the plan's statistics, to be counted again when it ends; a stalled run simply
        goes on."""
        if run.ended_at is None:
            store.update_plan_run(conn, run.id, status=PlanRunStatus.RUNNING.value, reason=None)
            return replace(run, status=PlanRunStatus.RUNNING.value, reason=None)
        started = run.started_at or run.created_at
        store.uncount_plan_end(
            conn, run.plan_id, run.status, max(0.0, (run.ended_at - started).total_seconds())
        )
        window = graph.document.window
        reopened = replace(
            run,
            status=PlanRunStatus.RUNNING.value,
            started_at=now,
            ended_at=None,
            reason=None,
            purge_after=None,
            deadline_at=(
                now + timedelta(seconds=window.ttl_seconds)
                if window and window.ttl_seconds
                else None
            ),
            overdue_at=_overdue_at(graph.document, now),
        )
        store.update_plan_run(
            conn,
            run.id,
            status=reopened.status,
            started_at=now,
            ended_at=None,
            reason=None,
            purge_after=None,
            deadline_at=reopened.deadline_at,
            overdue_at=reopened.overdue_at,
        )
        settings = graph.document.notifications
        if settings.on_start:
            outbox.insert(
                conn,
                notify.messages(
                    settings, notify.RUN_STARTED, reopened, now, status=reopened.status, reason=why
                ),
            )
        return reopened

    def reruns(self, conn: Connection, run_id: str) -> list[RerunRecord]:
        """The plan run's re-runs, oldest first."""
        return store.reruns_of(conn, run_id)

    # --- recovery -------------------------------------------------------------------------

    def recover(
        self,
        conn: Connection,
        job_runs: list[JobRunRecord],
        now: datetime,
        *,
        agent_fate: str = "lost",
    ) -> int:
        """Settle job runs that were RUNNING on a node that died, or on an agent whose lease
        ran out (``agent_fate``: "lost", "revoked"): retry them per policy (an agent's maybe
        on another agent of its label), or mark them ERROR with reason "interrupted: the node
        running it stopped" or "agent edge-1 lost"."""
        agent_names = agent_store.names_by_id(
            conn, {jr.owner_node for jr in job_runs if jr.agent is not None and jr.owner_node}
        )
        for jr in job_runs:
            run = store.get_plan_run(conn, jr.plan_run_id, lock=True)
            if run is None:
                continue
            store.release_locks(conn, jr.id)
            agent = agent_names.get(jr.owner_node or "") if jr.agent is not None else None
            ended = (
                f"agent {agent} {agent_fate}"
                if agent is not None
                else "interrupted: the node running it stopped"
            )
            why = (
                f"agent {agent} {agent_fate}"
                if agent is not None
                else "the node running it stopped"
            )
            interrupted = ExecutionResult(succeeded=False, reason=ended)
            duration = (now - jr.started_at).total_seconds() if jr.started_at else 0.0
            if jr.stop_requested or run.ended_at is not None:
                _log_job_ended(
                    conn, jr, run, JobRunStatus.KILLED.value, interrupted, duration, None, None
                )
                store.mark_ended(
                    conn, jr.id, status=JobRunStatus.KILLED.value, now=now, reason=ended
                )
                self._job_ended(conn, jr.kind, JobRunStatus.KILLED.value, jr.started_at, now)
                continue
            graph = self.versions.graph(conn, run.plan_version_id)
            job = graph.jobs[jr.job_name].job
            retry_at = self._retry_at(graph, job, jr.retries + 1, now)
            _log_job_ended(
                conn,
                jr,
                run,
                JobRunStatus.ERROR.value,
                interrupted,
                duration,
                None,
                now if retry_at is not None else None,
            )
            if retry_at is not None:
                store.schedule_retry(
                    conn,
                    jr.id,
                    wake_at=now,
                    retries=jr.retries + 1,
                    reason=f"attempt {jr.attempt} interrupted ({why}); retrying",
                )
            else:
                store.mark_ended(
                    conn, jr.id, status=JobRunStatus.ERROR.value, now=now, reason=ended
                )
                self._job_ended(conn, jr.kind, JobRunStatus.ERROR.value, jr.started_at, now)
            self._wake_lock_queue(conn, run.tenant_id, now)
            self.evaluate(conn, run, now)
        return len(job_runs)


_ACTIONS: dict[JobAction, frozenset[str]] = {
    JobAction.HOLD: frozenset({JobRunStatus.WAITING, JobRunStatus.LOCK_QUEUED}),
    JobAction.RELEASE: frozenset({JobRunStatus.ON_HOLD}),
    JobAction.SKIP: frozenset(
        {
            JobRunStatus.WAITING,
            JobRunStatus.LOCK_QUEUED,
            JobRunStatus.ON_HOLD,
            JobRunStatus.ERROR,
            JobRunStatus.KILLED,
        }
    ),
    JobAction.UNSKIP: frozenset({JobRunStatus.SKIPPED}),
    JobAction.RESET: frozenset(
        {JobRunStatus.COMPLETE, JobRunStatus.ERROR, JobRunStatus.KILLED, JobRunStatus.SKIPPED}
    ),
    JobAction.ACKNOWLEDGE: frozenset({JobRunStatus.ERROR, JobRunStatus.KILLED}),
    JobAction.KILL: frozenset({JobRunStatus.RUNNING}),
}
ACTIONS = tuple(JobAction)
#: Actions that let a plan run held in ERROR go on.
_RESUMING = frozenset({JobAction.SKIP, JobAction.RESET, JobAction.RELEASE, JobAction.UNSKIP})


#: Job-run states with a result a re-run clears (COMPLETE, ERROR, KILLED, SKIPPED).
_RERUNNABLE = frozenset(
    {JobRunStatus.COMPLETE, JobRunStatus.ERROR, JobRunStatus.KILLED, JobRunStatus.SKIPPED}
)


def rerun_refusal(run: PlanRunRecord, jobs: Sequence[JobRunRecord]) -> str | None:
    """Why the run cannot be re-run now (queued, running, stopping), or ``None`` if it can
    (the selection may still be refused)."""
    try:
        _check_rerunnable(run, jobs)
    except Conflict as exc:
        return exc.message
    return None


def rerunnable(status: str) -> bool:
    """Whether a job run in ``status`` has a result a re-run would clear."""
    return status in _RERUNNABLE


def _check_rerunnable(run: PlanRunRecord, jobs: Any) -> None:
    """Refuse (409) a re-run of a run that is queued, still running or still stopping."""
    if run.status == PlanRunStatus.QUEUED:
        raise Conflict(f"cannot re-run plan run {run.id}: it is QUEUED and has not started yet")
    busy = [
        jr
        for jr in jobs
        if jr.status in (JobRunStatus.RUNNING, JobRunStatus.LOCK_QUEUED)
        or (
            run.ended_at is None
            and (
                jr.status == JobRunStatus.ON_HOLD
                or (jr.status == JobRunStatus.WAITING and jr.queued_at is not None)
            )
        )
    ]
    if run.ended_at is None and (run.status != PlanRunStatus.ERROR or busy):
        what = (
            f"job '{busy[0].job_name}' is {busy[0].status}" if busy else "it has jobs still to run"
        )
        raise Conflict(
            f"cannot re-run plan run {run.id}: it is still running ({run.status}: {what}); "
            "re-run it once it has ended or stalled in ERROR, or stop it first"
        )
    if busy:
        raise Conflict(
            f"cannot re-run plan run {run.id}: it has ended ({run.status}) but job "
            f"'{busy[0].job_name}' is still {busy[0].status} (being stopped); try again once "
            "it has ended"
        )


def _rerun_selection(
    run: PlanRunRecord, records: Mapping[str, JobRunRecord], jobs: str | Sequence[str]
) -> set[str]:
    """The job names a re-run's ``jobs`` picks (before ``downstream``)."""
    if jobs == "failed":
        chosen = {name for name, jr in records.items() if jr.status in FAILED}
        if not chosen:
            raise Conflict(
                f"nothing to re-run in plan run {run.id}: it has no failed job "
                f"(it is {run.status}); re-run named jobs or all"
            )
        return chosen
    if jobs == "all":
        return {name for name, jr in records.items() if jr.status in _RERUNNABLE}
    if isinstance(jobs, str):
        raise InvalidInput(
            f"must be {' or '.join(repr(s) for s in RERUN_SELECTIONS)} or a list of job names",
            field="jobs",
        )
    names = set(jobs)
    if not names:
        raise InvalidInput("name at least one job to re-run", field="jobs")
    unknown = sorted(names - records.keys())
    if unknown:
        known = ", ".join(sorted(records)[:20]) + (", ..." if len(records) > 20 else "")
        raise InvalidInput(
            f"no job named {', '.join(repr(n) for n in unknown)} in plan run {run.id} "
            f"(its jobs: {known})",
            field="jobs",
        )
    disabled = sorted(n for n in names if records[n].status == JobRunStatus.DISABLED)
    if disabled:
        raise Conflict(
            f"cannot re-run {', '.join(repr(n) for n in disabled)} in plan run {run.id}: "
            "disabled in this run"
        )
    return names


def _describe_selection(jobs: str | Sequence[str]) -> str:
    if isinstance(jobs, str):
        return f"the selection '{jobs}'"
    return "the selection " + ", ".join(repr(n) for n in sorted(set(jobs)))


def _attempt_of(jr: JobRunRecord) -> dict[str, Any]:
    """A job run's last attempt as a re-run record keeps it (JSON)."""
    return {
        "job_name": jr.job_name,
        "job_run_id": jr.id,
        "attempt": jr.attempt,
        "status": jr.status,
        "exit_code": jr.exit_code,
        "http_status": jr.http_status,
        "reason": jr.reason,
        "flags": list(jr.flags),
        "started_at": jr.started_at.isoformat() if jr.started_at else None,
        "ended_at": jr.ended_at.isoformat() if jr.ended_at else None,
    }


def actions_allowed(status: str, run_ended: bool) -> tuple[str, ...]:
    """The job actions that apply to a job run in ``status`` (once its plan run has ended,
    only ``acknowledge``), in :data:`ACTIONS` order."""
    return tuple(
        action
        for action, states in _ACTIONS.items()
        if status in states and (not run_ended or action == "acknowledge")
    )


@dataclass(slots=True)
class _Draft:
    """A job run's changing fields while its plan run is settled in memory (changed in
    place: on the scheduler's hot path, no record is copied)."""

    status: str
    attempt: int = 0
    queued_at: datetime | None = None
    wake_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    reason: str | None = None
    owner_node: str | None = None

    @classmethod
    def of(cls, jr: JobRunRecord | JobRunStateRecord) -> _Draft:
        return cls(
            jr.status,
            jr.attempt or 0,
            jr.queued_at,
            jr.wake_at,
            jr.started_at,
            jr.ended_at,
            jr.reason,
            jr.owner_node,
        )

    def changes(self, jr: JobRunRecord | JobRunStateRecord) -> dict[str, Any]:
        """The fields that differ from the stored record ``jr``."""
        return {
            name: getattr(self, name)
            for name in _MUTABLE
            if getattr(self, name) != getattr(jr, name)
        }

    def record(
        self, job_run_id: str, run: PlanRunRecord, name: str, kind: str, agent: str | None
    ) -> JobRunRecord:
        """The new job run of ``run`` this draft describes."""
        return JobRunRecord(
            id=job_run_id,
            tenant_id=run.tenant_id,
            plan_run_id=run.id,
            job_name=name,
            kind=kind,
            status=self.status,
            attempt=self.attempt,
            retries=0,
            wake_at=self.wake_at,
            owner_node=None,
            lease_until=None,
            stop_requested=False,
            created_at=run.created_at,
            queued_at=self.queued_at,
            started_at=self.started_at,
            ended_at=self.ended_at,
            exit_code=None,
            http_status=None,
            pid=None,
            reason=self.reason,
            flags=[],
            acknowledged=False,
            agent=agent,
        )


def _initial_drafts(graph: RunGraph, disabled: frozenset[str]) -> dict[str, _Draft]:
    """A new run's job runs as they start, before settling."""
    return {name: _Draft(graph.initial_status(name, disabled).value) for name in graph.jobs}


_MUTABLE = ("status", "attempt", "queued_at", "wake_at", "started_at", "ended_at", "reason")


def _log_opened(conn: Connection, run: PlanRunRecord, level: str = "info") -> None:
    after_commit(
        conn,
        log,
        "plan_run.opened",
        level,
        plan_run=run.id,
        plan=run.plan_path,
        version=run.version,
        trigger=run.trigger,
        fire_time=run.scheduled_for.isoformat() if run.scheduled_for else None,
        status=run.status,
        created_by=run.created_by,
        tenant_id=run.tenant_id,
    )


def _log_ended(
    conn: Connection,
    run: PlanRunRecord,
    status: str,
    now: datetime,
    reason: str | None,
    level: str | None = None,
) -> None:
    started = run.started_at or run.created_at
    after_commit(
        conn,
        log,
        "plan_run.ended",
        level or ("info" if status == PlanRunStatus.COMPLETE else "warning"),
        plan_run=run.id,
        plan=run.plan_path,
        status=status,
        duration_seconds=round(max(0.0, (now - started).total_seconds()), 3),
        reason=reason,
        tenant_id=run.tenant_id,
    )


def _log_job_ended(
    conn: Connection,
    jr: JobRunRecord,
    run: PlanRunRecord,
    status: str,
    result: ExecutionResult,
    duration: float,
    reason: str | None,
    retry_at: datetime | None,
) -> None:
    after_commit(
        conn,
        log,
        "job_run.ended",
        "info" if status == JobRunStatus.COMPLETE else "warning",
        job_run=jr.id,
        plan_run=run.id,
        plan=run.plan_path,
        job=jr.job_name,
        kind=jr.kind,
        attempt=jr.attempt,
        status=status,
        exit_code=result.exit_code,
        http_status=result.http_status,
        duration_seconds=round(max(0.0, duration), 3),
        reason=reason if reason is not None else result.reason,
        retry_at=retry_at.isoformat() if retry_at else None,
        node_id=jr.owner_node,
        tenant_id=run.tenant_id,
    )


def _overdue_at(document: PlanDocument, started: datetime) -> datetime | None:
    """When a run started at ``started`` becomes overdue, if anyone is to be told."""
    settings = document.notifications
    if settings.overdue_after_seconds is None or not settings.on_overdue:
        return None
    return started + timedelta(seconds=settings.overdue_after_seconds)


def _failed_reason(failed: list[str]) -> str:
    names = ", ".join(f"'{name}'" for name in failed[:5]) + (", ..." if len(failed) > 5 else "")
    return f"ended because job{'s' if len(failed) > 1 else ''} {names} failed (on_error: end)"


def _version_of(plan: PlanRecord) -> str:
    assert plan.current_version_id is not None, f"plan {plan.id} has no version"
    return plan.current_version_id


def _parameters(document: PlanDocument, overrides: Mapping[str, str] | None) -> dict[str, str]:
    parameters = {p.name: p.default or "" for p in document.parameters}
    for name, value in (overrides or {}).items():
        if name not in parameters:
            known = ", ".join(sorted(parameters)) or "none"
            raise InvalidInput(
                f"unknown parameter '{name}' (the plan defines: {known})", field="parameters"
            )
        problem = substitution.problem(value)
        if problem is not None:
            raise InvalidInput(problem, field=f"parameters.{name}")
        parameters[name] = value
    return parameters
