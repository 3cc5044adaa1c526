"""Loading stored plan versions: the one loader (format-version check, store errors) and a
small cache of parsed versions (versions are immutable, so each is parsed once)."""

from __future__ import annotations

import threading
from collections import OrderedDict

from pydantic import ValidationError
from sqlalchemy import Connection

from jobplan.engine.graph import RunGraph, graph_shape
from jobplan.errors import Conflict, StoreError
from jobplan.model import STORED_CONTEXT, PlanDocument
from jobplan.store import plans as plan_store
from jobplan.store.records import PlanVersionRecord

__all__ = ["PLAN_FORMAT_VERSION", "DocumentCache", "VersionCache", "load_document"]

#: Version of the stored plan document layout; checked when a version is loaded.
PLAN_FORMAT_VERSION = 1


def load_document(record: PlanVersionRecord) -> PlanDocument:
    """The stored document of a version, checked against the format we can read.

    Raises :class:`~jobplan.errors.Conflict` for a format this server does not read (a newer
    server stored it), :class:`~jobplan.errors.StoreError` for a document that no longer
    validates (stored data, not the caller's input)."""
    if record.format_version != PLAN_FORMAT_VERSION:
        raise Conflict(
            f"plan version {record.version} was stored in format {record.format_version}; "
            f"this server reads format {PLAN_FORMAT_VERSION}"
        )
    try:
        # references were checked when the version was saved (see model/_references.py)
        return PlanDocument.model_validate(record.document, context=STORED_CONTEXT)
    except ValidationError as exc:
        raise StoreError(f"plan version {record.version} cannot be read: {exc}") from exc


class DocumentCache:
    """Validated documents of stored versions by version id (LRU, thread-safe), for reads
    that return a plan: a version never changes, so it is validated once, not on every
    ``GET``. :meth:`document` answers what :func:`load_document` answers."""

    def __init__(self, capacity: int = 4_096) -> None:
        self._capacity = capacity
        self._items: OrderedDict[str, PlanDocument] = OrderedDict()
        self._lock = threading.Lock()

    def document(self, record: PlanVersionRecord) -> PlanDocument:
        with self._lock:
            document = self._items.get(record.id)
            if document is not None:
                self._items.move_to_end(record.id)
                return document
        document = load_document(record)
        with self._lock:
            self._items[record.id] = document
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)
        return document


class VersionCache:
    """Plan documents and their dependency graphs by version id (LRU, thread-safe), loaded
    with :func:`load_document`.

    Sized for every plan a node schedules (a small plan's graph takes a few kilobytes): the
    scheduler visits the current version of each plan at each fire, and an LRU smaller than
    that cycle misses on every visit (parsing and validating a document takes about 2 ms).
    """

    def __init__(self, capacity: int = 65_536) -> None:
        self._capacity = capacity
        self._items: OrderedDict[str, RunGraph] = OrderedDict()
        self._lock = threading.Lock()

    def graph(self, conn: Connection, version_id: str) -> RunGraph:
        """The graph of a stored version. Raises :class:`~jobplan.errors.StoreError` if the
        version is missing or unreadable, :class:`~jobplan.errors.Conflict` if it was stored
        in a format this server does not read."""
        with self._lock:
            graph = self._items.get(version_id)
            if graph is not None:
                self._items.move_to_end(version_id)
                return graph
        record = plan_store.get_version_by_id(conn, version_id)
        if record is None:
            raise StoreError(f"plan version {version_id} not found")
        graph = RunGraph(load_document(record), graph_shape(record.document))
        self.put(version_id, graph)
        return graph

    def put(self, version_id: str, graph: RunGraph) -> None:
        with self._lock:
            self._items[version_id] = graph
            self._items.move_to_end(version_id)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)
