"""The single writer: run-state transactions from the event loop, group-committed.

Callers ``await writer.run(fn)``; ``fn(conn)`` runs on the writer's thread inside a savepoint
of a transaction shared with whatever else was queued meanwhile, and the caller's future is
resolved only **after** that transaction has committed — so no state is ever reported before
it is durable, while one fsync covers a whole batch (SQLite manages ~6k fsynced commits/s one
by one but far more rows per second batched).
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection

from jobplan.logging import get_logger
from jobplan.store import Database, committed

__all__ = ["Writer"]

T = TypeVar("T")
log = get_logger(__name__)


@dataclass(slots=True)
class _Item(Generic[T]):
    fn: Callable[[Connection], T]
    future: asyncio.Future[T]
    loop: asyncio.AbstractEventLoop


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class Writer:
    """A thread that applies queued transaction functions in batches."""

    def __init__(self, database: Database, max_batch: int = 1024) -> None:
        self._db = database
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Item[Any] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.batches = 0
        self.items = 0
        #: ``time.monotonic()`` when the batch being applied was taken; ``None`` when idle
        self.busy_since: float | None = None

    @property
    def alive(self) -> bool:
        """Whether the writer's thread is running."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def depth(self) -> int:
        """Transactions queued and not yet taken by the writer's thread (approximate)."""
        return self._queue.qsize()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="jobplan-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Finish what is queued, then stop the thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    async def run(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in a committed transaction and return its result."""
        if self._thread is None:
            raise RuntimeError("the writer is not running")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Item(fn, future, loop))
        return await future

    def _loop(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            self.busy_since = time.monotonic()
            batch: list[_Item[Any]] = [first]
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            try:
                self._apply(batch)
            finally:
                self.busy_since = None

    def _apply(self, batch: list[_Item[Any]]) -> None:
        outcomes: list[tuple[_Item[Any], Any, BaseException | None]] = []
        try:
            with self._db.transaction() as conn:
                for item in batch:
                    logged = committed.mark(conn)
                    savepoint = conn.begin_nested()
                    try:
                        result = item.fn(conn)
                    except Exception as exc:  # one failed change must not sink the batch
                        savepoint.rollback()
                        committed.discard_since(conn, logged)  # it did not happen
                        outcomes.append((item, None, exc))
                    else:
                        savepoint.commit()
                        outcomes.append((item, result, None))
        except Exception as exc:  # the commit itself failed: nothing in the batch happened
            log.error("write_batch_failed", error=str(exc), size=len(batch))
            outcomes = [(item, None, exc) for item in batch]
        self.batches += 1
        self.items += len(batch)
        for item, result, error in outcomes:
            try:
                item.loop.call_soon_threadsafe(_settle, item.future, result, error)
            except RuntimeError:  # its event loop has closed: nobody waits for this result,
                # and the thread must live on for every other caller
                log.warning("write_caller_gone", error=str(error) if error else None)
