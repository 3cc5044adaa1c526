"""Log events and count metrics that describe a change, only once the change has committed.

A state transition deep in a transaction (a plan run ending, a job run starting) calls
:func:`after_commit` (a log event) or :func:`call_after_commit` (anything else: a metric
counted); it waits on the connection and is done by
:meth:`jobplan.store.Database.transaction` after the commit succeeded, so neither the log nor
the metrics ever tell of a change that was rolled back. The engine's writer, which wraps each
change in a savepoint, drops what a change whose savepoint rolled back recorded
(:func:`mark`, :func:`discard_since`). Nothing here touches the database.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import structlog
from sqlalchemy import Connection

__all__ = [
    "Pending",
    "after_commit",
    "call_after_commit",
    "discard_since",
    "emit",
    "mark",
    "reset",
    "take",
]

_KEY = "jobplan.after_commit"
_log = structlog.get_logger(__name__)

#: what waits for a commit, in the order it was recorded
Pending = list[Callable[[], None]]


def _queue(conn: Connection) -> Pending:
    pending: Pending | None = conn.info.get(_KEY)
    if pending is None:
        pending = conn.info[_KEY] = []
    return pending


def _emit_event(
    log: structlog.stdlib.BoundLogger, level: str, event: str, fields: dict[str, Any]
) -> None:
    getattr(log, level)(event, **fields)


def after_commit(
    conn: Connection,
    log: structlog.stdlib.BoundLogger,
    event: str,
    level: str = "info",
    **fields: Any,
) -> None:
    """Log ``event`` with ``fields`` at ``level`` once ``conn``'s transaction commits."""
    _queue(conn).append(partial(_emit_event, log, level, event, fields))


def call_after_commit(conn: Connection, callback: Callable[[], None]) -> None:
    """Call ``callback`` (count a metric) once ``conn``'s transaction commits; never if it
    rolls back."""
    _queue(conn).append(callback)


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
    """Log committed events and count their metrics, in the order they were recorded; one
    that fails does not keep the others from being done (nor undo the commit)."""
    for done in pending:
        try:
            done()
        except Exception:
            _log.exception("after_commit_failed")
