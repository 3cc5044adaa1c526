"""Helpers for engine tests: drive :class:`RunState` and the scheduler directly, with explicit
clock times (no sleeping, no engine loops), one transaction per step as the engine does."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection

from jobplan.engine.documents import VersionCache
from jobplan.engine.executors.base import ExecutionResult
from jobplan.engine.scheduler import WindowScheduler
from jobplan.engine.state import OpenOutcome, RunState, Ticket
from jobplan.model import PlanDocument, Role
from jobplan.service.caller import Caller
from jobplan.service.plans import PlanService
from jobplan.service.runs import RunService
from jobplan.store import Database, accounts, new_id
from jobplan.store import plans as plan_store
from jobplan.store import runs as store
from jobplan.store.records import JobRunRecord, PlanRecord, PlanRunRecord, PlanStatsRecord

__all__ = [
    "T0",
    "Harness",
    "at",
    "cmd",
    "event_job",
    "file_job",
    "gate",
]

#: A fixed Monday noon, far from the real clock, so nothing depends on when the tests run.
T0 = datetime(2030, 1, 7, 12, 0, 0, tzinfo=UTC)
R = TypeVar("R")


def at(seconds: float = 0.0, *, minutes: float = 0.0, hours: float = 0.0) -> datetime:
    """``T0`` plus an offset."""
    return T0 + timedelta(seconds=seconds, minutes=minutes, hours=hours)


def cmd(name: str, depends_on: Any = None, **fields: Any) -> dict[str, Any]:
    """A command job document."""
    job: dict[str, Any] = {"name": name, "kind": "command", "command": f"echo {name}"}
    if depends_on is not None:
        job["depends_on"] = depends_on
    return job | fields


def gate(name: str, cron: str, depends_on: Any = None, **fields: Any) -> dict[str, Any]:
    """A time gate document."""
    job: dict[str, Any] = {"name": name, "kind": "time", "cron": cron}
    if depends_on is not None:
        job["depends_on"] = depends_on
    return job | fields


def event_job(name: str, event: str, depends_on: Any = None, **fields: Any) -> dict[str, Any]:
    """An event job: waits for ``event`` (no ``depends_on``) or raises it (with one)."""
    job: dict[str, Any] = {"name": name, "kind": "event", "event": event}
    if depends_on is not None:
        job["depends_on"] = depends_on
    return job | fields


def file_job(name: str, **fields: Any) -> dict[str, Any]:
    """A file watcher document."""
    return {"name": name, "kind": "file", "path": "/tmp/in", "patterns": ["*.csv"]} | fields


class Harness:
    """One tenant, its admin caller, and the engine's state machine over a database."""

    def __init__(
        self,
        database: Database,
        tenant: str = "acme",
        *,
        versions: VersionCache | None = None,
    ) -> None:
        self.database = database
        self.versions = versions or VersionCache()
        self.plans = PlanService(database)
        self.state = RunState(self.versions)
        self.runs = RunService(database, self.state, self.plans)
        self.scheduler = WindowScheduler(self.state)
        with database.transaction() as conn:
            record = accounts.insert_tenant(conn, tenant, tenant, {})
        self.tenant_id = record.id
        self.caller = Caller(
            user_id=new_id(),
            username=f"{tenant}-admin",
            tenant_id=record.id,
            tenant_name=tenant,
            role=Role.ADMIN,
        )

    def other_tenant(self, name: str) -> Harness:
        """Another tenant in the same database, sharing the version cache."""
        return Harness(self.database, name, versions=self.versions)

    def tx(self, work: Callable[[Connection], R]) -> R:
        with self.database.transaction() as conn:
            return work(conn)

    # --- plans ----------------------------------------------------------------------------

    def plan(
        self, name: str = "p", jobs: list[dict[str, Any]] | None = None, **extra: Any
    ) -> PlanRecord:
        """Create (or update) a plan; ``extra`` are further document fields."""
        document = {"name": name, "jobs": jobs if jobs is not None else [cmd("a")]} | extra
        result = self.plans.apply(self.caller, PlanDocument.model_validate(document))
        return result.view.plan

    def reload(self, plan: PlanRecord) -> PlanRecord:
        found = self.tx(lambda c: plan_store.get_plan(c, self.tenant_id, plan.id))
        assert found is not None
        return found

    def set_next_fire(self, plan: PlanRecord, when: datetime | None) -> None:
        self.tx(lambda c: store.set_next_fire(c, plan.id, when, None))

    # --- runs -----------------------------------------------------------------------------

    def open(self, plan: PlanRecord, now: datetime = T0, **options: Any) -> OpenOutcome:
        """Ask for a run of the plan's current version (obeying its overlap policy)."""
        fresh = self.reload(plan)
        return self.tx(
            lambda c: self.state.open_plan_run(
                c, fresh, trigger="manual", created_by="tester", now=now, **options
            )
        )

    def start(self, plan: PlanRecord, now: datetime = T0, **options: Any) -> PlanRunRecord:
        """Open a run that must start now."""
        outcome = self.open(plan, now, **options)
        assert outcome.outcome == "started", outcome
        assert outcome.run is not None
        return outcome.run

    def plan_run(self, run: PlanRunRecord | str) -> PlanRunRecord | None:
        run_id = run if isinstance(run, str) else run.id
        return self.tx(lambda c: store.get_plan_run(c, run_id))

    def status(self, run: PlanRunRecord | str) -> str | None:
        found = self.plan_run(run)
        return None if found is None else found.status

    def jobs(self, run: PlanRunRecord | str) -> dict[str, JobRunRecord]:
        run_id = run if isinstance(run, str) else run.id
        return {jr.job_name: jr for jr in self.tx(lambda c: store.job_runs_of(c, run_id))}

    def job(self, run: PlanRunRecord | str, name: str) -> JobRunRecord:
        return self.jobs(run)[name]

    def statuses(self, run: PlanRunRecord | str) -> dict[str, str]:
        return {name: jr.status for name, jr in self.jobs(run).items()}

    def runs_of(self, plan: PlanRecord, *statuses: str) -> list[PlanRunRecord]:
        wanted = list(statuses) or ["QUEUED", "RUNNING", "COMPLETE", "ERROR", "ENDED"]
        return self.tx(lambda c: store.plan_runs_of_plan(c, plan.id, wanted))

    def stats(self, plan: PlanRecord) -> PlanStatsRecord | None:
        return self.tx(lambda c: store.get_stats(c, self.tenant_id, plan.id))

    # --- the runner's side ----------------------------------------------------------------

    def claim(self, now: datetime, node: str = "n1", limit: int = 100) -> list[Ticket]:
        """The tickets a claim at ``now`` hands out (time gates and event raisers complete
        inside the claim and hand out nothing)."""
        result = self.tx(lambda c: self.state.claim(c, node_id=node, now=now, limit=limit))
        tickets: list[Ticket] = getattr(result, "tickets", result)
        return list(tickets)

    def claim_names(self, now: datetime, node: str = "n1") -> list[str]:
        return sorted(t.job_run.job_name for t in self.claim(now, node))

    def finish(
        self,
        job_run: JobRunRecord | Ticket | str,
        now: datetime,
        *,
        ok: bool = True,
        reason: str | None = None,
        node: str = "n1",
    ) -> bool:
        if isinstance(job_run, Ticket):
            job_run = job_run.job_run
        job_run_id = job_run if isinstance(job_run, str) else job_run.id
        result = ExecutionResult(succeeded=ok, reason=reason if reason or ok else "exit code 1")
        return self.tx(lambda c: self.state.finish(c, job_run_id, node, result, now))

    def step(self, now: datetime, *, ok: bool = True, node: str = "n1") -> list[str]:
        """Claim what is due at ``now`` and finish every ticket at ``now``; returns their
        job names."""
        tickets = self.claim(now, node)
        for ticket in tickets:
            assert self.finish(ticket, now, ok=ok, node=node)
        return sorted(t.job_run.job_name for t in tickets)

    def run_job(
        self, run: PlanRunRecord, name: str, now: datetime, *, ok: bool = True
    ) -> JobRunRecord:
        """Claim at ``now`` and finish only job ``name`` of ``run`` (it must be due)."""
        tickets = {t.job_run.job_name: t for t in self.claim(now) if t.plan_run.id == run.id}
        assert name in tickets, f"{name} not claimable at {now}; got {sorted(tickets)}"
        assert self.finish(tickets[name], now, ok=ok)
        return self.job(run, name)

    def output(self, job_run: JobRunRecord, text: str) -> None:
        """Store captured output for the job run's current attempt (as the engine does)."""
        self.tx(lambda c: store.append_output(c, job_run.id, max(job_run.attempt, 1), 0, [text]))

    def read_output(self, job_run: JobRunRecord) -> str:
        chunks = self.tx(lambda c: store.read_output(c, job_run.id, max(job_run.attempt, 1)))
        return "".join(chunk for _, chunk in chunks)

    # --- operators ------------------------------------------------------------------------

    def act(
        self, run: PlanRunRecord | str, name: str, action: str, now: datetime, by: str = "ops"
    ) -> JobRunRecord:
        """Apply an operator action to job ``name``; returns the job run afterwards."""
        run_id = run if isinstance(run, str) else run.id

        def work(conn: Connection) -> JobRunRecord | None:
            jr = next(j for j in store.job_runs_of(conn, run_id) if j.job_name == name)
            self.state.job_action(conn, jr, action, by, now)
            return store.get_job_run(conn, jr.id)

        after = self.tx(work)
        assert after is not None
        return after

    def stop(self, run: PlanRunRecord | str, now: datetime, by: str = "ops") -> None:
        run_id = run if isinstance(run, str) else run.id

        def work(conn: Connection) -> None:
            fresh = store.get_plan_run(conn, run_id)
            assert fresh is not None
            self.state.stop_plan_run(conn, fresh, by, now)

        self.tx(work)

    def expire(self, now: datetime) -> int:
        return self.tx(lambda c: self.state.expire_deadlines(c, now))

    def raise_event(self, name: str, now: datetime, by: str = "ops") -> int:
        return self.tx(lambda c: self.state.raise_event(c, self.tenant_id, name, by, now))

    def tick(self, now: datetime) -> list[OpenOutcome]:
        return self.tx(lambda c: self.scheduler.tick(c, now))
