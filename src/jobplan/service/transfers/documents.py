"""Validated plan documents kept for exports."""

from __future__ import annotations

import threading
from collections import OrderedDict

from jobplan.model import PlanDocument
from jobplan.service.plans import load_document
from jobplan.store.records import PlanVersionRecord

__all__ = ["CACHED_JOBS", "DocumentCache"]

CACHED_JOBS = 20_000
"""How many jobs the validated documents kept for exports may hold in all (about 2 KB of
memory each)."""


class DocumentCache:
    """Validated plan documents by version id, for exports.

    A stored version never changes, so its document is validated once (about 50 µs a job)
    and reused by later exports of it. Least recently used first out; documents hold
    ``max_jobs`` jobs at most in all, and one with more is not kept.
    """

    def __init__(self, max_jobs: int = CACHED_JOBS) -> None:
        self._max_jobs = max_jobs
        self._items: OrderedDict[str, tuple[PlanDocument, int]] = OrderedDict()
        self._jobs = 0
        self._lock = threading.Lock()

    def load(self, record: PlanVersionRecord) -> PlanDocument:
        """``load_document(record)``, validated only the first time."""
        with self._lock:
            found = self._items.get(record.id)
            if found is not None:
                self._items.move_to_end(record.id)
                return found[0]
        document = load_document(record)
        size = sum(1 for _ in document.all_jobs())
        if size > self._max_jobs:
            return document
        with self._lock:
            if record.id not in self._items:
                self._items[record.id] = (document, size)
                self._jobs += size
                while self._jobs > self._max_jobs:
                    _, (_, evicted) = self._items.popitem(last=False)
                    self._jobs -= evicted
        return document
