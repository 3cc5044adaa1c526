"""The single writer thread outlives any one caller: a caller whose event loop has closed
(its engine was torn down abruptly) must not kill the thread, or every later change would
wait forever for a writer that is gone."""

from __future__ import annotations

import asyncio
import contextlib
import threading

from sqlalchemy import Connection

from jobplan.engine.writer import Writer
from jobplan.store import Database


def test_a_caller_whose_loop_closed_does_not_stop_the_writer(database: Database) -> None:
    writer = Writer(database)
    writer.start()
    applying = threading.Event()
    release = threading.Event()

    def held(conn: Connection) -> int:
        applying.set()
        release.wait(30)
        return 1

    gone = asyncio.new_event_loop()
    task = gone.create_task(writer.run(held))
    gone.run_until_complete(asyncio.sleep(0))  # queued; the writer is applying it
    assert applying.wait(30)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        gone.run_until_complete(task)
    gone.close()
    release.set()  # the writer commits, then settles a future of a closed loop

    async def later() -> int:
        return await asyncio.wait_for(writer.run(lambda conn: 2), 30)

    try:
        assert asyncio.run(later()) == 2
    finally:
        writer.stop()
