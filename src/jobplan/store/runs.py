"""Plan runs, job runs, their output, lock holders, events, nodes and per-plan statistics.

Plain queries only; the state machine that decides *which* transition to make lives in
``jobplan.engine.state``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import fields
from datetime import UTC, datetime
from functools import cache
from operator import attrgetter
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    ColumnElement,
    Connection,
    LargeBinary,
    Table,
    and_,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)

from jobplan.model import PlanRunStatus
from jobplan.model._types import AGENT_LABEL_PREFIX
from jobplan.store._util import as_values, mapped, new_id
from jobplan.store.records import (
    JobRunRecord,
    JobRunStateRecord,
    PlanRecord,
    PlanRunRecord,
    PlanStatsRecord,
    RerunRecord,
)
from jobplan.store.tables import (
    agents,
    events,
    job_run_output,
    job_runs,
    lock_holders,
    nodes,
    plan_run_reruns,
    plan_runs,
    plan_stats,
    plans,
)

__all__ = [
    "claim_due_job_runs",
    "count_lock_holders",
    "delete_plan_run",
    "delete_plan_runs",
    "get_job_run",
    "get_plan_run",
    "insert_event",
    "insert_job_runs",
    "insert_plan_run",
    "job_runs_after",
    "list_job_runs",
    "list_plan_runs",
    "new_run_ids",
    "plan_runs_after",
    "read_output",
    "record_plan_ends",
]

_FOR_UPDATE_DIALECTS = {"postgresql"}


def _locking(conn: Connection, query: Any, *, skip_locked: bool = False) -> Any:
    """``FOR UPDATE [SKIP LOCKED]`` on PostgreSQL; SQLite has one writer, so no row locks."""
    if conn.dialect.name in _FOR_UPDATE_DIALECTS:
        return query.with_for_update(skip_locked=skip_locked)
    return query


# --- nodes -----------------------------------------------------------------------------------


def register_node(
    conn: Connection,
    node_id: str,
    name: str,
    now: datetime,
    *,
    host: str | None = None,
    pid: int | None = None,
    version: str | None = None,
    loops: Sequence[str] = (),
) -> None:
    conn.execute(
        insert(nodes).values(
            id=node_id,
            name=name,
            started_at=now,
            heartbeat_at=now,
            host=host,
            pid=pid,
            version=version,
            loops=list(loops),
        )
    )


def heartbeat(conn: Connection, node_id: str, now: datetime, lease_until: datetime) -> None:
    """Record that the node lives and extend the leases of the job runs it owns."""
    conn.execute(update(nodes).where(nodes.c.id == node_id).values(heartbeat_at=now))
    conn.execute(
        update(job_runs)
        .where(job_runs.c.owner_node == node_id, job_runs.c.status == "RUNNING")
        .values(lease_until=lease_until)
    )


def stop_node(conn: Connection, node_id: str, now: datetime) -> None:
    conn.execute(update(nodes).where(nodes.c.id == node_id).values(stopped_at=now))


# --- plan runs -------------------------------------------------------------------------------


def insert_plan_run(conn: Connection, record: PlanRunRecord) -> None:
    conn.execute(insert(plan_runs).values(**as_values(record)))


def insert_plan_runs(conn: Connection, records: Sequence[PlanRunRecord]) -> None:
    _bulk_insert(conn, plan_runs, records)


def new_run_ids(count: int) -> list[str]:
    """``count`` new identifiers for run rows: UUIDv7 (RFC 9562), random but ordered by
    creation time (milliseconds), so a tick's inserts land at the right edge of the primary
    key indexes instead of on random pages, and one ``urandom`` call serves the batch."""
    stamp = f"{time.time_ns() // 1_000_000:012x}"
    prefix = f"{stamp[:8]}-{stamp[8:]}-7"
    noise = os.urandom(10 * count).hex()
    return [
        f"{prefix}{noise[i : i + 3]}-{_VARIANT[noise[i + 3]]}{noise[i + 4 : i + 7]}"
        f"-{noise[i + 7 : i + 19]}"
        for i in range(0, 20 * count, 20)
    ]


# the variant bits (10xx) over a random hex digit
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def count_open_runs_by_plan(
    conn: Connection, plan_ids: Sequence[str], *, overlap: bool = False
) -> dict[str, int]:
    """How many open runs (RUNNING, or ERROR and not ended) each plan has; with ``overlap``
    only those the overlap policy weighs (backfill runs are not: docs/backfill.md)."""
    counts: dict[str, int] = {}
    for start in range(0, len(plan_ids), 500):
        query = select(plan_runs.c.plan_id, func.count()).where(
            plan_runs.c.plan_id.in_(plan_ids[start : start + 500]),
            plan_runs.c.status.in_(("RUNNING", "ERROR")),
            plan_runs.c.ended_at.is_(None),
        )
        if overlap:
            query = query.where(plan_runs.c.trigger != "backfill")
        rows = conn.execute(query.group_by(plan_runs.c.plan_id))
        counts.update({row[0]: int(row[1]) for row in rows})
    return counts


def open_plan_runs_of_plan(
    conn: Connection, plan_id: str, *, overlap: bool = False
) -> list[PlanRunRecord]:
    """A plan's open runs, oldest first; with ``overlap`` only those the overlap policy
    weighs (backfill runs are not: docs/backfill.md)."""
    query = select(plan_runs).where(
        plan_runs.c.plan_id == plan_id,
        plan_runs.c.status.in_(("RUNNING", "ERROR")),
        plan_runs.c.ended_at.is_(None),
    )
    if overlap:
        query = query.where(plan_runs.c.trigger != "backfill")
    rows = conn.execute(query.order_by(plan_runs.c.created_at, plan_runs.c.id))
    return [PlanRunRecord(**r._mapping) for r in rows]


def count_runs_by_plan(conn: Connection, plan_ids: Sequence[str], status: str) -> dict[str, int]:
    """How many runs each plan has in ``status`` (plans with none are absent)."""
    counts: dict[str, int] = {}
    for start in range(0, len(plan_ids), 500):
        rows = conn.execute(
            select(plan_runs.c.plan_id, func.count())
            .where(
                plan_runs.c.plan_id.in_(plan_ids[start : start + 500]), plan_runs.c.status == status
            )
            .group_by(plan_runs.c.plan_id)
        )
        counts.update({row[0]: int(row[1]) for row in rows})
    return counts


def get_plan_run(
    conn: Connection,
    run_id: str,
    tenant_id: str | None = None,
    *,
    lock: bool = False,
    skip_locked: bool = False,
) -> PlanRunRecord | None:
    """A plan run; with ``lock`` its row is locked for the transaction (PostgreSQL), so
    transitions of one run by several nodes happen one after another. With ``skip_locked``
    a run locked by another transaction is ``None``, without waiting."""
    query = select(plan_runs).where(plan_runs.c.id == run_id)
    if tenant_id is not None:
        query = query.where(plan_runs.c.tenant_id == tenant_id)
    if lock:
        query = _locking(conn, query, skip_locked=skip_locked)
    return mapped(PlanRunRecord, conn.execute(query).first())


def update_plan_run(conn: Connection, run_id: str, **values: Any) -> None:
    conn.execute(update(plan_runs).where(plan_runs.c.id == run_id).values(**values))


def plan_runs_of_plan(
    conn: Connection, plan_id: str, statuses: Sequence[str]
) -> list[PlanRunRecord]:
    rows = conn.execute(
        select(plan_runs)
        .where(plan_runs.c.plan_id == plan_id, plan_runs.c.status.in_(statuses))
        # fire order first: catch-up runs opened in one tick share created_at
        .order_by(
            func.coalesce(plan_runs.c.scheduled_for, plan_runs.c.created_at),
            plan_runs.c.created_at,
            plan_runs.c.id,
        )
    )
    return [PlanRunRecord(**r._mapping) for r in rows]


def list_plan_runs(
    conn: Connection,
    tenant_id: str,
    *,
    plan_id: str | None = None,
    statuses: Sequence[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[PlanRunRecord], int]:
    condition = _plan_run_filter(tenant_id, plan_id, statuses, since, until)
    rows = conn.execute(
        select(plan_runs)
        .where(condition)
        .order_by(plan_runs.c.created_at.desc(), plan_runs.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    total = conn.execute(select(func.count()).select_from(plan_runs).where(condition))
    return [PlanRunRecord(**r._mapping) for r in rows], int(total.scalar_one())


def plan_runs_after(
    conn: Connection,
    tenant_id: str,
    *,
    after: tuple[datetime, str] | None,
    plan_id: str | None = None,
    statuses: Sequence[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
) -> list[PlanRunRecord]:
    """Keyset pagination: the runs :func:`list_plan_runs` lists, in its order (newest
    first), that come after ``after`` (the ``(created_at, id)`` of the previous page's last
    run; ``None``: from the start). No count and no offset: a page costs the same at any
    depth of the history."""
    condition = _plan_run_filter(tenant_id, plan_id, statuses, since, until)
    if after is not None:
        at, run_id = after
        # the plain range first: an index on created_at serves it
        condition = condition & and_(
            plan_runs.c.created_at <= at,
            or_(plan_runs.c.created_at < at, plan_runs.c.id < run_id),
        )
    rows = conn.execute(
        select(plan_runs)
        .where(condition)
        .order_by(plan_runs.c.created_at.desc(), plan_runs.c.id.desc())
        .limit(limit)
    )
    return [PlanRunRecord(**r._mapping) for r in rows]


def _plan_run_filter(
    tenant_id: str,
    plan_id: str | None,
    statuses: Sequence[str] | None,
    since: datetime | None,
    until: datetime | None,
) -> ColumnElement[bool]:
    condition = plan_runs.c.tenant_id == tenant_id
    if plan_id is not None:
        condition = condition & (plan_runs.c.plan_id == plan_id)
    if statuses:
        condition = condition & plan_runs.c.status.in_(statuses)
    if since is not None:
        condition = condition & (plan_runs.c.created_at >= since)
    if until is not None:
        condition = condition & (plan_runs.c.created_at < until)
    return condition


def plan_runs_past_deadline(conn: Connection, now: datetime, limit: int) -> list[PlanRunRecord]:
    """Open runs past their TTL, locked (other nodes' control loops skip them)."""
    query = (
        select(plan_runs)
        .where(plan_runs.c.status.in_(("RUNNING", "ERROR")), plan_runs.c.deadline_at <= now)
        .limit(limit)
    )
    rows = conn.execute(_locking(conn, query, skip_locked=True))
    return [PlanRunRecord(**r._mapping) for r in rows]


def plan_runs_overdue(conn: Connection, now: datetime, limit: int) -> list[PlanRunRecord]:
    """Open runs whose ``overdue_at`` has come (a partial index holds only such candidates),
    locked (other nodes' control loops skip them)."""
    query = (
        select(plan_runs)
        .where(
            plan_runs.c.overdue_at.is_not(None),
            plan_runs.c.overdue_at <= now,
            plan_runs.c.ended_at.is_(None),
        )
        .order_by(plan_runs.c.overdue_at)
        .limit(limit)
    )
    rows = conn.execute(_locking(conn, query, skip_locked=True))
    return [PlanRunRecord(**r._mapping) for r in rows]


def purge_plan_runs(conn: Connection, now: datetime, limit: int) -> int:
    """Delete finished plan runs whose retention has passed (oldest first)."""
    ids = [
        row.id
        for row in conn.execute(
            select(plan_runs.c.id)
            .where(plan_runs.c.purge_after <= now, ~_has_running_jobs())
            .order_by(plan_runs.c.purge_after)
            .limit(limit)
        )
    ]
    delete_plan_runs(conn, ids)
    return len(ids)


def delete_plan_runs(conn: Connection, run_ids: Sequence[str]) -> None:
    """:func:`delete_plan_run` for many runs at once: four statements for the whole batch
    (the retention purge), not four per run."""
    for start in range(0, len(run_ids), 500):
        chunk = list(run_ids[start : start + 500])
        job_ids = select(job_runs.c.id).where(job_runs.c.plan_run_id.in_(chunk))
        conn.execute(delete(job_run_output).where(job_run_output.c.job_run_id.in_(job_ids)))
        conn.execute(delete(lock_holders).where(lock_holders.c.job_run_id.in_(job_ids)))
        conn.execute(delete(job_runs).where(job_runs.c.plan_run_id.in_(chunk)))
        conn.execute(delete(plan_runs).where(plan_runs.c.id.in_(chunk)))


def delete_plan_run(conn: Connection, run_id: str) -> None:
    job_ids = select(job_runs.c.id).where(job_runs.c.plan_run_id == run_id)
    conn.execute(delete(job_run_output).where(job_run_output.c.job_run_id.in_(job_ids)))
    conn.execute(delete(lock_holders).where(lock_holders.c.job_run_id.in_(job_ids)))
    conn.execute(delete(job_runs).where(job_runs.c.plan_run_id == run_id))
    conn.execute(delete(plan_runs).where(plan_runs.c.id == run_id))


# --- job runs --------------------------------------------------------------------------------


def insert_job_runs(conn: Connection, records: Sequence[JobRunRecord]) -> None:
    _bulk_insert(conn, job_runs, records)


def _sqlite_datetime(value: datetime) -> str:
    # what SQLAlchemy's SQLite DateTime stores: naive UTC text with microseconds
    if value.utcoffset():
        value = value.astimezone(UTC)
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d} "
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}"
    )


def _sqlite_value(value: Any) -> Any:
    # what SQLAlchemy's SQLite types would store: naive UTC text, JSON text, integer bools
    if isinstance(value, datetime):
        return _sqlite_datetime(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dict | list):
        return json.dumps(value) if value else "{}" if isinstance(value, dict) else "[]"
    return value


def _python_type(column: Column[Any]) -> type:
    try:
        kind: type = column.type.python_type
    except NotImplementedError:
        kind = object
    return kind


def _getter(names: list[str]) -> Callable[[Any], tuple[Any, ...]]:
    """The named attributes of an object, always as a tuple."""
    if len(names) == 1:
        name = names[0]
        return lambda record: (getattr(record, name),)
    return attrgetter(*names)


@cache
def _sqlite_insert(table: Table) -> tuple[str, Callable[[Sequence[Any]], list[tuple[Any, ...]]]]:
    """An INSERT for the SQLite driver and a function rendering records as its parameters,
    as SQLAlchemy's types would (naive UTC text, JSON text, integer booleans). Columns that
    need no rendering (text, numbers) are taken as they are, in one C-level getter."""
    plain = [c.name for c in table.columns if _python_type(c) in (str, int, float)]
    special = [c.name for c in table.columns if c.name not in plain]
    columns = plain + special
    statement = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "  # noqa: S608 - our own names
        f"VALUES ({', '.join('?' for _ in columns)})"
    )
    plain_of, special_of = _getter(plain), _getter(special)

    def rows(records: Sequence[Any]) -> list[tuple[Any, ...]]:
        # a batch shares few distinct instants (a tick's ``now``, a fire time): render each once
        rendered: dict[datetime, str] = {}
        out = []
        for record in records:
            values: list[Any] = []
            for value in special_of(record):
                if value is None:
                    values.append(None)
                elif type(value) is datetime:
                    text = rendered.get(value)
                    if text is None:
                        text = rendered[value] = _sqlite_datetime(value)
                    values.append(text)
                elif value is False or value is True:
                    values.append(int(value))
                elif not value and type(value) in (dict, list):  # {} and [] of most runs
                    values.append("{}" if type(value) is dict else "[]")
                else:
                    values.append(_sqlite_value(value))
            out.append((*plain_of(record), *values))
        return out

    return statement, rows


@cache
def _postgres_copy(table: Table) -> tuple[str, Callable[[Sequence[Any]], list[tuple[Any, ...]]]]:
    """A ``COPY ... FROM STDIN`` for the table and a function rendering records as its rows:
    JSON columns as JSON text (what SQLAlchemy's JSON type binds: ``json.dumps``), every other
    value as it is (psycopg writes text, numbers, booleans and aware datetimes itself)."""
    names = [c.name for c in table.columns]
    as_json = [isinstance(c.type, JSON) for c in table.columns]
    statement = f"COPY {table.name} ({', '.join(names)}) FROM STDIN"
    values_of = _getter(names)
    if not any(as_json):
        return statement, lambda records: [values_of(record) for record in records]

    def rows(records: Sequence[Any]) -> list[tuple[Any, ...]]:
        out = []
        for record in records:
            out.append(
                tuple(
                    _json_text(value) if json_column and value is not None else value
                    for json_column, value in zip(as_json, values_of(record), strict=True)
                )
            )
        return out

    return statement, rows


def _json_text(value: Any) -> str:
    if not value and isinstance(value, dict | list):
        return "{}" if isinstance(value, dict) else "[]"
    return json.dumps(value)


def _copy_rows(conn: Connection, statement: str, rows: Iterable[Sequence[Any]]) -> None:
    """Stream ``rows`` into ``COPY ... FROM STDIN`` on the connection's own psycopg
    connection, inside its transaction (one round trip for the batch)."""
    driver: Any = conn.connection.dbapi_connection  # a psycopg.Connection
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def _bulk_insert(
    conn: Connection, table: Table, records: Sequence[Any], *, fast: bool = True
) -> None:
    """Insert records (their fields named as the table's columns). The scheduler's hot path,
    where per-value type processing was most of the cost: on SQLite the values are rendered
    once and handed to the driver's executemany directly; on PostgreSQL (psycopg) they are
    streamed with ``COPY``. Elsewhere, or with ``fast=False`` (the plain path the fast ones
    are tested against), SQLAlchemy's executemany."""
    if not records:
        return
    dialect = conn.dialect
    if fast and dialect.name == "sqlite":
        statement, rows = _sqlite_insert(table)
        conn.exec_driver_sql(statement, rows(records))
    elif fast and dialect.name == "postgresql" and dialect.driver == "psycopg":
        statement, rows = _postgres_copy(table)
        _copy_rows(conn, statement, rows(records))
    else:
        conn.execute(insert(table), [as_values(r) for r in records])


def get_job_run(
    conn: Connection, job_run_id: str, tenant_id: str | None = None
) -> JobRunRecord | None:
    query = select(job_runs).where(job_runs.c.id == job_run_id)
    if tenant_id is not None:
        query = query.where(job_runs.c.tenant_id == tenant_id)
    return mapped(JobRunRecord, conn.execute(query).first())


def job_runs_of(conn: Connection, plan_run_id: str) -> list[JobRunRecord]:
    rows = conn.execute(
        select(job_runs).where(job_runs.c.plan_run_id == plan_run_id).order_by(job_runs.c.id)
    )
    return [JobRunRecord(**r._mapping) for r in rows]


def job_run_states_of(conn: Connection, plan_run_id: str) -> list[JobRunStateRecord]:
    """What evaluating plan run ``plan_run_id`` reads of each of its job runs, ordered as
    :func:`job_runs_of` orders them. Evaluation changes only WAITING job runs and reads no
    more than the status of the others: of those, only ``id``, ``job_name`` and ``status`` are
    read (the other fields are ``None``, ``attempt`` 0), which spares converting four
    timestamps per job run on every finish."""
    waiting = job_runs.c.status == "WAITING"
    columns = [
        getattr(job_runs.c, f.name)
        if f.name in ("id", "job_name", "status")
        else case((waiting, getattr(job_runs.c, f.name)), else_=None)
        for f in fields(JobRunStateRecord)
    ]
    rows = conn.execute(
        select(*columns).where(job_runs.c.plan_run_id == plan_run_id).order_by(job_runs.c.id)
    )
    return [JobRunStateRecord(*r) for r in rows]


def list_job_runs(
    conn: Connection,
    tenant_id: str,
    *,
    plan_run_id: str | None = None,
    statuses: Sequence[str] | None = None,
    job_name: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[JobRunRecord], int]:
    condition = _job_run_filter(tenant_id, plan_run_id, statuses, job_name)
    rows = conn.execute(
        select(job_runs)
        .where(condition)
        .order_by(job_runs.c.created_at.desc(), job_runs.c.job_name)
        .limit(limit)
        .offset(offset)
    )
    total = conn.execute(select(func.count()).select_from(job_runs).where(condition))
    return [JobRunRecord(**r._mapping) for r in rows], int(total.scalar_one())


def job_runs_after(
    conn: Connection,
    tenant_id: str,
    *,
    after: tuple[datetime, str] | None,
    plan_run_id: str | None = None,
    statuses: Sequence[str] | None = None,
    job_name: str | None = None,
    limit: int = 100,
) -> list[JobRunRecord]:
    """Keyset pagination of the job runs :func:`list_job_runs` filters, newest first and,
    among job runs created at the same instant, by id (descending), after ``after`` (the
    ``(created_at, id)`` of the previous page's last job run; ``None``: from the start)."""
    condition = _job_run_filter(tenant_id, plan_run_id, statuses, job_name)
    if after is not None:
        at, job_run_id = after
        # the plain range first: an index on created_at serves it
        condition = condition & and_(
            job_runs.c.created_at <= at,
            or_(job_runs.c.created_at < at, job_runs.c.id < job_run_id),
        )
    rows = conn.execute(
        select(job_runs)
        .where(condition)
        .order_by(job_runs.c.created_at.desc(), job_runs.c.id.desc())
        .limit(limit)
    )
    return [JobRunRecord(**r._mapping) for r in rows]


def _job_run_filter(
    tenant_id: str,
    plan_run_id: str | None,
    statuses: Sequence[str] | None,
    job_name: str | None,
) -> ColumnElement[bool]:
    condition = job_runs.c.tenant_id == tenant_id
    if plan_run_id is not None:
        condition = condition & (job_runs.c.plan_run_id == plan_run_id)
    if statuses:
        condition = condition & job_runs.c.status.in_(statuses)
    if job_name is not None:
        condition = condition & (job_runs.c.job_name == job_name)
    return condition


# --- job-run transitions ----------------------------------------------------------------------
# Each names one move of the state machine in jobplan.engine.state and writes exactly the
# columns that move changes. ``None`` for an optional result field leaves the column as it is.

_RELEASED = {"owner_node": None, "lease_until": None}
_SETTLED = ("status", "attempt", "queued_at", "wake_at", "started_at", "ended_at", "reason")


def _set_job_run(conn: Connection, job_run_id: str, values: dict[str, Any]) -> None:
    conn.execute(update(job_runs).where(job_runs.c.id == job_run_id).values(**values))


def settle_job_run(conn: Connection, job_run_id: str, changes: dict[str, Any]) -> None:
    """Write what evaluating the plan run changed (armed, skipped as unreachable, a due time
    gate completed): only the evaluated fields (:data:`_SETTLED`)."""
    unknown = set(changes) - set(_SETTLED)
    if unknown:
        raise ValueError(f"not an evaluated field: {sorted(unknown)}")
    if changes:
        _set_job_run(conn, job_run_id, changes)


def release_claim(conn: Connection, job_run_id: str, *, disarm: bool = False) -> None:
    """Give a claimed WAITING job run back: no owner, no lease. ``disarm``: it will not wake
    again (its plan run has ended or is not started)."""
    values: dict[str, Any] = dict(_RELEASED)
    if disarm:
        values["wake_at"] = None
    _set_job_run(conn, job_run_id, values)


def poll_again(
    conn: Connection, job_run_id: str, wake_at: datetime | None, reason: str | None
) -> None:
    """Give a claimed file job back after a poll that found nothing: next look at
    ``wake_at`` (None: never)."""
    _set_job_run(conn, job_run_id, {**_RELEASED, "wake_at": wake_at, "reason": reason})


def queue_for_lock(conn: Connection, job_run_id: str, now: datetime, reason: str) -> None:
    """WAITING -> LOCK_QUEUED: a lock it needs is taken; woken by :func:`wake_from_lock_queue`."""
    _set_job_run(
        conn,
        job_run_id,
        {**_RELEASED, "status": "LOCK_QUEUED", "wake_at": None, "queued_at": now, "reason": reason},
    )


def wake_from_lock_queue(conn: Connection, job_run_id: str, wake_at: datetime) -> None:
    """LOCK_QUEUED -> WAITING, due at ``wake_at`` (which keeps the queue's order)."""
    _set_job_run(conn, job_run_id, {"status": "WAITING", "wake_at": wake_at, "reason": None})


def mark_started(
    conn: Connection,
    job_run_id: str,
    *,
    attempt: int,
    node_id: str,
    now: datetime,
    lease_until: datetime,
) -> None:
    """WAITING -> RUNNING on ``node_id``: a new attempt, leased, with last attempt's result
    cleared."""
    _set_job_run(
        conn,
        job_run_id,
        {
            "status": "RUNNING",
            "attempt": attempt,
            "started_at": now,
            "ended_at": None,
            "wake_at": None,
            "owner_node": node_id,
            "lease_until": lease_until,
            "exit_code": None,
            "http_status": None,
            "reason": None,
        },
    )


def set_pid(conn: Connection, job_run_id: str, pid: int) -> None:
    """Record the process group running the job run (for clean-up after a crash)."""
    _set_job_run(conn, job_run_id, {"pid": pid})


def mark_ended(
    conn: Connection,
    job_run_id: str,
    *,
    status: str,
    now: datetime,
    reason: str | None,
    exit_code: int | None = None,
    http_status: int | None = None,
    flags: list[str] | None = None,
) -> None:
    """RUNNING -> COMPLETE | ERROR | KILLED: ended, no owner, no lease."""
    values: dict[str, Any] = {**_RELEASED, "status": status, "ended_at": now, "reason": reason}
    values.update(_result(exit_code, http_status, flags))
    _set_job_run(conn, job_run_id, values)


def schedule_retry(
    conn: Connection,
    job_run_id: str,
    *,
    wake_at: datetime,
    retries: int,
    reason: str,
    exit_code: int | None = None,
    http_status: int | None = None,
    flags: list[str] | None = None,
) -> None:
    """RUNNING -> WAITING: the attempt failed (or its node died) and a retry is due at
    ``wake_at``."""
    values: dict[str, Any] = {
        **_RELEASED,
        "status": "WAITING",
        "wake_at": wake_at,
        "ended_at": None,
        "retries": retries,
        "reason": reason,
    }
    values.update(_result(exit_code, http_status, flags))
    _set_job_run(conn, job_run_id, values)


def _result(
    exit_code: int | None, http_status: int | None, flags: list[str] | None
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if exit_code is not None:
        values["exit_code"] = exit_code
    if http_status is not None:
        values["http_status"] = http_status
    if flags is not None:
        values["flags"] = flags
    return values


def mark_completed(
    conn: Connection,
    job_run_id: str,
    *,
    attempt: int,
    started_at: datetime,
    now: datetime,
    reason: str | None,
) -> None:
    """WAITING -> COMPLETE without an execution (time gate, event, file found)."""
    _set_job_run(
        conn,
        job_run_id,
        {
            **_RELEASED,
            "status": "COMPLETE",
            "attempt": attempt,
            "started_at": started_at,
            "ended_at": now,
            "wake_at": None,
            "reason": reason,
        },
    )


def set_flags(conn: Connection, job_run_id: str, flags: list[str]) -> None:
    """Replace the job run's flags (``overdue``, ``too_short``)."""
    _set_job_run(conn, job_run_id, {"flags": flags})


def flag_agent_offline(conn: Connection, job_run_id: str, flags: list[str], reason: str) -> None:
    """A job run waiting for an agent none of which is online: flagged, and its reason says
    so."""
    _set_job_run(conn, job_run_id, {"flags": flags, "reason": reason})


def request_stop(conn: Connection, job_run_id: str) -> None:
    """Ask the node running it to kill it (its control loop acts on this)."""
    _set_job_run(conn, job_run_id, {"stop_requested": True})


def disarm(conn: Connection, job_run_id: str) -> None:
    """A waiting job run of an ended plan run: it will not start."""
    _set_job_run(conn, job_run_id, {"wake_at": None, "queued_at": None})


def acknowledge(conn: Connection, job_run_id: str) -> None:
    """An operator has seen the failure."""
    _set_job_run(conn, job_run_id, {"acknowledged": True})


def hold(conn: Connection, job_run_id: str, reason: str) -> None:
    """WAITING | LOCK_QUEUED -> ON_HOLD: disarmed and unclaimed until released."""
    _set_job_run(
        conn,
        job_run_id,
        {**_RELEASED, "status": "ON_HOLD", "wake_at": None, "queued_at": None, "reason": reason},
    )


def release_hold(conn: Connection, job_run_id: str, reason: str) -> None:
    """ON_HOLD -> WAITING (evaluation arms it again)."""
    _set_job_run(conn, job_run_id, {"status": "WAITING", "reason": reason})


def mark_skipped(conn: Connection, job_run_id: str, now: datetime, reason: str) -> None:
    """-> SKIPPED by an operator: counts as done for the jobs that depend on it."""
    _set_job_run(
        conn,
        job_run_id,
        {
            "status": "SKIPPED",
            "wake_at": None,
            "queued_at": None,
            "ended_at": now,
            "reason": reason,
        },
    )


def reset(conn: Connection, job_run_id: str, reason: str) -> None:
    """-> WAITING afresh (unskip, reset): retries, stop request and acknowledgement cleared."""
    _set_job_run(
        conn,
        job_run_id,
        {
            "status": "WAITING",
            "wake_at": None,
            "queued_at": None,
            "ended_at": None,
            "stop_requested": False,
            "acknowledged": False,
            "retries": 0,
            "reason": reason,
        },
    )


def update_job_runs(conn: Connection, job_run_ids: Sequence[str], **values: Any) -> None:
    if job_run_ids:
        conn.execute(update(job_runs).where(job_runs.c.id.in_(job_run_ids)).values(**values))


def on_server(*, unknown_agents_wait: bool = False) -> ColumnElement[bool]:
    """Job runs a server node runs: those naming no agent (first: the common case), and
    unless ``unknown_agents_wait``, those naming (by name, not by label) an agent that the
    row's tenant has not registered, or has revoked. Everything else waits for its agent."""
    if unknown_agents_wait:
        return job_runs.c.agent.is_(None)
    registered = (
        select(agents.c.id)
        .where(
            agents.c.tenant_id == job_runs.c.tenant_id,
            agents.c.name == job_runs.c.agent,
            agents.c.revoked_at.is_(None),
        )
        .exists()
    )
    return or_(
        job_runs.c.agent.is_(None),
        and_(~job_runs.c.agent.like(f"{AGENT_LABEL_PREFIX}%"), ~registered),
    )


def claim_due_job_runs(
    conn: Connection,
    node_id: str,
    now: datetime,
    lease_until: datetime,
    limit: int,
    *,
    unknown_agents_wait: bool = False,
) -> list[JobRunRecord]:
    """Take up to ``limit`` armed WAITING job runs whose wake time has come and that a server
    runs (:func:`on_server`), leasing them to ``node_id``. On PostgreSQL concurrent nodes
    skip each other's rows (SKIP LOCKED)."""
    query = (
        select(job_runs)
        .where(
            job_runs.c.status == "WAITING",
            job_runs.c.wake_at <= now,
            or_(job_runs.c.lease_until.is_(None), job_runs.c.lease_until < now),
            on_server(unknown_agents_wait=unknown_agents_wait),
        )
        .order_by(job_runs.c.wake_at)
        .limit(limit)
    )
    rows = [
        JobRunRecord(**r._mapping) for r in conn.execute(_locking(conn, query, skip_locked=True))
    ]
    update_job_runs(conn, [r.id for r in rows], owner_node=node_id, lease_until=lease_until)
    return rows


def claim_agent_job_runs(
    conn: Connection,
    agent_id: str,
    tenant_id: str,
    targets: Sequence[str],
    now: datetime,
    lease_until: datetime,
    limit: int,
) -> list[JobRunRecord]:
    """Take up to ``limit`` armed WAITING job runs of the tenant routed to one of ``targets``
    (the agent's name, ``label:<label>`` for each of its labels) whose wake time has come,
    leasing them to the agent. On PostgreSQL concurrent claims skip each other's rows."""
    if limit <= 0 or not targets:
        return []
    query = (
        select(job_runs)
        .where(
            job_runs.c.tenant_id == tenant_id,
            job_runs.c.agent.in_(targets),
            job_runs.c.status == "WAITING",
            job_runs.c.wake_at <= now,
            or_(job_runs.c.lease_until.is_(None), job_runs.c.lease_until < now),
        )
        .order_by(job_runs.c.wake_at)
        .limit(limit)
    )
    rows = [
        JobRunRecord(**r._mapping) for r in conn.execute(_locking(conn, query, skip_locked=True))
    ]
    update_job_runs(conn, [r.id for r in rows], owner_node=agent_id, lease_until=lease_until)
    return rows


def has_due_for_agent(
    conn: Connection, tenant_id: str, targets: Sequence[str], now: datetime
) -> bool:
    """Whether :func:`claim_agent_job_runs` would take anything now (a cheap read)."""
    if not targets:
        return False
    query = (
        select(job_runs.c.id)
        .where(
            job_runs.c.tenant_id == tenant_id,
            job_runs.c.agent.in_(targets),
            job_runs.c.status == "WAITING",
            job_runs.c.wake_at <= now,
            or_(job_runs.c.lease_until.is_(None), job_runs.c.lease_until < now),
        )
        .limit(1)
    )
    return conn.execute(query).first() is not None


def extend_leases(
    conn: Connection, owner: str, job_run_ids: Sequence[str], lease_until: datetime
) -> None:
    """Extend the leases of these job runs while ``owner`` (an agent) is running them: only
    those it says it holds, so that one whose assignment never reached it runs out and is
    recovered. A file poll's short claim is not renewed: a poll outliving the lease may be
    handed out again, which is harmless."""
    ids = list(dict.fromkeys(job_run_ids))
    for start in range(0, len(ids), 500):
        conn.execute(
            update(job_runs)
            .where(
                job_runs.c.id.in_(ids[start : start + 500]),
                job_runs.c.status == "RUNNING",
                job_runs.c.owner_node == owner,
            )
            .values(lease_until=lease_until)
        )


def extend_agent_leases(conn: Connection, lease_until: datetime) -> int:
    """Give every job run an agent holds a lease until at least ``lease_until``: a server
    starting (after downtime) lets agents reconnect before their job runs count as lost."""
    result = conn.execute(
        update(job_runs)
        .where(
            job_runs.c.status == "RUNNING",
            job_runs.c.owner_node.in_(select(agents.c.id)),
            or_(job_runs.c.lease_until.is_(None), job_runs.c.lease_until < lease_until),
        )
        .values(lease_until=lease_until)
    )
    return int(result.rowcount or 0)


def holdings(conn: Connection, job_run_ids: Sequence[str]) -> list[JobRunRecord]:
    """The job runs of these ids that exist (what an agent says it holds, as stored)."""
    out: list[JobRunRecord] = []
    ids = list(dict.fromkeys(job_run_ids))
    for start in range(0, len(ids), 500):
        rows = conn.execute(select(job_runs).where(job_runs.c.id.in_(ids[start : start + 500])))
        out.extend(JobRunRecord(**r._mapping) for r in rows)
    return out


def release_claims_of(conn: Connection, owner: str) -> None:
    """Give back the WAITING job runs ``owner`` claimed for a file poll."""
    conn.execute(
        update(job_runs)
        .where(job_runs.c.owner_node == owner, job_runs.c.status == "WAITING")
        .values(**_RELEASED)
    )


#: The reason of a job run waiting for its agent (docs/agents.md#routing).
WAITING_FOR_AGENT = "waiting for agent "
WAITING_FOR_LABEL = "waiting for an agent labelled "
#: Added to that reason once no agent that could take it has been online for the grace.
NONE_ONLINE = "; none online"


def _waiting_for_agent(unknown_agents_wait: bool, due_before: datetime) -> ColumnElement[bool]:
    return and_(
        job_runs.c.agent.is_not(None),
        job_runs.c.status == "WAITING",
        job_runs.c.wake_at <= due_before,
        or_(job_runs.c.lease_until.is_(None), job_runs.c.lease_until < due_before),
        ~on_server(unknown_agents_wait=unknown_agents_wait),
    )


def mark_waiting_for_agents(
    conn: Connection, due_before: datetime, *, unknown_agents_wait: bool = False
) -> int:
    """Say why routed job runs due since ``due_before`` have not started: "waiting for agent
    edge-1" or "waiting for an agent labelled linux" (once; one statement)."""
    label = func.substr(job_runs.c.agent, len(AGENT_LABEL_PREFIX) + 1)
    reason = case(
        (job_runs.c.agent.like(f"{AGENT_LABEL_PREFIX}%"), literal(WAITING_FOR_LABEL) + label),
        else_=literal(WAITING_FOR_AGENT) + job_runs.c.agent,
    )
    result = conn.execute(
        update(job_runs)
        .where(
            _waiting_for_agent(unknown_agents_wait, due_before),
            or_(job_runs.c.reason.is_(None), ~job_runs.c.reason.like("waiting for %agent%")),
        )
        .values(reason=reason)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def waiting_for_agents_since(
    conn: Connection, due_before: datetime, limit: int, *, unknown_agents_wait: bool = False
) -> list[JobRunRecord]:
    """Routed job runs due since ``due_before`` still waiting for their agent and not yet
    told about (locked; other nodes skip them)."""
    query = (
        select(job_runs)
        .where(
            _waiting_for_agent(unknown_agents_wait, due_before),
            job_runs.c.reason.like("waiting for %agent%"),
            ~job_runs.c.reason.like(f"%{NONE_ONLINE}%"),
        )
        .order_by(job_runs.c.wake_at)
        .limit(limit)
    )
    rows = conn.execute(_locking(conn, query, skip_locked=True))
    return [JobRunRecord(**r._mapping) for r in rows]


def running_with_expired_lease(
    conn: Connection,
    now: datetime,
    limit: int,
    *,
    exclude_node: str | None = None,
    agents_too: bool = True,
) -> list[JobRunRecord]:
    """RUNNING job runs whose lease has run out (``agents_too=False``: not those agents
    hold)."""
    condition = and_(job_runs.c.status == "RUNNING", job_runs.c.lease_until < now)
    if exclude_node is not None:
        condition = condition & (job_runs.c.owner_node != exclude_node)
    if not agents_too:
        condition = condition & job_runs.c.owner_node.not_in(select(agents.c.id))
    query = select(job_runs).where(condition).limit(limit)
    return [
        JobRunRecord(**r._mapping) for r in conn.execute(_locking(conn, query, skip_locked=True))
    ]


def running_not_owned_by(conn: Connection, node_id: str) -> list[JobRunRecord]:
    """RUNNING job runs of other nodes; not those agents hold (an agent outlives a server's
    restart: its leases decide)."""
    rows = conn.execute(
        select(job_runs).where(
            job_runs.c.status == "RUNNING",
            job_runs.c.owner_node != node_id,
            job_runs.c.owner_node.not_in(select(agents.c.id)),
        )
    )
    return [JobRunRecord(**r._mapping) for r in rows]


def stop_requests_for(conn: Connection, node_id: str) -> list[str]:
    rows = conn.execute(
        select(job_runs.c.id).where(
            job_runs.c.owner_node == node_id,
            job_runs.c.status == "RUNNING",
            job_runs.c.stop_requested.is_(True),
        )
    )
    return [r.id for r in rows]


def running_owned_by(conn: Connection, node_id: str) -> list[JobRunRecord]:
    rows = conn.execute(
        select(job_runs).where(job_runs.c.owner_node == node_id, job_runs.c.status == "RUNNING")
    )
    return [JobRunRecord(**r._mapping) for r in rows]


# --- locks -----------------------------------------------------------------------------------


def _has_running_jobs() -> Any:
    return (
        select(job_runs.c.id)
        .where(job_runs.c.plan_run_id == plan_runs.c.id, job_runs.c.status == "RUNNING")
        .exists()
    )


def serialise_lock(conn: Connection, tenant_id: str, lock_name: str) -> None:
    """Hold a transaction-scoped advisory lock for this plan lock, so two nodes never both
    count its holders and both take the last slot. SQLite has one writer: nothing to do."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"{tenant_id}/{lock_name}"))))


def count_lock_holders(conn: Connection, tenant_id: str, lock_name: str) -> int:
    query = (
        select(func.count())
        .select_from(lock_holders)
        .where(lock_holders.c.tenant_id == tenant_id, lock_holders.c.lock_name == lock_name)
    )
    return int(conn.execute(query).scalar_one())


def add_lock_holder(
    conn: Connection, job_run_id: str, tenant_id: str, lock_name: str, now: datetime
) -> None:
    conn.execute(
        insert(lock_holders).values(
            job_run_id=job_run_id, tenant_id=tenant_id, lock_name=lock_name, acquired_at=now
        )
    )


def release_locks(conn: Connection, job_run_id: str) -> list[tuple[str, str]]:
    """Drop the job run's locks; returns the ``(tenant_id, lock_name)`` pairs released."""
    held = [
        (r.tenant_id, r.lock_name)
        for r in conn.execute(
            select(lock_holders.c.tenant_id, lock_holders.c.lock_name).where(
                lock_holders.c.job_run_id == job_run_id
            )
        )
    ]
    if held:
        conn.execute(delete(lock_holders).where(lock_holders.c.job_run_id == job_run_id))
    return held


def lock_queued(conn: Connection, tenant_id: str) -> list[JobRunRecord]:
    rows = conn.execute(
        select(job_runs)
        .where(job_runs.c.tenant_id == tenant_id, job_runs.c.status == "LOCK_QUEUED")
        .order_by(job_runs.c.queued_at)
    )
    return [JobRunRecord(**r._mapping) for r in rows]


# --- output ----------------------------------------------------------------------------------


def append_output(
    conn: Connection, job_run_id: str, attempt: int, start_seq: int, chunks: Sequence[str]
) -> None:
    if chunks:
        conn.execute(
            insert(job_run_output),
            [
                {"job_run_id": job_run_id, "attempt": attempt, "seq": start_seq + i, "chunk": c}
                for i, c in enumerate(chunks)
            ],
        )


def output_sizes(
    conn: Connection, keys: Sequence[tuple[str, int]], seqs: Sequence[int]
) -> dict[tuple[str, int], tuple[int, set[int]]]:
    """For each ``(job_run_id, attempt)``: the bytes (UTF-8) of output stored, as the output
    cap counts them, and which of ``seqs`` it already has."""
    out: dict[tuple[str, int], tuple[int, set[int]]] = {key: (0, set()) for key in keys}
    chunk = job_run_output.c.chunk
    size_of = (
        func.octet_length(chunk)
        if conn.dialect.name == "postgresql"
        else func.length(cast(chunk, LargeBinary))  # SQLite: a BLOB's length is in bytes
    )
    ids = sorted({job_run_id for job_run_id, _ in keys})
    wanted = sorted(set(seqs))
    for start in range(0, len(ids), 500):
        some = ids[start : start + 500]
        sizes = conn.execute(
            select(
                job_run_output.c.job_run_id,
                job_run_output.c.attempt,
                func.sum(size_of),
            )
            .where(job_run_output.c.job_run_id.in_(some))
            .group_by(job_run_output.c.job_run_id, job_run_output.c.attempt)
        )
        for job_run_id, attempt, size in sizes:
            if (job_run_id, attempt) in out:
                out[(job_run_id, attempt)] = (int(size or 0), set())
        known = conn.execute(
            select(
                job_run_output.c.job_run_id, job_run_output.c.attempt, job_run_output.c.seq
            ).where(job_run_output.c.job_run_id.in_(some), job_run_output.c.seq.in_(wanted))
        )
        for job_run_id, attempt, seq in known:
            if (job_run_id, attempt) in out:
                out[(job_run_id, attempt)][1].add(seq)
    return out


def insert_output(conn: Connection, rows: Sequence[tuple[str, int, int, str]]) -> None:
    """Insert output chunks ``(job_run_id, attempt, seq, text)``."""
    if rows:
        conn.execute(
            insert(job_run_output),
            [{"job_run_id": i, "attempt": a, "seq": q, "chunk": c} for i, a, q, c in rows],
        )


def replace_output(conn: Connection, job_run_id: str, attempt: int, text: str) -> None:
    """Store ``text`` as the whole output of an attempt."""
    conn.execute(
        delete(job_run_output).where(
            job_run_output.c.job_run_id == job_run_id, job_run_output.c.attempt == attempt
        )
    )
    append_output(conn, job_run_id, attempt, 0, [text])


def read_output(
    conn: Connection, job_run_id: str, attempt: int, after_seq: int = -1
) -> list[tuple[int, str]]:
    rows = conn.execute(
        select(job_run_output.c.seq, job_run_output.c.chunk)
        .where(
            job_run_output.c.job_run_id == job_run_id,
            job_run_output.c.attempt == attempt,
            job_run_output.c.seq > after_seq,
        )
        .order_by(job_run_output.c.seq)
    )
    return [(r.seq, r.chunk) for r in rows]


def delete_output(conn: Connection, plan_run_id: str) -> None:
    job_ids = select(job_runs.c.id).where(job_runs.c.plan_run_id == plan_run_id)
    conn.execute(delete(job_run_output).where(job_run_output.c.job_run_id.in_(job_ids)))


# --- events ----------------------------------------------------------------------------------


def insert_event(conn: Connection, tenant_id: str, name: str, by: str, now: datetime) -> str:
    event_id = new_id()
    conn.execute(
        insert(events).values(
            id=event_id, tenant_id=tenant_id, name=name, raised_at=now, raised_by=by
        )
    )
    return event_id


def armed_event_waiters(conn: Connection, tenant_id: str) -> list[JobRunRecord]:
    """WAITING event jobs that are armed (waiting for their event) in open plan runs."""
    rows = conn.execute(
        select(job_runs)
        .join(plan_runs, plan_runs.c.id == job_runs.c.plan_run_id)
        .where(
            job_runs.c.tenant_id == tenant_id,
            job_runs.c.kind == "event",
            job_runs.c.status == "WAITING",
            job_runs.c.queued_at.is_not(None),
            plan_runs.c.status.in_(("RUNNING", "ERROR")),
        )
    )
    return [JobRunRecord(**r._mapping) for r in rows]


# --- plans' schedules and statistics ---------------------------------------------------------


def due_plans(
    conn: Connection, now: datetime, limit: int, *, fast: bool = True
) -> list[PlanRecord]:
    """Enabled plans whose window is due, locked for this transaction (SKIP LOCKED). On
    SQLite and PostgreSQL (psycopg) with ``fast`` (the scheduler's hot path), raw SQL with no
    per-value processing by SQLAlchemy; ``fast=False`` is the plain path it is tested
    against."""
    if fast and conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql(
            f"SELECT {', '.join(_PLAN_COLUMNS)} FROM plans "  # noqa: S608 - our own names
            "WHERE next_fire_time <= ? AND enabled = 1 ORDER BY next_fire_time LIMIT ?",
            (_sqlite_datetime(now), limit),
        )
        return _plans_from_sqlite(rows)
    if fast and conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        rows = conn.exec_driver_sql(
            f"SELECT {', '.join(_PLAN_COLUMNS)} FROM plans "  # noqa: S608 - our own names
            "WHERE next_fire_time <= %s AND enabled ORDER BY next_fire_time LIMIT %s "
            "FOR UPDATE SKIP LOCKED",
            (now, limit),
        )
        return _plans_from_postgres(rows)
    query = (
        select(plans)
        .where(plans.c.next_fire_time <= now, plans.c.enabled.is_(True))
        .order_by(plans.c.next_fire_time)
        .limit(limit)
    )
    return [PlanRecord(**r._mapping) for r in conn.execute(_locking(conn, query, skip_locked=True))]


# the record's fields, in its order (a column added to the table later is not read here)
_PLAN_COLUMNS = [field.name for field in fields(PlanRecord)]
_PLAN_DATETIMES = frozenset({"created_at", "updated_at", "next_fire_time", "last_fire_time"})


def _plans_from_sqlite(rows: Iterable[Sequence[Any]]) -> list[PlanRecord]:
    """Plan records from raw SQLite rows, as SQLAlchemy's types would read them (due plans
    share few distinct instants, so each is parsed once; only the columns that need it are
    touched)."""
    parsed: dict[str, datetime] = {}
    at = [index for index, name in enumerate(_PLAN_COLUMNS) if name in _PLAN_DATETIMES]
    enabled, disabled = _PLAN_COLUMNS.index("enabled"), _PLAN_COLUMNS.index("disabled_jobs")
    records = []
    for row in rows:
        values = list(row)
        for index in at:
            text = values[index]
            if text is not None:
                moment = parsed.get(text)
                if moment is None:
                    moment = parsed[text] = datetime.fromisoformat(text).replace(tzinfo=UTC)
                values[index] = moment
        values[enabled] = bool(values[enabled])
        if values[disabled] is not None:
            values[disabled] = json.loads(values[disabled])
        records.append(PlanRecord(*values))
    return records


def _plans_from_postgres(rows: Iterable[Sequence[Any]]) -> list[PlanRecord]:
    """Plan records from raw psycopg rows (which come typed: booleans, parsed JSON, aware
    datetimes in the session's zone, turned to UTC here as SQLAlchemy's type would)."""
    at = [index for index, name in enumerate(_PLAN_COLUMNS) if name in _PLAN_DATETIMES]
    records = []
    for row in rows:
        values = list(row)
        for index in at:
            value = values[index]
            if value is not None and value.tzinfo is not UTC:
                values[index] = value.astimezone(UTC)
        records.append(PlanRecord(*values))
    return records


def set_next_fire(
    conn: Connection, plan_id: str, next_fire: datetime | None, last_fire: datetime | None
) -> None:
    values: dict[str, Any] = {"next_fire_time": next_fire}
    if last_fire is not None:
        values["last_fire_time"] = last_fire
    conn.execute(update(plans).where(plans.c.id == plan_id).values(**values))


def set_next_fires(
    conn: Connection,
    schedule: Sequence[tuple[str, datetime | None, datetime | None]],
    *,
    fast: bool = True,
) -> None:
    """Advance many plans' schedules in one statement: ``(plan_id, next_fire, last_fire)``;
    a ``None`` last fire keeps the stored one. On PostgreSQL (psycopg) with ``fast``, one
    ``UPDATE ... FROM unnest(arrays)`` round trip for the batch."""
    if not schedule:
        return
    if fast and conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        ids, nexts, lasts = zip(*schedule, strict=True)
        conn.exec_driver_sql(
            "UPDATE plans SET next_fire_time = v.next_fire, "
            "last_fire_time = COALESCE(v.last_fire, plans.last_fire_time) "
            "FROM unnest(%s::varchar[], %s::timestamptz[], %s::timestamptz[]) "
            "AS v(id, next_fire, last_fire) WHERE plans.id = v.id",
            (list(ids), list(nexts), list(lasts)),
        )
        return
    if fast and conn.dialect.name == "sqlite":
        rendered: dict[datetime | None, str | None] = {None: None}
        for _, *pair in schedule:
            for when in pair:
                if when not in rendered:
                    rendered[when] = _sqlite_datetime(when)  # type: ignore[arg-type]
        conn.exec_driver_sql(
            "UPDATE plans SET next_fire_time = ?, "
            "last_fire_time = COALESCE(?, last_fire_time) WHERE id = ?",
            [(rendered[nxt], rendered[last], plan_id) for plan_id, nxt, last in schedule],
        )
        return
    conn.execute(
        update(plans)
        .where(plans.c.id == bindparam("b_id"))
        .values(
            next_fire_time=bindparam("b_next"),
            last_fire_time=func.coalesce(bindparam("b_last"), plans.c.last_fire_time),
        ),
        [{"b_id": plan_id, "b_next": nxt, "b_last": last} for plan_id, nxt, last in schedule],
    )


def get_stats(conn: Connection, tenant_id: str, plan_id: str) -> PlanStatsRecord | None:
    row = conn.execute(
        select(plan_stats).where(
            plan_stats.c.plan_id == plan_id, plan_stats.c.tenant_id == tenant_id
        )
    ).first()
    return mapped(PlanStatsRecord, row)


def record_plan_ends(
    conn: Connection, ends: Sequence[tuple[str, str, str, float, datetime]], *, fast: bool = True
) -> None:
    """Count finished plan runs ``(tenant_id, plan_id, status, duration, when)`` in their
    plans' statistics (kept even when history is off), one statement per kind of change
    (one upsert on SQLite and PostgreSQL with ``fast``)."""
    if not ends:
        return
    totals: dict[str, dict[str, Any]] = {}
    for tenant_id, plan_id, status, duration, when in ends:
        row = totals.setdefault(
            plan_id,
            {
                "plan_id": plan_id,
                "tenant_id": tenant_id,
                "total": 0,
                "succeeded": 0,
                "failed": 0,
                "ended": 0,
                "total_duration_seconds": 0.0,
            },
        )
        row["total"] += 1
        row["succeeded"] += status == "COMPLETE"
        row["failed"] += status == "ERROR"
        row["ended"] += status == "ENDED"
        row["total_duration_seconds"] += duration
        row["last_status"], row["last_run_at"] = status, when
    if fast and conn.dialect.name == "sqlite":
        _upsert_stats_sqlite(conn, list(totals.values()))
        return
    if fast and conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        conn.exec_driver_sql(
            _STATS_UPSERT.replace("?", "%s"),
            [tuple(row[name] for name in _STATS_COLUMNS) for row in totals.values()],
        )
        return
    ids = list(totals)
    existing: set[str] = set()
    for start in range(0, len(ids), 500):
        existing.update(
            r[0]
            for r in conn.execute(
                select(plan_stats.c.plan_id).where(
                    plan_stats.c.plan_id.in_(ids[start : start + 500])
                )
            )
        )
    updates = [
        {f"b_{key}": value for key, value in row.items()}
        for plan_id, row in totals.items()
        if plan_id in existing
    ]
    if updates:
        conn.execute(
            update(plan_stats)
            .where(plan_stats.c.plan_id == bindparam("b_plan_id"))
            .values(
                total=plan_stats.c.total + bindparam("b_total"),
                succeeded=plan_stats.c.succeeded + bindparam("b_succeeded"),
                failed=plan_stats.c.failed + bindparam("b_failed"),
                ended=plan_stats.c.ended + bindparam("b_ended"),
                total_duration_seconds=plan_stats.c.total_duration_seconds
                + bindparam("b_total_duration_seconds"),
                last_status=bindparam("b_last_status"),
                last_run_at=bindparam("b_last_run_at"),
            ),
            updates,
        )
    inserts = [row for plan_id, row in totals.items() if plan_id not in existing]
    if inserts:
        conn.execute(insert(plan_stats), inserts)


_STATS_COLUMNS = (
    "plan_id",
    "tenant_id",
    "total",
    "succeeded",
    "failed",
    "ended",
    "total_duration_seconds",
    "last_status",
    "last_run_at",
)
_STATS_UPSERT = (
    f"INSERT INTO plan_stats ({', '.join(_STATS_COLUMNS)}) "  # noqa: S608 - our own names
    f"VALUES ({', '.join('?' for _ in _STATS_COLUMNS)}) ON CONFLICT (plan_id) DO UPDATE SET "
    + ", ".join(
        f"{name} = plan_stats.{name} + excluded.{name}"
        for name in ("total", "succeeded", "failed", "ended", "total_duration_seconds")
    )
    + ", last_status = excluded.last_status, last_run_at = excluded.last_run_at"
)


def _upsert_stats_sqlite(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """One statement for every plan's counters (SQLite's upsert): the scheduler's hot path."""
    rendered: dict[datetime, str] = {}
    for row in rows:
        when = row["last_run_at"]
        if when not in rendered:
            rendered[when] = _sqlite_datetime(when)
    conn.exec_driver_sql(
        _STATS_UPSERT,
        [
            (*(row[name] for name in _STATS_COLUMNS[:-1]), rendered[row["last_run_at"]])
            for row in rows
        ],
    )


def open_plan_runs_of_tenant(
    conn: Connection, tenant_id: str, *, include_queued: bool = False, limit: int = 500
) -> list[PlanRunRecord]:
    """The tenant's open plan runs (RUNNING, or ERROR not yet ended), newest first; with
    ``include_queued`` also the runs QUEUED behind them. At most ``limit``."""
    is_open = plan_runs.c.status.in_(("RUNNING", "ERROR")) & plan_runs.c.ended_at.is_(None)
    if include_queued:
        is_open = is_open | (plan_runs.c.status == PlanRunStatus.QUEUED.value)
    rows = conn.execute(
        select(plan_runs)
        .where(plan_runs.c.tenant_id == tenant_id, is_open)
        .order_by(plan_runs.c.created_at.desc(), plan_runs.c.id.desc())
        .limit(limit)
    )
    return [PlanRunRecord(**r._mapping) for r in rows]


# --- re-runs ---------------------------------------------------------------------------------


def clear_for_rerun(conn: Connection, job_run_ids: Sequence[str], reason: str) -> None:
    """-> WAITING afresh for a re-run of its (finished or stalled) plan run: last attempt's
    result, retries, flags, stop request and acknowledgement cleared. ``attempt`` is kept, so
    the next execution is numbered after it and earlier attempts' output stays readable."""
    update_job_runs(
        conn,
        job_run_ids,
        status="WAITING",
        wake_at=None,
        queued_at=None,
        started_at=None,
        ended_at=None,
        owner_node=None,
        lease_until=None,
        stop_requested=False,
        acknowledged=False,
        retries=0,
        exit_code=None,
        http_status=None,
        pid=None,
        flags=[],
        reason=reason,
    )


def uncount_plan_end(conn: Connection, plan_id: str, status: str, duration_seconds: float) -> None:
    """Take a reopened run's earlier end back out of its plan's statistics (it is counted
    again when it ends again), never below zero."""

    def less(column: Any, amount: float) -> Any:
        return (
            func.greatest(column - amount, 0)
            if conn.dialect.name == "postgresql"
            else (func.max(column - amount, 0))
        )

    conn.execute(
        update(plan_stats)
        .where(plan_stats.c.plan_id == plan_id)
        .values(
            total=less(plan_stats.c.total, 1),
            succeeded=less(plan_stats.c.succeeded, int(status == "COMPLETE")),
            failed=less(plan_stats.c.failed, int(status == "ERROR")),
            ended=less(plan_stats.c.ended, int(status == "ENDED")),
            total_duration_seconds=less(plan_stats.c.total_duration_seconds, duration_seconds),
        )
    )


def insert_rerun(conn: Connection, record: RerunRecord) -> None:
    conn.execute(insert(plan_run_reruns).values(**as_values(record)))


def reruns_of(conn: Connection, plan_run_id: str) -> list[RerunRecord]:
    """The plan run's re-runs, oldest (number 1) first."""
    rows = conn.execute(
        select(plan_run_reruns)
        .where(plan_run_reruns.c.plan_run_id == plan_run_id)
        .order_by(plan_run_reruns.c.number)
    )
    return [RerunRecord(**r._mapping) for r in rows]


def count_reruns(conn: Connection, plan_run_id: str) -> int:
    query = (
        select(func.count())
        .select_from(plan_run_reruns)
        .where(plan_run_reruns.c.plan_run_id == plan_run_id)
    )
    return int(conn.execute(query).scalar_one())
