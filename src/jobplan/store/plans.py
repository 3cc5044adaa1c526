"""Folders, plans and their immutable versions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Insert, Select, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from jobplan.model import plan_path
from jobplan.store._util import as_values, mapped, new_id, unique_violation_as, utcnow
from jobplan.store.records import FolderRecord, PlanRecord, PlanVersionRecord, PlanVersionRef
from jobplan.store.tables import folders, plan_versions, plans

__all__ = [
    "count_folders_below",
    "count_plans_under",
    "delete_folder",
    "delete_plan",
    "ensure_folders",
    "get_folder",
    "get_folder_by_path",
    "get_plan",
    "get_plan_by_name",
    "get_version",
    "get_version_by_id",
    "get_version_refs_by_ids",
    "get_versions_by_ids",
    "in_folder_tree",
    "insert_folder",
    "insert_plan",
    "insert_version",
    "latest_version",
    "list_folders",
    "list_plans",
    "list_version_refs",
    "list_versions",
    "set_disabled_jobs",
    "set_plan_enabled",
]

_VERSION_COLUMNS = [c for c in plan_versions.c if c.name not in ("major", "minor", "patch")]
_REF_COLUMNS = [plan_versions.c.id, plan_versions.c.plan_id, plan_versions.c.version]


def insert_folder(conn: Connection, tenant_id: str, path: str, description: str) -> FolderRecord:
    record = FolderRecord(new_id(), tenant_id, path, description, utcnow())
    with unique_violation_as("folder", path):
        conn.execute(folders.insert().values(**as_values(record)))
    return record


def get_folder(conn: Connection, tenant_id: str, folder_id: str) -> FolderRecord | None:
    row = conn.execute(
        select(folders).where(folders.c.tenant_id == tenant_id, folders.c.id == folder_id)
    ).first()
    return mapped(FolderRecord, row)


def get_folder_by_path(conn: Connection, tenant_id: str, path: str) -> FolderRecord | None:
    row = conn.execute(
        select(folders).where(folders.c.tenant_id == tenant_id, folders.c.path == path)
    ).first()
    return mapped(FolderRecord, row)


def list_folders(
    conn: Connection, tenant_id: str, limit: int, offset: int
) -> tuple[list[FolderRecord], int]:
    condition = folders.c.tenant_id == tenant_id
    rows = conn.execute(
        select(folders).where(condition).order_by(folders.c.path).limit(limit).offset(offset)
    )
    total = conn.execute(select(func.count()).select_from(folders).where(condition)).scalar_one()
    return [FolderRecord(**r._mapping) for r in rows], total


def delete_folder(conn: Connection, tenant_id: str, folder_id: str) -> None:
    conn.execute(delete(folders).where(folders.c.tenant_id == tenant_id, folders.c.id == folder_id))


def count_plans_under(conn: Connection, tenant_id: str, path: str) -> int:
    """Plans in folder ``path`` or any folder below it."""
    condition = (plans.c.tenant_id == tenant_id) & (
        (plans.c.folder == path) | _below(plans.c.folder, path)
    )
    return int(conn.execute(select(func.count()).select_from(plans).where(condition)).scalar_one())


def ensure_folders(conn: Connection, tenant_id: str, path: str) -> None:
    """Create folder ``path`` and every missing parent (``a``, ``a/b``, ... ``a/b/c``)."""
    segments = path.split("/") if path else []
    for depth in range(1, len(segments) + 1):
        prefix = "/".join(segments[:depth])
        if get_folder_by_path(conn, tenant_id, prefix) is None:
            # another transaction may be creating the same folder right now: whoever commits
            # second waits for the first and then inserts nothing (no unique violation)
            values = as_values(FolderRecord(new_id(), tenant_id, prefix, "", utcnow()))
            conn.execute(_insert_ignoring_duplicates(conn).values(**values))


def _insert_ignoring_duplicates(conn: Connection) -> Insert:
    """``INSERT INTO folders … ON CONFLICT (tenant_id, path) DO NOTHING`` in either dialect."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(folders).on_conflict_do_nothing(
            index_elements=[folders.c.tenant_id, folders.c.path]
        )
    return sqlite.insert(folders).on_conflict_do_nothing(
        index_elements=[folders.c.tenant_id, folders.c.path]
    )


def count_folders_below(conn: Connection, tenant_id: str, path: str) -> int:
    condition = (folders.c.tenant_id == tenant_id) & _below(folders.c.path, path)
    return int(
        conn.execute(select(func.count()).select_from(folders).where(condition)).scalar_one()
    )


def insert_plan(
    conn: Connection, tenant_id: str, folder: str, name: str, enabled: bool
) -> PlanRecord:
    now = utcnow()
    record = PlanRecord(new_id(), tenant_id, folder, name, enabled, None, None, now, now)
    with unique_violation_as("plan", plan_path(folder, name)):
        conn.execute(plans.insert().values(**as_values(record)))
    return record


def _maybe_locked(conn: Connection, query: Select[Any], lock: bool) -> Select[Any]:
    return query.with_for_update() if lock and conn.dialect.name == "postgresql" else query


def get_plan(
    conn: Connection, tenant_id: str, plan_id: str, *, lock: bool = False
) -> PlanRecord | None:
    query = select(plans).where(plans.c.tenant_id == tenant_id, plans.c.id == plan_id)
    return mapped(PlanRecord, conn.execute(_maybe_locked(conn, query, lock)).first())


def get_plan_by_name(
    conn: Connection, tenant_id: str, folder: str, name: str, *, lock: bool = False
) -> PlanRecord | None:
    query = select(plans).where(
        plans.c.tenant_id == tenant_id, plans.c.folder == folder, plans.c.name == name
    )
    return mapped(PlanRecord, conn.execute(_maybe_locked(conn, query, lock)).first())


def in_folder_tree(column: Any, path: str) -> Any:
    """``column`` is folder ``path`` or a folder below it."""
    return (column == path) | _below(column, path)


def _below(column: Any, path: str) -> Any:
    """``column`` is a path strictly below folder ``path``, case-sensitively on every
    database (SQLite's LIKE ignores case)."""
    prefix = path + "/"
    return func.substr(column, 1, len(prefix)) == prefix


def list_plans(
    conn: Connection,
    tenant_id: str,
    *,
    folder: str | None = None,
    recursive: bool = False,
    name_contains: str | None = None,
    exact_name: str | None = None,
    enabled: bool | None = None,
    limit: int = 50,
    offset: int = 0,
    order: str = "path",
) -> tuple[list[PlanRecord], int]:
    """A page of a tenant's plans, by path (``order="path"``) or soonest next fire first
    (``"next_fire"``; plans that never fire last), and how many match."""
    condition = plans.c.tenant_id == tenant_id
    if folder is not None:
        in_folder = plans.c.folder == folder
        if recursive:
            below = _below(plans.c.folder, folder) if folder else True
            in_folder = in_folder | below
        condition = condition & in_folder
    if name_contains:
        # case-insensitive on both databases
        condition = condition & plans.c.name.icontains(name_contains, autoescape=True)
    if exact_name is not None:
        condition = condition & (plans.c.name == exact_name)
    if enabled is not None:
        condition = condition & (plans.c.enabled == enabled)
    ordering: list[Any] = [plans.c.folder, plans.c.name]
    if order == "next_fire":
        ordering = [plans.c.next_fire_time.is_(None), plans.c.next_fire_time, *ordering]
    rows = conn.execute(
        select(plans).where(condition).order_by(*ordering).limit(limit).offset(offset)
    )
    total = conn.execute(select(func.count()).select_from(plans).where(condition)).scalar_one()
    return [PlanRecord(**r._mapping) for r in rows], total


def set_plan_enabled(conn: Connection, plan_id: str, enabled: bool) -> None:
    conn.execute(
        update(plans).where(plans.c.id == plan_id).values(enabled=enabled, updated_at=utcnow())
    )


def set_disabled_jobs(conn: Connection, plan_id: str, names: list[str]) -> None:
    conn.execute(update(plans).where(plans.c.id == plan_id).values(disabled_jobs=names or None))


def delete_plan(conn: Connection, plan_id: str) -> None:
    conn.execute(delete(plan_versions).where(plan_versions.c.plan_id == plan_id))
    conn.execute(delete(plans).where(plans.c.id == plan_id))


def insert_version(
    conn: Connection,
    plan: PlanRecord,
    version: str,
    semver: tuple[int, int, int],
    format_version: int,
    document: dict[str, Any],
    comment: str,
    created_by: str,
) -> PlanVersionRecord:
    """Store a new immutable version and make it the plan's current one."""
    record = PlanVersionRecord(
        new_id(),
        plan.id,
        plan.tenant_id,
        version,
        format_version,
        document,
        comment,
        created_by,
        utcnow(),
    )
    major, minor, patch = semver
    with unique_violation_as("plan version", version):
        conn.execute(
            plan_versions.insert().values(
                **as_values(record), major=major, minor=minor, patch=patch
            )
        )
    conn.execute(
        update(plans)
        .where(plans.c.id == plan.id)
        .values(current_version_id=record.id, current_version=version, updated_at=record.created_at)
    )
    return record


def latest_version(conn: Connection, tenant_id: str, plan_id: str) -> str:
    """The plan's highest semantic version."""
    return str(
        conn.execute(
            select(plan_versions.c.version)
            .where(plan_versions.c.tenant_id == tenant_id, plan_versions.c.plan_id == plan_id)
            .order_by(
                plan_versions.c.major.desc(),
                plan_versions.c.minor.desc(),
                plan_versions.c.patch.desc(),
            )
            .limit(1)
        ).scalar_one()
    )


def list_versions(conn: Connection, tenant_id: str, plan_id: str) -> list[PlanVersionRecord]:
    """Every version of a plan, highest semantic version first."""
    rows = conn.execute(
        select(*_VERSION_COLUMNS)
        .where(plan_versions.c.tenant_id == tenant_id, plan_versions.c.plan_id == plan_id)
        .order_by(
            plan_versions.c.major.desc(), plan_versions.c.minor.desc(), plan_versions.c.patch.desc()
        )
    )
    return [PlanVersionRecord(**r._mapping) for r in rows]


def list_version_refs(conn: Connection, tenant_id: str, plan_id: str) -> list[PlanVersionRef]:
    """Every version of a plan without its document, highest semantic version first."""
    rows = conn.execute(
        select(*_REF_COLUMNS)
        .where(plan_versions.c.tenant_id == tenant_id, plan_versions.c.plan_id == plan_id)
        .order_by(
            plan_versions.c.major.desc(), plan_versions.c.minor.desc(), plan_versions.c.patch.desc()
        )
    )
    return [PlanVersionRef(**r._mapping) for r in rows]


def get_version(
    conn: Connection, tenant_id: str, plan_id: str, version_or_id: str
) -> PlanVersionRecord | None:
    """A version of a plan by its semantic version or its id."""
    row = conn.execute(
        select(*_VERSION_COLUMNS).where(
            plan_versions.c.tenant_id == tenant_id,
            plan_versions.c.plan_id == plan_id,
            (plan_versions.c.version == version_or_id) | (plan_versions.c.id == version_or_id),
        )
    ).first()
    return mapped(PlanVersionRecord, row)


def get_version_refs_by_ids(
    conn: Connection, tenant_id: str, version_ids: list[str]
) -> list[PlanVersionRef]:
    """The tenant's versions among ``version_ids``, without their documents (unknown ids are
    left out)."""
    found: list[PlanVersionRef] = []
    for start in range(0, len(version_ids), 500):
        rows = conn.execute(
            select(*_REF_COLUMNS).where(
                plan_versions.c.tenant_id == tenant_id,
                plan_versions.c.id.in_(version_ids[start : start + 500]),
            )
        )
        found.extend(PlanVersionRef(**r._mapping) for r in rows)
    return found


def get_version_by_id(conn: Connection, version_id: str) -> PlanVersionRecord | None:
    """A version by its id, whatever its tenant (the engine's view: runs name their version)."""
    row = conn.execute(select(*_VERSION_COLUMNS).where(plan_versions.c.id == version_id)).first()
    return mapped(PlanVersionRecord, row)


def get_versions_by_ids(
    conn: Connection, tenant_id: str, version_ids: list[str]
) -> list[PlanVersionRecord]:
    """The tenant's versions among ``version_ids`` (unknown ids are left out)."""
    found: list[PlanVersionRecord] = []
    for start in range(0, len(version_ids), 500):
        rows = conn.execute(
            select(*_VERSION_COLUMNS).where(
                plan_versions.c.tenant_id == tenant_id,
                plan_versions.c.id.in_(version_ids[start : start + 500]),
            )
        )
        found.extend(PlanVersionRecord(**r._mapping) for r in rows)
    return found
