"""Progress of a running job, and the checks that stop it when it was cancelled or ran out
of time."""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

from jobplan.errors import StoreError
from jobplan.store import Database, transfers, utcnow
from jobplan.store.records import TransferJobRecord

__all__ = ["PROGRESS_EVERY", "Cancelled", "TimedOut", "Watch"]

log = structlog.get_logger(__name__)

PROGRESS_EVERY = 0.25  # seconds between progress writes and cancellation checks


class Cancelled(Exception):
    """The job was cancelled while it ran (raised inside the work to stop it)."""


class TimedOut(Exception):
    """The job passed its deadline while it ran."""


class Watch:
    """Called as work advances: records progress now and then, and stops the work (by
    raising) when the job was cancelled or ran out of time."""

    def __init__(
        self,
        db: Database,
        job: TransferJobRecord,
        low: int,
        high: int,
        cancelled: Callable[[str], bool],
    ) -> None:
        self._db = db
        self._job = job
        self._cancelled = cancelled
        self._low, self._high = low, high
        self._last = 0.0
        self.hook: Callable[[], None] | None = None

    def __call__(self, done: int, total: int) -> None:
        if self.hook is not None:
            self.hook()
        now = time.monotonic()
        if now - self._last < PROGRESS_EVERY:
            return
        self._last = now
        self.check()
        percent = self._low + (self._high - self._low) * done // max(total, 1)
        try:
            with self._db.transaction() as conn:
                transfers.set_progress(conn, self._job.id, min(percent, 99))
        except StoreError:
            # progress is informative: a busy database (SQLite's writer held by a long
            # import) must not fail the job
            log.warning("transfer_progress_not_saved", job=self._job.id)

    def check(self) -> None:
        if self._job.deadline_at is not None and utcnow() > self._job.deadline_at:
            raise TimedOut()
        if self._cancelled(self._job.id):
            raise Cancelled()
        with self._db.read() as conn:
            if transfers.is_cancelled(conn, self._job.id):
                raise Cancelled()

    def between_plans(self) -> None:
        if self.hook is not None:
            self.hook()
        if self._cancelled(self._job.id):
            raise Cancelled()
        now = time.monotonic()
        if now - self._last >= PROGRESS_EVERY:
            self._last = now
            self.check()
