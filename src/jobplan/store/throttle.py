"""Failed-login counters (table ``login_failures``), shared by every process on a database."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from jobplan.store.tables import login_failures

__all__ = ["clear", "lock_counters", "save_counter", "sweep", "withdraw"]


def lock_counters(
    conn: Connection, keys: Iterable[str], now: float
) -> dict[str, tuple[int, float]]:
    """``key -> (failures, window_started)`` for ``keys``, each row created if missing (0
    failures) and locked until the transaction ends, so concurrent attempts on any node count
    one after the other. Keys are locked in sorted order (no deadlocks between attempts)."""
    ordered = sorted(set(keys))
    rows = [{"key": key, "failures": 0, "window_started": now} for key in ordered]
    insert = (
        postgresql.insert(login_failures)
        if conn.dialect.name == "postgresql"
        else sqlite.insert(login_failures)
    )
    # SQLite: the transaction already holds the database's write lock (BEGIN IMMEDIATE)
    conn.execute(insert.on_conflict_do_nothing(index_elements=[login_failures.c.key]), rows)
    query = select(login_failures).where(login_failures.c.key.in_(ordered))
    if conn.dialect.name == "postgresql":
        query = query.order_by(login_failures.c.key).with_for_update()
    return {row.key: (row.failures, row.window_started) for row in conn.execute(query)}


def save_counter(conn: Connection, key: str, failures: int, window_started: float) -> None:
    conn.execute(
        update(login_failures)
        .where(login_failures.c.key == key)
        .values(failures=failures, window_started=window_started)
    )


def withdraw(conn: Connection, key: str, at: float) -> None:
    """Take back one failure counted at ``at`` (if its window is still the current one)."""
    conn.execute(
        update(login_failures)
        .where(
            login_failures.c.key == key,
            login_failures.c.window_started <= at,
            login_failures.c.failures > 0,
        )
        .values(failures=login_failures.c.failures - 1)
    )


def clear(conn: Connection, key: str) -> None:
    conn.execute(delete(login_failures).where(login_failures.c.key == key))


def sweep(conn: Connection, started_before: float) -> int:
    """Delete counters whose window started before ``started_before`` (they count nothing)."""
    result = conn.execute(
        delete(login_failures).where(login_failures.c.window_started < started_before)
    )
    return result.rowcount or 0
