"""Log events that describe a change, written only once the change has committed.

A state transition deep in a transaction (a plan run ending, a job run starting) calls
:func:`after_commit`; the event waits on the connection and is logged by
:meth:`jobplan.store.Database.transaction` after the commit succeeded, so the log never tells
of a change that was rolled back. The engine's writer, which wraps each change in a
savepoint, drops the events of a change whose savepoint rolled back (:func:`mark`,
:func:`discard_since`). Nothing here touches the database.
"""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy import Connection

__all__ = ["Pending", "after_commit", "discard_since", "emit", "mark", "reset", "take"]

_KEY = "jobplan.after_commit"

#: (logger, level, event, fields) of each event waiting for a commit
Pending = list[tuple[structlog.stdlib.BoundLogger, str, str, dict[str, Any]]]


def after_commit(
    conn: Connection,
    log: structlog.stdlib.BoundLogger,
    event: str,
    level: str = "info",
    **fields: Any,
) -> None:
    """Log ``event`` with ``fields`` at ``level`` once ``conn``'s transaction commits."""
    pending: Pending | None = conn.info.get(_KEY)
    if pending is None:
        pending = conn.info[_KEY] = []
    pending.append((log, level, event, fields))


def reset(conn: Connection) -> None:
    """Forget events left by an earlier, rolled back use of this pooled connection."""
    conn.info.pop(_KEY, None)


def take(conn: Connection) -> Pending:
    """The events waiting on ``conn`` (removed from it)."""
    pending: Pending | None = conn.info.pop(_KEY, None)
    return pending or []


def mark(conn: Connection) -> int:
    """How many events wait now (before a savepoint)."""
    pending: Pending | None = conn.info.get(_KEY)
    return len(pending) if pending else 0


def discard_since(conn: Connection, position: int) -> None:
    """Drop the events recorded after :func:`mark` returned ``position`` (the savepoint
    holding their changes rolled back)."""
    pending: Pending | None = conn.info.get(_KEY)
    if pending:
        del pending[position:]


def emit(pending: Pending) -> None:
    """Log committed events, in the order they were recorded."""
    for log, level, event, fields in pending:
        getattr(log, level)(event, **fields)
