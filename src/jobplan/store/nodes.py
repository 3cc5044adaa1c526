"""The nodes of a cluster: each ``jobplan serve``, as it recorded itself.

A node is *live* while it heartbeats, *stale* once its heartbeat is older than a threshold
the caller gives (it died or hangs: its job runs are taken over when their leases run out),
*stopped* after a clean shutdown. Rows are written by the engine, or by
``service/node_presence`` on a server without one (``store.runs``: ``register_node``,
``heartbeat``, ``stop_node``), and read here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, delete, func, select

from jobplan.store.tables import nodes

__all__ = ["NodeRecord", "NodeState", "count_nodes", "list_nodes", "purge_nodes"]


class NodeState(StrEnum):
    LIVE = "live"
    STALE = "stale"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class NodeRecord:
    id: str
    name: str
    host: str | None
    pid: int | None
    version: str | None
    loops: list[str]
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None

    def state(self, stale_before: datetime) -> NodeState:
        """The node's state, stale when its last heartbeat is before ``stale_before``."""
        if self.stopped_at is not None:
            return NodeState.STOPPED
        return NodeState.STALE if self.heartbeat_at < stale_before else NodeState.LIVE


def _where(state: NodeState | None, stale_before: datetime) -> ColumnElement[bool] | None:
    if state is None:
        return None
    if state is NodeState.STOPPED:
        return nodes.c.stopped_at.is_not(None)
    heard = nodes.c.heartbeat_at < stale_before
    return and_(nodes.c.stopped_at.is_(None), heard if state is NodeState.STALE else ~heard)


def list_nodes(
    conn: Connection,
    stale_before: datetime,
    *,
    state: NodeState | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[NodeRecord]:
    """Nodes, the most recently started first (``state``: only those in that state)."""
    query = select(nodes).order_by(nodes.c.started_at.desc(), nodes.c.id)
    condition = _where(state, stale_before)
    if condition is not None:
        query = query.where(condition)
    rows = conn.execute(query.limit(limit).offset(offset))
    return [_record(row._mapping) for row in rows]


def count_nodes(conn: Connection, stale_before: datetime, *, state: NodeState | None = None) -> int:
    query = select(func.count()).select_from(nodes)
    condition = _where(state, stale_before)
    if condition is not None:
        query = query.where(condition)
    return int(conn.execute(query).scalar_one())


def purge_nodes(conn: Connection, before: datetime) -> int:
    """Forget nodes not heard of since ``before`` (stopped or dead long ago)."""
    return conn.execute(delete(nodes).where(nodes.c.heartbeat_at < before)).rowcount


def _record(row: Any) -> NodeRecord:
    values = dict(row)
    values["loops"] = list(values.get("loops") or [])
    return NodeRecord(**values)
