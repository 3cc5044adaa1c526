"""Transfer jobs: asynchronous bundle exports and imports, claimed by whichever node is free.

A job's ``request`` column holds what it was asked to do as a JSON document
(:class:`ExportRequest` or :class:`ImportRequest`) carrying ``format_version``. Rows written
before the version was recorded have none and are read as version 1. A field added later
with a default keeps the version (older servers ignore it); a change an older server must
not ignore raises :data:`REQUEST_FORMAT_VERSION`, and a server refuses a request stored in a
version it does not know (:func:`load_request`: the job fails saying so).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Connection, and_, delete, func, select, update

from jobplan.errors import Conflict, StoreError
from jobplan.model import Role
from jobplan.store._util import mapped, utcnow
from jobplan.store.records import TransferJobRecord
from jobplan.store.tables import tenants, transfer_jobs

__all__ = [
    "ACTIVE",
    "FINISHED",
    "REQUEST_FORMAT_VERSION",
    "CallerSnapshot",
    "ExportRequest",
    "ExportRequestOptions",
    "ImportRequest",
    "ImportRequestOptions",
    "claim_next",
    "count_active",
    "expired_files",
    "finish",
    "get",
    "has_queued",
    "in_progress",
    "insert",
    "is_cancelled",
    "list_jobs",
    "load_request",
    "lock_tenant",
    "mark_cancelled",
    "overdue",
    "purge_expired",
    "redact_tokens",
    "set_deadline",
    "set_progress",
]

#: Statuses of jobs that still hold a slot of their tenant's concurrency limit.
ACTIVE = ("created", "in_progress")
#: Statuses no job leaves.
FINISHED = ("completed", "failed", "cancelled", "closed_by_timeout")

_t = transfer_jobs.c

REQUEST_FORMAT_VERSION = 1
"""The format of the request documents this server writes and reads."""


class _Document(BaseModel):
    # fields unknown to this server were added by a newer one without changing the format
    model_config = ConfigDict(extra="ignore", frozen=True)


class CallerSnapshot(_Document):
    """Who created a job, as they were then: the job runs with their rights."""

    user_id: str
    username: str
    tenant_name: str
    role: Role
    is_system_admin: bool = False
    scopes: list[str] | None = None
    api_key_id: str | None = None


class ExportRequestOptions(_Document):
    """An export's options as asked (shown back to callers as the job's ``options``)."""

    folders: list[str] = Field(default_factory=list)
    plans: list[str] = Field(default_factory=list)
    plan_ids: list[str] = Field(default_factory=list)
    version_ids: list[str] = Field(default_factory=list)
    version_filter: Literal["all", "latest"] = "all"
    file_filter: Literal["migrate", "runtime"] = "migrate"
    with_tokens: bool = False
    context_name: Literal["keep", "token", "env_suffix"] = "keep"
    include_history: bool = False
    source_system: str | None = None
    correlation_id: str | None = None
    file_name: str | None = None


class ExportRequest(_Document):
    """A queued export: its options and the plan versions they selected when it was created."""

    format_version: int = REQUEST_FORMAT_VERSION
    caller: CallerSnapshot
    options: ExportRequestOptions
    version_ids: list[str]
    timeout_seconds: float = 0.0


class ImportRequestOptions(_Document):
    """An import's options as asked (shown back to callers as the job's ``options``)."""

    tokens: dict[str, str] | list[str] = Field(default_factory=dict)
    """Token values; only their names once the job ended (:func:`redact_tokens`)."""
    on_conflict: Literal["abort", "replace", "add_version"] = "abort"
    dry_run: bool = False
    folder: str = ""
    file_name: str | None = None
    size: int | None = None


class ImportRequest(_Document):
    """A queued import of the bundle uploaded with it."""

    format_version: int = REQUEST_FORMAT_VERSION
    caller: CallerSnapshot
    options: ImportRequestOptions
    timeout_seconds: float = 0.0


def load_request(kind: str, request: dict[str, Any]) -> ExportRequest | ImportRequest:
    """A stored request, validated: :class:`~jobplan.errors.Conflict` when it was stored in a
    format this server does not read, :class:`~jobplan.errors.StoreError` when it is not a
    valid document of its format."""
    version = request.get("format_version", 1) if isinstance(request, dict) else None
    if version != REQUEST_FORMAT_VERSION:
        raise Conflict(
            f"the {kind} request was stored in format {repr(version)[:40]}; this server reads "
            f"format {REQUEST_FORMAT_VERSION} (was it written by a newer server?)"
        )
    shape: type[ExportRequest | ImportRequest] = (
        ExportRequest if kind == "export" else ImportRequest
    )
    try:
        return shape.model_validate(request)
    except ValidationError as exc:  # stored data, not the caller's input
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()[:3]
        )
        raise StoreError(f"the stored {kind} request cannot be read: {problems}") from exc


def lock_tenant(conn: Connection, tenant_id: str) -> None:
    """Serialise concurrent job creations of one tenant (PostgreSQL row lock; SQLite's write
    transactions are serial already), so the concurrency limit cannot be raced past."""
    query = select(tenants.c.id).where(tenants.c.id == tenant_id)
    if conn.dialect.name != "sqlite":
        # FOR NO KEY UPDATE: does not wait for the key-share locks that inserts referring
        # to the tenant (a running import's plans) hold
        query = query.with_for_update(key_share=True)
    conn.execute(query)


def count_active(conn: Connection, tenant_id: str, kind: str) -> int:
    query = select(func.count()).where(
        _t.tenant_id == tenant_id, _t.kind == kind, _t.status.in_(ACTIVE)
    )
    return int(conn.execute(query).scalar_one())


def insert(conn: Connection, record: TransferJobRecord) -> None:
    conn.execute(
        transfer_jobs.insert().values(
            {name: getattr(record, name) for name in TransferJobRecord.__slots__}
        )
    )


def get(conn: Connection, tenant_id: str, kind: str, job_id: str) -> TransferJobRecord | None:
    row = conn.execute(
        select(transfer_jobs).where(_t.id == job_id, _t.tenant_id == tenant_id, _t.kind == kind)
    ).first()
    return mapped(TransferJobRecord, row)


def list_jobs(
    conn: Connection,
    tenant_id: str,
    kind: str,
    *,
    created_by: str | None,
    statuses: tuple[str, ...] | None,
    since: datetime | None,
    limit: int,
    offset: int,
) -> tuple[list[TransferJobRecord], int]:
    """A tenant's jobs of one kind, newest first; only ``created_by``'s when given."""
    conditions = [_t.tenant_id == tenant_id, _t.kind == kind]
    if created_by is not None:
        conditions.append(_t.created_by == created_by)
    if statuses is not None:
        conditions.append(_t.status.in_(statuses))
    if since is not None:
        conditions.append(_t.created_at >= since)
    where = and_(*conditions)
    total = int(conn.execute(select(func.count()).where(where)).scalar_one())
    rows = conn.execute(
        select(transfer_jobs)
        .where(where)
        .order_by(_t.created_at.desc(), _t.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return [TransferJobRecord(**row._mapping) for row in rows], total


def has_queued(conn: Connection) -> bool:
    """Whether any job waits for a worker (a read: no lock is taken)."""
    return conn.execute(select(_t.id).where(_t.status == "created").limit(1)).first() is not None


def claim_next(conn: Connection, node_id: str) -> TransferJobRecord | None:
    """Take the oldest ``created`` job for this node (``in_progress``), or ``None``."""
    while True:
        job_id = conn.execute(
            select(_t.id).where(_t.status == "created").order_by(_t.created_at).limit(1)
        ).scalar()
        if job_id is None:
            return None
        claimed = conn.execute(
            update(transfer_jobs)
            .where(_t.id == job_id, _t.status == "created")
            .values(status="in_progress", node_id=node_id, started_at=utcnow(), progress=0)
        )
        if claimed.rowcount == 1:
            row = conn.execute(select(transfer_jobs).where(_t.id == job_id)).first()
            return mapped(TransferJobRecord, row)
        # another node took it between our read and our update: look again


def set_progress(conn: Connection, job_id: str, progress: int) -> None:
    conn.execute(
        update(transfer_jobs)
        .where(_t.id == job_id, _t.status == "in_progress")
        .values(progress=progress)
    )


def set_deadline(conn: Connection, job_id: str, deadline: datetime) -> None:
    conn.execute(update(transfer_jobs).where(_t.id == job_id).values(deadline_at=deadline))


def redact_tokens(conn: Connection, job_id: str) -> None:
    """Keep only the names of a finished job's token values (they may be secrets)."""
    request: dict[str, Any] = conn.execute(select(_t.request).where(_t.id == job_id)).scalar() or {}
    options = request.get("options", {})
    if isinstance(options.get("tokens"), dict):
        redacted = {**request, "options": {**options, "tokens": sorted(options["tokens"])}}
        conn.execute(update(transfer_jobs).where(_t.id == job_id).values(request=redacted))


def is_cancelled(conn: Connection, job_id: str) -> bool:
    status = conn.execute(select(_t.status).where(_t.id == job_id)).scalar()
    return status != "in_progress"


def finish(
    conn: Connection,
    job_id: str,
    status: str,
    *,
    expires_at: datetime,
    reason: str | None = None,
    result: dict[str, Any] | None = None,
    file: tuple[str, int, str] | None = None,
) -> bool:
    """End a job that is still running, forgetting its token values (:func:`redact_tokens`);
    ``False`` if it ended otherwise meanwhile (cancelled, timed out). ``file`` is (name, size,
    SHA-256) of what it produced."""
    values: dict[str, Any] = {
        "status": status,
        "finished_at": utcnow(),
        "expires_at": expires_at,
        "reason": reason,
        "result": result,
    }
    if status == "completed":
        values["progress"] = 100
    if file is not None:
        values["file_name"], values["file_size"], values["file_sha256"] = file
    ended = conn.execute(
        update(transfer_jobs).where(_t.id == job_id, _t.status.in_(ACTIVE)).values(values)
    )
    if ended.rowcount != 1:
        return False
    # in the same transaction: no reader ever sees an ended job that still holds the values
    redact_tokens(conn, job_id)
    return True


def mark_cancelled(conn: Connection, job_id: str, expires_at: datetime) -> bool:
    """Cancel a job that has not finished, forgetting its token values; ``False`` if it
    already had."""
    ended = conn.execute(
        update(transfer_jobs)
        .where(_t.id == job_id, _t.status.in_(ACTIVE))
        .values(
            status="cancelled",
            cancel_requested=True,
            finished_at=utcnow(),
            expires_at=expires_at,
            reason="cancelled on request",
        )
    )
    if ended.rowcount != 1:
        return False
    redact_tokens(conn, job_id)
    return True


def overdue(conn: Connection, now: datetime) -> list[TransferJobRecord]:
    """Unfinished jobs past their deadline (their node may have died)."""
    rows = conn.execute(
        select(transfer_jobs).where(_t.status.in_(ACTIVE), _t.deadline_at < now)
    ).all()
    return [TransferJobRecord(**row._mapping) for row in rows]


def in_progress(conn: Connection) -> list[TransferJobRecord]:
    rows = conn.execute(select(transfer_jobs).where(_t.status == "in_progress")).all()
    return [TransferJobRecord(**row._mapping) for row in rows]


def expired_files(conn: Connection, now: datetime) -> list[TransferJobRecord]:
    """Finished jobs whose retention has passed."""
    rows = conn.execute(
        select(transfer_jobs).where(_t.status.in_(FINISHED), _t.expires_at < now)
    ).all()
    return [TransferJobRecord(**row._mapping) for row in rows]


def purge_expired(conn: Connection, job_ids: list[str]) -> None:
    if job_ids:
        conn.execute(delete(transfer_jobs).where(_t.id.in_(job_ids)))
