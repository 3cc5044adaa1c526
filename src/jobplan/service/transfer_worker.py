"""The threads that run export and import jobs on this node.

Jobs are CPU- and disk-bound (zip, JSON, validation), so they run in threads beside the
engine's event loop rather than in it. Any node may claim any queued job; a job whose node
dies is closed by the deadline sweep of whichever node is alive.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import structlog

from jobplan.service.transfers import TransferService

__all__ = ["TransferWorker", "hosted_transfers"]

log = structlog.get_logger(__name__)

_SWEEP_EVERY = 5.0  # seconds between deadline and retention sweeps
_IDLE_WAIT = 1.0  # seconds a thread sleeps when it found nothing (unless woken)


class TransferWorker:
    """``threads`` threads claiming queued jobs; :meth:`wake` makes them look at once."""

    def __init__(self, service: TransferService, threads: int, *, single_node: bool) -> None:
        self._service = service
        self._count = threads
        self._single_node = single_node
        self.node_id = str(uuid.uuid4())
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        #: per thread, ``time.monotonic()`` when it last finished a pass (for readiness)
        self.beats: dict[int, float] = {}

    @property
    def threads(self) -> int:
        """How many of this worker's threads are alive."""
        return sum(1 for thread in self._threads if thread.is_alive())

    @property
    def expected(self) -> int:
        return self._count

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._single_node:
            # one server owns a SQLite database: whatever ran before it was interrupted
            interrupted = self._service.interrupted()
            if interrupted:
                log.warning("transfers_interrupted", jobs=interrupted)
        self._service.notify = self.wake
        for index in range(self._count):
            self.beats[index] = time.monotonic()
            thread = threading.Thread(
                target=self._loop, args=(index, index == 0), name=f"transfers-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=30)
        self._threads.clear()
        self._service.notify = lambda: None

    def _loop(self, index: int, sweeper: bool) -> None:
        next_sweep = 0.0
        while not self._stop.is_set():
            self.beats[index] = time.monotonic()
            try:
                if sweeper and time.monotonic() >= next_sweep:
                    self._service.sweep()
                    next_sweep = time.monotonic() + _SWEEP_EVERY
                if self._service.run_next(self.node_id):
                    continue
            except Exception:  # a database outage must not kill the thread
                log.exception("transfer_worker_error")
                self._stop.wait(_IDLE_WAIT)
            self._wake.wait(_IDLE_WAIT)
            self._wake.clear()


@contextmanager
def hosted_transfers(
    service: TransferService, threads: int, *, single_node: bool
) -> Iterator[TransferWorker]:
    """Run a :class:`TransferWorker` for the duration of the block."""
    worker = TransferWorker(service, threads, single_node=single_node)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
