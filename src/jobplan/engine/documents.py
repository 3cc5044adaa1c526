"""A small cache of parsed plan versions: versions are immutable, so parse each once."""

from __future__ import annotations

import threading
from collections import OrderedDict

from sqlalchemy import Connection, select

from jobplan.engine.graph import RunGraph
from jobplan.model import PlanDocument
from jobplan.store.tables import plan_versions

__all__ = ["VersionCache"]


class VersionCache:
    """Plan documents and their dependency graphs by version id (LRU, thread-safe).

    Sized for every plan a node schedules (a small plan's graph takes a few kilobytes): the
    scheduler visits the current version of each plan at each fire, and an LRU smaller than
    that cycle misses on every visit (parsing and validating a document takes about 2 ms).
    """

    def __init__(self, capacity: int = 65_536) -> None:
        self._capacity = capacity
        self._items: OrderedDict[str, RunGraph] = OrderedDict()
        self._lock = threading.Lock()

    def graph(self, conn: Connection, version_id: str) -> RunGraph:
        with self._lock:
            graph = self._items.get(version_id)
            if graph is not None:
                self._items.move_to_end(version_id)
                return graph
        row = conn.execute(
            select(plan_versions.c.document).where(plan_versions.c.id == version_id)
        ).first()
        if row is None:
            raise LookupError(f"plan version {version_id} not found")
        graph = RunGraph(PlanDocument.model_validate(row.document))
        self.put(version_id, graph)
        return graph

    def put(self, version_id: str, graph: RunGraph) -> None:
        with self._lock:
            self._items[version_id] = graph
            self._items.move_to_end(version_id)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)
