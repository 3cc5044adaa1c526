"""Pausing the cyclic garbage collector around bounded, allocation-heavy work: a bundle's
entries being built, a scheduler tick opening thousands of runs.

CPython starts a collection every few hundred container allocations, and a full one each
time the objects that survived grow by a quarter, whether or not any of them can form a
cycle. Rendering a 10,000-job plan allocates a few hundred thousand dicts and lists that live
until the plan is written, next to the validated plan documents: the full collections it
triggers walk all of that several times, about a fifth of the export's time (more in a server
holding large caches). The objects built here are freed by reference counting; the few
cycles (a context tree while a plan is read back) wait for the next collection after the
pause. A scheduler tick is alike: a burst's tick builds tens of thousands of short-lived
records next to a version cache holding every scheduled plan's parsed document, and the
collections it triggered were 15-30% of its CPU.

The pause is process-wide (``gc.disable``), so it is kept to bounded, CPU-bound work (never
around I/O of unknown length such as history streamed from the database). Nested and
concurrent pauses are counted: the collector is re-enabled when the last one ends, and only
if it was enabled when the first began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["paused_gc"]

_lock = threading.Lock()
_depth = 0
_resume = False


@contextmanager
def paused_gc() -> Iterator[None]:
    """Run the block with the cyclic garbage collector disabled (reference counting still
    frees everything else)."""
    global _depth, _resume
    with _lock:
        if _depth == 0:
            _resume = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                gc.enable()
