"""Overviews for operators: a page of plans with their recent runs, a plan's run grid, the
fire times a window will produce. Read-only, tenant-scoped, bounded by their arguments."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from jobplan.engine.blackouts import in_blackout
from jobplan.engine.calendars import window_schedule
from jobplan.engine.state import actions_allowed
from jobplan.errors import InvalidInput
from jobplan.model import CalendarDays, PlanDocument, Window
from jobplan.service.caller import Caller, Permission
from jobplan.service.folders import normalise_folder
from jobplan.service.pagination import Page, check_page
from jobplan.service.plans import PlanService, load_document
from jobplan.store import Database, overview
from jobplan.store import calendars as calendar_store
from jobplan.store import plans as plan_store
from jobplan.store import runs as run_store
from jobplan.store.overview import VersionSummary
from jobplan.store.records import JobRunRecord, PlanRecord, PlanRunRecord, PlanStatsRecord

__all__ = [
    "MAX_FIRES_PER_PLAN",
    "MAX_GRID_RUNS",
    "MAX_LISTED_VERSIONS",
    "MAX_UPCOMING",
    "Fire",
    "JobRunRecord",
    "OverviewService",
    "PlanFires",
    "PlanOverview",
    "RecentRun",
    "RunGrid",
    "VersionSummary",
    "job_actions",
    "job_names_of",
    "upcoming_fires",
]

#: At most this many versions in a plan's version list.
MAX_LISTED_VERSIONS = 50
#: At most this many runs (columns) in a run grid.
MAX_GRID_RUNS = 100
#: At most this many fire times in one preview.
MAX_UPCOMING = 500
#: At most this many fires of one plan in the upcoming view (a per-second cron has 86,400 a day).
MAX_FIRES_PER_PLAN = 200
_RECENT_RUNS = 10


@dataclass(frozen=True, slots=True)
class RecentRun:
    id: str
    status: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PlanOverview:
    """A plan as the plans page shows it."""

    plan: PlanRecord
    recent: list[RecentRun]
    """The newest runs, newest first."""
    stats: PlanStatsRecord | None

    @property
    def success_percent(self) -> float | None:
        if self.stats is None or not self.stats.total:
            return None
        return round(100.0 * self.stats.succeeded / self.stats.total, 1)


@dataclass(frozen=True, slots=True)
class RunGrid:
    """A plan's last runs (oldest first) against its jobs: Airflow's grid view."""

    plan: PlanRecord
    job_names: list[str]
    runs: list[PlanRunRecord]
    cells: dict[tuple[str, str], JobRunRecord]
    """``(run id, job name)`` -> job run."""


@dataclass(frozen=True, slots=True)
class Fire:
    """One fire time of a window."""

    at: datetime
    """In the window's zone."""
    blackout: bool
    """In a blackout window: the scheduler will not open a run."""
    offset_changed: bool
    """The zone's UTC offset differs from the previous fire's (a DST change lies between)."""


@dataclass(frozen=True, slots=True)
class PlanFires:
    """A plan's fires over a horizon, for the upcoming view."""

    plan: PlanRecord
    window: Window
    fires: list[Fire]
    truncated: bool
    """More fires fall in the horizon than :data:`MAX_FIRES_PER_PLAN`."""
    blackouts: list[tuple[datetime, datetime]]
    """Date-range blackouts that overlap the horizon, clipped to it."""


def job_names_of(document: PlanDocument) -> list[str]:
    """Every job of a plan, stages' jobs included, in document order."""
    names: list[str] = [job.name for job in document.jobs]
    pending = list(document.stages)
    while pending:
        stage = pending.pop(0)
        names += [job.name for job in stage.jobs]
        pending = list(stage.stages) + pending
    return names


def job_actions(caller: Caller, job_run: JobRunRecord, run_ended: bool) -> tuple[str, ...]:
    """The operator actions ``caller`` may take on ``job_run`` now (none without
    ``runs:write``); the service checks again when one is taken."""
    if not caller.can(Permission.RUNS_WRITE):
        return ()
    return actions_allowed(job_run.status, run_ended)


def upcoming_fires(
    window: Window,
    after: datetime,
    count: int,
    before: datetime | None = None,
    *,
    calendars: Mapping[str, CalendarDays],
) -> list[Fire]:
    """The next ``count`` fire times of ``window`` after ``after`` (and before ``before``),
    its calendars (days by name, ``calendars``) applied and blackouts marked."""
    if not 1 <= count <= MAX_UPCOMING:
        raise InvalidInput(f"must be between 1 and {MAX_UPCOMING}", field="count")
    cron = window_schedule(window, calendars)
    zone = ZoneInfo(window.timezone)
    fires: list[Fire] = []
    previous_offset = after.astimezone(zone).utcoffset()
    moment = after
    for _ in range(count):
        fire = cron.next_after(moment)
        if fire is None or (before is not None and fire >= before):
            break
        local = fire.astimezone(zone)
        offset = local.utcoffset()
        fires.append(
            Fire(
                at=local,
                blackout=in_blackout(window.blackouts, fire, window.timezone),
                offset_changed=offset != previous_offset,
            )
        )
        previous_offset = offset
        moment = fire
    return fires


class OverviewService:
    def __init__(self, database: Database, plans: PlanService) -> None:
        self._db = database
        self._plans = plans

    def plans_page(
        self,
        caller: Caller,
        *,
        folder: str | None = None,
        name_contains: str | None = None,
        enabled: bool | None = None,
        order: str = "path",
        limit: int = 50,
        offset: int = 0,
    ) -> Page[PlanOverview]:
        """A page of plans (as :meth:`PlanService.list`) with their last runs and figures:
        three bounded queries whatever the number of plans or runs."""
        page = self._plans.list(
            caller,
            folder=folder,
            recursive=True,
            name_contains=name_contains,
            enabled=enabled,
            limit=limit,
            offset=offset,
            order=order,
        )
        ids = [plan.id for plan in page.items]
        with self._db.read() as conn:
            if caller.can(Permission.RUNS_READ):
                recent = overview.recent_run_statuses(conn, caller.tenant_id, ids, _RECENT_RUNS)
                stats = overview.stats_of_plans(conn, caller.tenant_id, ids)
            else:
                recent, stats = {}, {}
        items = [
            PlanOverview(
                plan,
                [RecentRun(*run) for run in recent.get(plan.id, [])],
                stats.get(plan.id),
            )
            for plan in page.items
        ]
        return Page(items, page.total, page.limit, page.offset)

    def run_grid(self, caller: Caller, plan_ref: str, runs: int = 25) -> RunGrid:
        """The plan's last ``runs`` runs and their job runs; rows are the jobs of the current
        version, then any job only older runs had."""
        caller.require(Permission.RUNS_READ)
        if not 1 <= runs <= MAX_GRID_RUNS:
            raise InvalidInput(f"must be between 1 and {MAX_GRID_RUNS}", field="runs")
        with self._db.read() as conn:
            plan = self._plans.resolve(conn, caller, plan_ref)
            version = (
                plan_store.get_version(conn, caller.tenant_id, plan.id, plan.current_version_id)
                if plan.current_version_id
                else None
            )
            items, _ = run_store.list_plan_runs(conn, caller.tenant_id, plan_id=plan.id, limit=runs)
            jobs = overview.job_runs_of_runs(conn, caller.tenant_id, [run.id for run in items])
        names = job_names_of(load_document(version)) if version is not None else []
        known = set(names)
        cells: dict[tuple[str, str], JobRunRecord] = {}
        for run_id, job_runs in jobs.items():
            for job_run in job_runs:
                cells[(run_id, job_run.job_name)] = job_run
                if job_run.job_name not in known:
                    known.add(job_run.job_name)
                    names.append(job_run.job_name)
        return RunGrid(plan, names, items[::-1], cells)

    def versions(
        self, caller: Caller, plan_ref: str, limit: int = MAX_LISTED_VERSIONS
    ) -> tuple[list[VersionSummary], int]:
        """The plan's newest ``limit`` versions without their documents, and how many it
        has: a page's cost does not grow with a plan's history."""
        caller.require(Permission.PLANS_READ)
        with self._db.read() as conn:
            plan = self._plans.resolve(conn, caller, plan_ref)
            return overview.version_history(conn, caller.tenant_id, plan.id, limit)

    def upcoming(
        self,
        caller: Caller,
        *,
        hours: int = 24,
        folder: str | None = None,
        name_contains: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[PlanFires]:
        """Enabled plans that fire within ``hours``, soonest first, with their fires in that
        horizon (at most :data:`MAX_FIRES_PER_PLAN` each) and the blackouts over it."""
        caller.require(Permission.PLANS_READ)
        if not 1 <= hours <= 24 * 31:
            raise InvalidInput(f"must be between 1 and {24 * 31}", field="hours")
        check_page(limit, offset)
        now = datetime.now(UTC)
        end = now + timedelta(hours=hours)
        with self._db.read() as conn:
            found, total = overview.plans_firing_before(
                conn,
                caller.tenant_id,
                end,
                folder=normalise_folder(folder, "folder") if folder else None,
                name_contains=name_contains,
                limit=limit,
                offset=offset,
            )
            wanted = [plan.current_version_id for plan in found if plan.current_version_id]
            versions = {
                version.id: version
                for version in plan_store.get_versions_by_ids(conn, caller.tenant_id, wanted)
            }
            windows = {
                plan.id: load_document(record).window
                for plan in found
                if (record := versions.get(plan.current_version_id or "")) is not None
            }
            names = {name for w in windows.values() if w is not None for name in w.calendars}
            days = calendar_store.days_by_name(conn, caller.tenant_id, names)
        items: list[PlanFires] = []
        for plan in found:
            window = windows.get(plan.id)
            if window is None:
                continue
            fires = upcoming_fires(window, now, MAX_FIRES_PER_PLAN + 1, end, calendars=days)
            ranges = [
                (max(b.start, now), min(b.end, end))
                for b in window.blackouts
                if b.start is not None and b.end is not None and b.start < end and b.end > now
            ]
            items.append(
                PlanFires(
                    plan,
                    window,
                    fires[:MAX_FIRES_PER_PLAN],
                    len(fires) > MAX_FIRES_PER_PLAN,
                    ranges,
                )
            )
        return Page(items, total, limit, offset)
