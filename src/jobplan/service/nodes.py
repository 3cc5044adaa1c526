"""The nodes of the cluster, for operators: which ``jobplan serve`` processes run an engine,
since when, what they run, and whether they still heartbeat.

Nodes are cluster-wide, not tenant data: reading them needs ``nodes:read`` (supervisors and
admins of any tenant). A node is *stale* when its last heartbeat is older than
``JOBPLAN_LEASE_SECONDS`` — the point at which the other nodes take over its job runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from jobplan.service.caller import Caller, Permission
from jobplan.service.pagination import Page, check_page
from jobplan.settings import Settings
from jobplan.store import Database
from jobplan.store import nodes as store
from jobplan.store.nodes import NodeRecord, NodeState

__all__ = ["NodeRecord", "NodeService", "NodeState", "NodeView"]


@dataclass(frozen=True, slots=True)
class NodeView:
    node: NodeRecord
    state: NodeState


class NodeService:
    def __init__(self, database: Database, settings: Settings) -> None:
        self._db = database
        self._settings = settings

    @property
    def stale_after_seconds(self) -> float:
        return self._settings.lease_seconds

    def list(
        self,
        caller: Caller,
        *,
        state: NodeState | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Page[NodeView]:
        """Nodes, the most recently started first, each with its state."""
        caller.require(Permission.NODES_READ)
        check_page(limit, offset)
        now = datetime.now(UTC)
        stale_before = now - timedelta(seconds=self.stale_after_seconds)
        with self._db.read() as conn:
            records = store.list_nodes(conn, stale_before, state=state, limit=limit, offset=offset)
            total = store.count_nodes(conn, stale_before, state=state)
        views = [NodeView(record, record.state(stale_before)) for record in records]
        return Page(views, total, limit, offset)
