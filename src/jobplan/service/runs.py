"""Plan runs and job runs: start, stop, operator actions, output, statistics, events."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection

from jobplan.engine.state import (
    RERUN_SELECTIONS,
    OpenOutcome,
    RunState,
    rerun_refusal,
    rerunnable,
)
from jobplan.errors import InvalidInput, NotFound
from jobplan.model import JobAction, JobRunStatus, PlanDocument, PlanRunStatus
from jobplan.service.audit import audited, record
from jobplan.service.caller import Caller, Permission
from jobplan.service.oplog import operator_action
from jobplan.service.pagination import (
    KeysetPage,
    Page,
    check_page,
    decode_cursor,
    encode_cursor,
)
from jobplan.service.plans import PlanService
from jobplan.service.validation import check_event_name
from jobplan.store import Database
from jobplan.store import plans as plan_store
from jobplan.store import runs as store
from jobplan.store.records import JobRunRecord, PlanRecord, PlanRunRecord, RerunRecord

__all__ = [
    "JOB_ACTIONS",
    "MAX_INSTANCES",
    "OutputView",
    "PlanInstances",
    "PlanStats",
    "RerunChoices",
    "RerunResult",
    "RunInstance",
    "RunService",
    "RunView",
    "rerun_choices",
]

JOB_ACTIONS = tuple(action.value for action in JobAction)
PLAN_RUN_STATUSES = {s.value for s in PlanRunStatus}
JOB_RUN_STATUSES = {s.value for s in JobRunStatus}
#: At most this many runs in one answer about a plan's or a tenant's current runs.
MAX_INSTANCES = 500
#: At most this many job names in one re-run request.
MAX_RERUN_JOBS = 1000


@dataclass(frozen=True, slots=True)
class RunView:
    run: PlanRunRecord
    jobs: list[JobRunRecord]


@dataclass(frozen=True, slots=True)
class RerunResult:
    """A re-run: the run as it now stands (with its job runs), the re-run's record, and the
    jobs given a new attempt."""

    view: RunView
    rerun: RerunRecord
    cleared: list[str]


@dataclass(frozen=True, slots=True)
class RerunChoices:
    """What a console may offer to re-run in a run: whether it can be re-run now, whether it
    has failed jobs, and the job runs (ids) with a result a re-run would clear."""

    allowed: bool
    failed: bool
    job_run_ids: frozenset[str]


def rerun_choices(caller: Caller, run: PlanRunRecord, jobs: list[JobRunRecord]) -> RerunChoices:
    """The re-runs ``caller`` may ask for on ``run`` now (none without ``runs:write``); the
    service checks again when one is asked for."""
    if not caller.can(Permission.RUNS_WRITE) or rerun_refusal(run, jobs) is not None:
        return RerunChoices(False, False, frozenset())
    failed = any(job.status in (JobRunStatus.ERROR, JobRunStatus.KILLED) for job in jobs)
    return RerunChoices(True, failed, frozenset(j.id for j in jobs if rerunnable(j.status)))


@dataclass(frozen=True, slots=True)
class RunInstance:
    """A plan run with the document of the version it runs and its job runs (by name)."""

    run: PlanRunRecord
    document: PlanDocument
    jobs: dict[str, JobRunRecord]


@dataclass(frozen=True, slots=True)
class PlanInstances:
    """A plan, its current definition and its current runs, newest first (see
    :meth:`RunService.current_instances`)."""

    plan: PlanRecord
    document: PlanDocument
    instances: list[RunInstance]


@dataclass(frozen=True, slots=True)
class OutputView:
    job_run_id: str
    attempt: int
    text: str
    next_seq: int
    complete: bool  # the attempt has ended: no more output will come


@dataclass(frozen=True, slots=True)
class PlanStats:
    plan_id: str
    total: int
    succeeded: int
    failed: int
    ended: int
    success_percent: float | None
    failure_percent: float | None
    average_duration_seconds: float | None
    last_status: str | None
    last_run_at: datetime | None
    next_fire_time: datetime | None


def _statuses(values: list[str] | None, known: set[str], field: str) -> list[str] | None:
    if not values:
        return None
    unknown = sorted(set(values) - known)
    if unknown:
        raise InvalidInput(f"unknown status {unknown}; known: {sorted(known)}", field=field)
    return values


def _check_rerun_jobs(jobs: object) -> None:
    if isinstance(jobs, str):
        if jobs not in RERUN_SELECTIONS:
            raise InvalidInput(
                f"must be {' or '.join(repr(s) for s in RERUN_SELECTIONS)} or a list of job "
                f"names, got {jobs[:100]!r}",
                field="jobs",
            )
        return
    if not isinstance(jobs, list) or not all(isinstance(name, str) for name in jobs):
        raise InvalidInput("must be 'failed', 'all' or a list of job names", field="jobs")
    if not jobs:
        raise InvalidInput("name at least one job to re-run", field="jobs")
    if len(jobs) > MAX_RERUN_JOBS:
        raise InvalidInput(f"at most {MAX_RERUN_JOBS} job names", field="jobs")


def _job_action_name(arguments: Mapping[str, Any]) -> str:
    action = str(arguments.get("action", ""))
    return f"job_run.{action}" if action in JOB_ACTIONS else "job_run.action"


def _status_change(before: str, after: str | None, path: str = "status") -> list[dict[str, Any]]:
    if after is None or before == after:
        return []
    return [{"kind": "changed", "path": path, "before": before, "after": after}]


def _added(path: str, value: object) -> dict[str, Any]:
    return {"kind": "added", "path": path, "before": None, "after": value}


def _opened(run: PlanRunRecord | None, outcome: str) -> list[dict[str, Any]]:
    """A run start: whether a run opened (the overlap policy may queue or skip it) and its
    status. Parameter values are not recorded (they may carry credentials)."""
    changes: list[dict[str, Any]] = [
        {"kind": "added", "path": "outcome", "before": None, "after": outcome}
    ]
    if run is not None:
        changes.append({"kind": "added", "path": "status", "before": None, "after": run.status})
    return changes


class RunService:
    def __init__(
        self,
        database: Database,
        state: RunState,
        plans: PlanService,
        notify: Callable[[], None] | None = None,
    ) -> None:
        self._db = database
        self._state = state
        self._plans = plans
        self.notify: Callable[[], None] = notify or (lambda: None)

    # --- plan runs ------------------------------------------------------------------------

    @audited("run.start", "plan_run", "plan_ref")
    def start(
        self,
        caller: Caller,
        plan_ref: str,
        parameters: dict[str, str] | None = None,
        *,
        force: bool = False,
    ) -> OpenOutcome:
        """Start a run of the plan's current version now, obeying its overlap policy unless
        ``force``. The run is committed before this returns."""
        caller.require(Permission.RUNS_WRITE)
        now = datetime.now(UTC)
        with self._db.transaction() as conn:
            # the plan's row is locked (PostgreSQL) before its open runs are read, as the
            # scheduler's due-plan read locks it: a concurrent start or tick of this plan
            # waits for this one to commit, so the overlap policy sees this run
            plan = self._plans.resolve(conn, caller, plan_ref, for_update=True)
            outcome = self._state.open_plan_run(
                conn,
                plan,
                trigger="manual",
                created_by=caller.username,
                now=now,
                overrides=parameters,
                force=force,
            )
            record(
                conn,
                target_id=outcome.run.id if outcome.run else None,
                target_path=plan.path,
                changes=_opened(outcome.run, str(outcome.outcome)),
            )
        self.notify()
        operator_action(
            caller,
            "run.start",
            plan=plan.path,
            plan_run=outcome.run.id if outcome.run else None,
            outcome=str(outcome.outcome),
        )
        return outcome

    @audited("run.start", "plan_run", "plan_ref")
    def start_unless_running(
        self, caller: Caller, plan_ref: str, parameters: dict[str, str] | None = None
    ) -> PlanRunRecord | None:
        """Start a run unless the plan has an open one (then ``None``): "start" as job APIs
        such as DIEM's mean it."""
        caller.require(Permission.RUNS_WRITE)
        now = datetime.now(UTC)
        with self._db.transaction() as conn:
            plan = self._plans.resolve(conn, caller, plan_ref, for_update=True)
            if store.open_plan_runs_of_plan(conn, plan.id):
                record(conn, target_path=plan.path, changes=[])
                return None
            outcome = self._state.open_plan_run(
                conn,
                plan,
                trigger="manual",
                created_by=caller.username,
                now=now,
                overrides=parameters,
                force=True,
            )
            record(
                conn,
                target_id=outcome.run.id if outcome.run else None,
                target_path=plan.path,
                changes=_opened(outcome.run, str(outcome.outcome)),
            )
        self.notify()
        operator_action(
            caller,
            "run.start",
            plan=plan.path,
            plan_run=outcome.run.id if outcome.run else None,
            outcome=str(outcome.outcome),
        )
        return outcome.run

    @audited("run.stop", "plan", "plan_ref")
    def stop_open_runs(self, caller: Caller, plan_ref: str) -> int:
        """Stop every open run of a plan; returns how many were stopped."""
        caller.require(Permission.RUNS_WRITE)
        now = datetime.now(UTC)
        with self._db.transaction() as conn:
            plan = self._plans.resolve(conn, caller, plan_ref)
            runs = store.open_plan_runs_of_plan(conn, plan.id) + store.plan_runs_of_plan(
                conn, plan.id, [PlanRunStatus.QUEUED.value]
            )
            for run in runs:
                self._state.stop_plan_run(conn, run, caller.username, now)
            stopped = [
                change
                for run in runs
                for change in _status_change(
                    run.status,
                    getattr(store.get_plan_run(conn, run.id), "status", None),
                    f"runs.{run.id}.status",
                )
            ]
            record(conn, target_id=plan.id, target_path=plan.path, changes=stopped)
        self.notify()
        for run in runs:
            operator_action(caller, "run.stop", plan=plan.path, plan_run=run.id)
        return len(runs)

    def latest_run(self, caller: Caller, plan_ref: str) -> PlanRunRecord | None:
        """The plan's most recent run, if it has any."""
        caller.require(Permission.RUNS_READ)
        with self._db.read() as conn:
            plan = self._plans.resolve(conn, caller, plan_ref)
            items, _ = store.list_plan_runs(conn, caller.tenant_id, plan_id=plan.id, limit=1)
        return items[0] if items else None

    def current_instances(self, caller: Caller, plan_ref: str) -> PlanInstances:
        """The plan with its current definition and its current runs, newest first: its open
        runs (RUNNING, or ERROR and not ended), or if it has none its latest run; no runs if it
        never ran. (What Ikasan's dashboard calls a job plan's instances.)"""
        caller.require(Permission.RUNS_READ)
        with self._db.read() as conn:
            plan = self._plans.resolve(conn, caller, plan_ref)
            runs = store.open_plan_runs_of_plan(conn, plan.id)[::-1][:MAX_INSTANCES]
            if not runs:
                runs, _ = store.list_plan_runs(conn, caller.tenant_id, plan_id=plan.id, limit=1)
            assert plan.current_version_id is not None, "a plan always has a current version"
            document = self._state.versions.graph(conn, plan.current_version_id).document
            return PlanInstances(plan, document, [self._instance(conn, run) for run in runs])

    def open_runs(self, caller: Caller, *, include_queued: bool = False) -> list[PlanRunRecord]:
        """The tenant's open runs (RUNNING, or ERROR and not ended), newest first, at most
        :data:`MAX_INSTANCES`; with ``include_queued`` also the runs QUEUED behind them."""
        caller.require(Permission.RUNS_READ)
        with self._db.read() as conn:
            return store.open_plan_runs_of_tenant(
                conn, caller.tenant_id, include_queued=include_queued, limit=MAX_INSTANCES
            )

    def open_instances(self, caller: Caller) -> list[RunInstance]:
        """:meth:`open_runs`, each with its plan document and job runs."""
        caller.require(Permission.RUNS_READ)
        with self._db.read() as conn:
            runs = store.open_plan_runs_of_tenant(conn, caller.tenant_id, limit=MAX_INSTANCES)
            return [self._instance(conn, run) for run in runs]

    @audited("run.stop", "plan_run", "run_id")
    def stop(self, caller: Caller, run_id: str) -> PlanRunRecord:
        """End a plan run: its running jobs are killed, nothing else starts."""
        caller.require(Permission.RUNS_WRITE)
        now = datetime.now(UTC)
        with self._db.transaction() as conn:
            run = self._run(conn, caller, run_id, lock=True)
            self._state.stop_plan_run(conn, run, caller.username, now)
            stopped = store.get_plan_run(conn, run.id)
            after = stopped.status if stopped else None
            record(
                conn,
                target_id=run.id,
                target_path=run.plan_path,
                changes=_status_change(run.status, after),
            )
        self.notify()
        operator_action(caller, "run.stop", plan=run.plan_path, plan_run=run.id)
        return stopped or run

    @audited("run.rerun", "plan_run", "run_id")
    def rerun(
        self,
        caller: Caller,
        run_id: str,
        jobs: str | list[str],
        *,
        downstream: bool = False,
        force: bool = False,
    ) -> RerunResult:
        """Re-run a finished (or stalled) run in place: ``jobs`` is ``"failed"``, ``"all"``
        or job names; with ``downstream`` the jobs depending on them run again too (see
        :meth:`RunState.rerun_plan_run`). Committed before this returns."""
        caller.require(Permission.RUNS_WRITE)
        _check_rerun_jobs(jobs)
        now = datetime.now(UTC)
        with self._db.transaction() as conn:
            run = self._run(conn, caller, run_id)  # locked by the state, after its plan
            outcome = self._state.rerun_plan_run(
                conn,
                run,
                jobs,
                downstream=downstream,
                by=caller.username,
                now=now,
                force=force,
            )
            view = RunView(
                outcome.run, sorted(store.job_runs_of(conn, run.id), key=lambda j: j.job_name)
            )
            record(
                conn,
                target_id=run.id,
                target_path=run.plan_path,
                changes=[
                    *_status_change(run.status, outcome.run.status),
                    _added("rerun", outcome.rerun.number),
                    _added("jobs", outcome.cleared),
                ],
            )
        self.notify()
        operator_action(
            caller,
            "run.rerun",
            plan=run.plan_path,
            plan_run=run.id,
            rerun=outcome.rerun.number,
            jobs=outcome.cleared,
        )
        return RerunResult(view, outcome.rerun, outcome.cleared)

    def reruns(self, caller: Caller, run_id: str) -> list[RerunRecord]:
        """The run's re-runs, oldest first, each with the results its cleared jobs had."""
        caller.require(Permission.RUNS_READ)
        with self._db.read() as conn:
            run = self._run(conn, caller, run_id)
            return self._state.reruns(conn, run.id)

    def list_runs(
        self,
        caller: Caller,
        *,
        plan_ref: str | None = None,
        statuses: list[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[PlanRunRecord]:
        caller.require(Permission.RUNS_READ)
        check_page(limit, offset)
        wanted = _statuses(statuses, PLAN_RUN_STATUSES, "status")
        with self._db.read() as conn:
            plan_id = self._plans.resolve(conn, caller, plan_ref).id if plan_ref else None
            items, total = store.list_plan_runs(
                conn,
                caller.tenant_id,
                plan_id=plan_id,
                statuses=wanted,
                since=since,
                until=until,
                limit=limit,
                offset=offset,
            )
        return Page(items, total, limit, offset)

    def runs_after(
        self,
        caller: Caller,
        cursor: str,
        *,
        plan_ref: str | None = None,
        statuses: list[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
    ) -> KeysetPage[PlanRunRecord]:
        """:meth:`list_runs` by keyset: the page after ``cursor`` ("" for the first), in the
        same order, without counting the matches."""
        caller.require(Permission.RUNS_READ)
        check_page(limit, 0)
        after = decode_cursor(cursor)
        wanted = _statuses(statuses, PLAN_RUN_STATUSES, "status")
        with self._db.read() as conn:
            plan_id = self._plans.resolve(conn, caller, plan_ref).id if plan_ref else None
            items = store.plan_runs_after(
                conn,
                caller.tenant_id,
                after=after,
                plan_id=plan_id,
                statuses=wanted,
                since=since,
                until=until,
                limit=limit,
            )
        return _keyset_page(items, limit)

    def get(self, caller: Caller, run_id: str) -> RunView:
        caller.require(Permission.RUNS_READ)
        with self._db.read() as conn:
            run = self._run(conn, caller, run_id)
            return RunView(run, sorted(store.job_runs_of(conn, run.id), key=lambda j: j.job_name))

    # --- job runs -------------------------------------------------------------------------

    def job_runs(
        self,
        caller: Caller,
        *,
        run_id: str | None = None,
        statuses: list[str] | None = None,
        job_name: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Page[JobRunRecord]:
        caller.require(Permission.RUNS_READ)
        check_page(limit, offset)
        wanted = _statuses(statuses, JOB_RUN_STATUSES, "status")
        with self._db.read() as conn:
            if run_id is not None:
                self._run(conn, caller, run_id)
            items, total = store.list_job_runs(
                conn,
                caller.tenant_id,
                plan_run_id=run_id,
                statuses=wanted,
                job_name=job_name,
                limit=limit,
                offset=offset,
            )
        return Page(items, total, limit, offset)

    def job_runs_after(
        self,
        caller: Caller,
        cursor: str,
        *,
        run_id: str | None = None,
        statuses: list[str] | None = None,
        job_name: str | None = None,
        limit: int = 100,
    ) -> KeysetPage[JobRunRecord]:
        """:meth:`job_runs` by keyset: the page after ``cursor`` ("" for the first), newest
        first (job runs created at the same instant by id, descending), without counting."""
        caller.require(Permission.RUNS_READ)
        check_page(limit, 0)
        after = decode_cursor(cursor)
        wanted = _statuses(statuses, JOB_RUN_STATUSES, "status")
        with self._db.read() as conn:
            if run_id is not None:
                self._run(conn, caller, run_id)
            items = store.job_runs_after(
                conn,
                caller.tenant_id,
                after=after,
                plan_run_id=run_id,
                statuses=wanted,
                job_name=job_name,
                limit=limit,
            )
        return _keyset_page(items, limit)

    def job_run(self, caller: Caller, job_run_id: str) -> JobRunRecord:
        caller.require(Permission.RUNS_READ)
        with self._db.read() as conn:
            return self._job_run(conn, caller, job_run_id)

    @audited(_job_action_name, "job_run", "job_run_id")
    def act(self, caller: Caller, job_run_id: str, action: JobAction | str) -> JobRunRecord:
        """One :class:`JobAction` (or its name). A wrong state is a :class:`Conflict` naming
        the state."""
        caller.require(Permission.RUNS_WRITE)
        try:
            wanted = JobAction(action)
        except ValueError:
            raise InvalidInput(f"must be one of {', '.join(JOB_ACTIONS)}", field="action") from None
        now = datetime.now(UTC)
        with self._db.transaction() as conn:
            job_run = self._job_run(conn, caller, job_run_id)
            self._state.job_action(conn, job_run, wanted, caller.username, now)
            updated = store.get_job_run(conn, job_run.id)
            run = store.get_plan_run(conn, job_run.plan_run_id)
            record(
                conn,
                target_id=job_run.id,
                target_path=f"{run.plan_path}/{job_run.job_name}" if run else job_run.job_name,
                changes=_status_change(job_run.status, updated.status if updated else None),
            )
        self.notify()
        operator_action(
            caller,
            f"job_run.{wanted.value}",
            plan_run=job_run.plan_run_id,
            job_run=job_run.id,
            job=job_run.job_name,
        )
        assert updated is not None
        return updated

    def output(
        self,
        caller: Caller,
        job_run_id: str,
        *,
        attempt: int | None = None,
        after_seq: int = -1,
        tail_bytes: int | None = None,
    ) -> OutputView:
        """Captured output of one attempt (the latest by default): everything after chunk
        ``after_seq`` (for following), or only the last ``tail_bytes`` characters."""
        caller.require(Permission.RUNS_READ)
        with self._db.read() as conn:
            job_run = self._job_run(conn, caller, job_run_id)
            number = attempt if attempt is not None else max(job_run.attempt, 1)
            if not 1 <= number <= max(job_run.attempt, 1):
                raise InvalidInput(
                    f"must be between 1 and {max(job_run.attempt, 1)}", field="attempt"
                )
            chunks = store.read_output(conn, job_run.id, number, after_seq)
        text = "".join(chunk for _, chunk in chunks)
        if tail_bytes is not None:
            text = text[-tail_bytes:] if tail_bytes else ""
        next_seq = chunks[-1][0] if chunks else after_seq
        complete = job_run.status != JobRunStatus.RUNNING or number < job_run.attempt
        return OutputView(job_run.id, number, text, next_seq, complete)

    # --- plans' operational state ---------------------------------------------------------

    def stats(self, caller: Caller, plan_ref: str) -> PlanStats:
        caller.require(Permission.RUNS_READ)
        with self._db.read() as conn:
            plan = self._plans.resolve(conn, caller, plan_ref)
            record = store.get_stats(conn, caller.tenant_id, plan.id)
        total = record.total if record else 0

        def percent(n: int) -> float | None:
            return round(100.0 * n / total, 2) if total else None

        return PlanStats(
            plan_id=plan.id,
            total=total,
            succeeded=record.succeeded if record else 0,
            failed=record.failed if record else 0,
            ended=record.ended if record else 0,
            success_percent=percent(record.succeeded) if record else None,
            failure_percent=percent(record.failed) if record else None,
            average_duration_seconds=(
                round(record.total_duration_seconds / total, 3) if record and total else None
            ),
            last_status=record.last_status if record else None,
            last_run_at=record.last_run_at if record else None,
            next_fire_time=plan.next_fire_time if plan.enabled else None,
        )

    @audited(
        lambda a: "job.enable" if a.get("enabled") else "job.disable",
        "job",
        lambda a: f"{a.get('plan_ref')}/{a.get('job_name')}",
    )
    def set_job_enabled(
        self, caller: Caller, plan_ref: str, job_name: str, enabled: bool
    ) -> list[str]:
        """Enable or disable one job of a plan for future runs (disabled jobs are passed over
        as DISABLED). Returns the plan's disabled jobs."""
        caller.require(Permission.RUNS_WRITE)
        with self._db.transaction() as conn:
            plan = self._plans.resolve(conn, caller, plan_ref)
            assert plan.current_version_id is not None
            document = self._state.versions.graph(conn, plan.current_version_id).document
            if document.find_job(job_name) is None:
                raise NotFound("job", f"{plan.name}/{job_name}")
            disabled = set(plan.disabled_jobs or ())
            if enabled:
                disabled.discard(job_name)
            else:
                disabled.add(job_name)
            plan_store.set_disabled_jobs(conn, plan.id, sorted(disabled))
            before = job_name not in (plan.disabled_jobs or ())
            changes = (
                []
                if before == enabled
                else [{"kind": "changed", "path": "enabled", "before": before, "after": enabled}]
            )
            record(conn, target_id=plan.id, target_path=f"{plan.path}/{job_name}", changes=changes)
        operator_action(
            caller, "job.enable" if enabled else "job.disable", plan=plan.path, job=job_name
        )
        return sorted(disabled)

    @audited("event.raise", "event", "name")
    def raise_event(self, caller: Caller, name: str) -> int:
        """Raise a global event in the caller's tenant; returns how many waiting event jobs it
        completed."""
        caller.require(Permission.RUNS_WRITE)
        check_event_name(name)
        with self._db.transaction() as conn:
            count = self._state.raise_event(
                conn, caller.tenant_id, name, caller.username, datetime.now(UTC)
            )
            completed = [{"kind": "changed", "path": "completed_jobs", "after": count}]
            record(conn, target_path=name, changes=completed)
        self.notify()
        operator_action(caller, "event.raise", event_name=name, completed=count)
        return count

    # --- internals ------------------------------------------------------------------------

    @staticmethod
    def _run(conn: Connection, caller: Caller, run_id: str, *, lock: bool = False) -> PlanRunRecord:
        run = store.get_plan_run(conn, run_id, caller.tenant_id, lock=lock)
        if run is None:
            raise NotFound("plan run", run_id)
        return run

    def _instance(self, conn: Connection, run: PlanRunRecord) -> RunInstance:
        document = self._state.versions.graph(conn, run.plan_version_id).document
        jobs = {job_run.job_name: job_run for job_run in store.job_runs_of(conn, run.id)}
        return RunInstance(run, document, jobs)

    @staticmethod
    def _job_run(conn: Connection, caller: Caller, job_run_id: str) -> JobRunRecord:
        job_run = store.get_job_run(conn, job_run_id, caller.tenant_id)
        if job_run is None:
            raise NotFound("job run", job_run_id)
        return job_run


class _Keyed(Protocol):
    @property
    def created_at(self) -> datetime: ...
    @property
    def id(self) -> str: ...


R = TypeVar("R", bound=_Keyed)


def _keyset_page(items: list[R], limit: int) -> KeysetPage[R]:
    last = items[-1] if len(items) == limit else None
    cursor = encode_cursor(last.created_at, last.id) if last is not None else None
    return KeysetPage(items, limit, cursor)
