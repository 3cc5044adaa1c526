"""Read models for overview pages: a few rows about many plans or runs in one round trip.

Each query is bounded by its arguments (a page of plans, a handful of runs) and walks an
index, so an overview costs the same with a thousand runs per plan as with a million.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Executable, bindparam, func, select, union_all

from jobplan.store._util import mapped
from jobplan.store.plans import in_folder_tree
from jobplan.store.records import JobRunRecord, PlanRecord, PlanStatsRecord
from jobplan.store.tables import job_runs, plan_runs, plan_stats, plan_versions, plans

__all__ = [
    "VersionSummary",
    "job_runs_of_runs",
    "plans_firing_before",
    "recent_run_statuses",
    "stats_of_plans",
    "version_history",
]


def recent_run_statuses(
    conn: Connection, tenant_id: str, plan_ids: Sequence[str], per_plan: int
) -> dict[str, list[tuple[str, str, datetime]]]:
    """The newest ``per_plan`` runs of each plan as ``(run id, status, created_at)``, newest
    first. One statement: a ``LIMIT`` per plan over the (tenant, plan, created_at) index."""
    result: dict[str, list[tuple[str, str, datetime]]] = {plan_id: [] for plan_id in plan_ids}
    if not plan_ids or per_plan <= 0:
        return result
    wanted = list(result)
    parameters: dict[str, Any] = {"tenant_id": tenant_id, "per_plan": per_plan}
    parameters.update((f"plan_{index}", plan_id) for index, plan_id in enumerate(wanted))
    for row in conn.execute(_recent_runs_statement(len(wanted)), parameters):
        result[row.plan_id].append((row.id, row.status, row.created_at))
    for runs in result.values():
        runs.sort(key=lambda run: (run[2], run[0]), reverse=True)
    return result


@lru_cache(maxsize=64)
def _recent_runs_statement(plans_count: int) -> Executable:
    """The statement of :func:`recent_run_statuses` for ``plans_count`` plans, its values
    bound at execution. Built once per count: building the union of 50 selects afresh cost
    more than running it (see the console section of docs/performance.md)."""
    parts = [
        select(plan_runs.c.plan_id, plan_runs.c.id, plan_runs.c.status, plan_runs.c.created_at)
        .where(
            plan_runs.c.tenant_id == bindparam("tenant_id"),
            plan_runs.c.plan_id == bindparam(f"plan_{index}"),
        )
        .order_by(plan_runs.c.created_at.desc(), plan_runs.c.id.desc())
        .limit(bindparam("per_plan"))
        .subquery()
        .select()
        for index in range(plans_count)
    ]
    return parts[0] if len(parts) == 1 else union_all(*parts)


def stats_of_plans(
    conn: Connection, tenant_id: str, plan_ids: Sequence[str]
) -> dict[str, PlanStatsRecord]:
    """The run statistics of each plan that has any."""
    if not plan_ids:
        return {}
    rows = conn.execute(
        select(plan_stats).where(
            plan_stats.c.tenant_id == tenant_id, plan_stats.c.plan_id.in_(list(plan_ids))
        )
    )
    records = (mapped(PlanStatsRecord, row) for row in rows)
    return {record.plan_id: record for record in records if record is not None}


def job_runs_of_runs(
    conn: Connection, tenant_id: str, run_ids: Sequence[str]
) -> dict[str, list[JobRunRecord]]:
    """The job runs of several plan runs, by run id."""
    result: dict[str, list[JobRunRecord]] = {run_id: [] for run_id in run_ids}
    if not run_ids:
        return result
    rows = conn.execute(
        select(job_runs)
        .where(job_runs.c.tenant_id == tenant_id, job_runs.c.plan_run_id.in_(list(run_ids)))
        .order_by(job_runs.c.plan_run_id, job_runs.c.job_name)
    )
    for row in rows:
        record = JobRunRecord(**row._mapping)
        result[record.plan_run_id].append(record)
    return result


def plans_firing_before(
    conn: Connection,
    tenant_id: str,
    before: datetime,
    *,
    folder: str | None = None,
    name_contains: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[PlanRecord], int]:
    """Enabled plans whose window fires next before ``before``, soonest first, and how
    many there are."""
    condition = (
        (plans.c.tenant_id == tenant_id)
        & plans.c.enabled
        & plans.c.next_fire_time.is_not(None)
        & (plans.c.next_fire_time < before)
    )
    if folder:
        condition = condition & in_folder_tree(plans.c.folder, folder)
    if name_contains:
        condition = condition & plans.c.name.icontains(name_contains, autoescape=True)
    rows = conn.execute(
        select(plans)
        .where(condition)
        .order_by(plans.c.next_fire_time, plans.c.folder, plans.c.name)
        .limit(limit)
        .offset(offset)
    )
    total = conn.execute(select(func.count()).select_from(plans).where(condition)).scalar_one()
    return [PlanRecord(**row._mapping) for row in rows], int(total)


@dataclass(frozen=True, slots=True)
class VersionSummary:
    """A stored version as a history lists it: no document."""

    id: str
    version: str
    comment: str
    created_by: str
    created_at: datetime


def version_history(
    conn: Connection, tenant_id: str, plan_id: str, limit: int
) -> tuple[list[VersionSummary], int]:
    """A plan's newest ``limit`` versions (highest first) without their documents, and how
    many it has."""
    condition = (plan_versions.c.tenant_id == tenant_id) & (plan_versions.c.plan_id == plan_id)
    rows = conn.execute(
        select(
            plan_versions.c.id,
            plan_versions.c.version,
            plan_versions.c.comment,
            plan_versions.c.created_by,
            plan_versions.c.created_at,
        )
        .where(condition)
        .order_by(
            plan_versions.c.major.desc(), plan_versions.c.minor.desc(), plan_versions.c.patch.desc()
        )
        .limit(limit)
    )
    total = conn.execute(select(func.count()).select_from(plan_versions).where(condition))
    return [VersionSummary(**row._mapping) for row in rows], int(total.scalar_one())
