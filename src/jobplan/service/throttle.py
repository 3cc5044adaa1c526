"""Failed-login throttling per user name and per client address, kept in the database."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from jobplan.errors import RateLimited
from jobplan.store import Database
from jobplan.store import throttle as store

__all__ = ["Attempt", "LoginThrottle"]


@dataclass(frozen=True, slots=True)
class Attempt:
    keys: tuple[str, ...]
    at: float


class LoginThrottle:
    """Allows ``max_failures`` failed attempts per key in a window of ``window`` seconds that
    starts at the key's first failure; once they are used up, the key is refused (429 with
    ``Retry-After``) until its window ends.

    Keys are ``user:<name>`` and ``addr:<ip>``, so both guessing one account from many places
    and many accounts from one place are slowed. The counters live in the database (table
    ``login_failures``): a restart does not reset them, and every node of a cluster counts
    against the same limit. Times are wall-clock seconds, comparable across processes.
    """

    def __init__(
        self,
        database: Database,
        max_failures: int,
        window: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self._db = database
        self._clock = clock
        self._last_sweep = -math.inf
        self._sweep_lock = threading.Lock()

    def attempt(self, *keys: str) -> Attempt:
        """Check and count an attempt in one transaction: raise :class:`RateLimited` if any
        key has used up its attempts (counting nothing), else record the attempt as a failure
        of every key until :meth:`succeeded` withdraws it. The keys' rows are locked while
        this runs, so concurrent guesses on any node cannot overrun the limit."""
        now = self._clock()
        with self._db.transaction() as conn:
            counters = store.lock_counters(conn, keys, now)
            current: dict[str, tuple[int, float]] = {}
            for key in keys:
                failures, started = counters[key]
                if started + self.window <= now:  # the window is over: start a new one
                    failures, started = 0, now
                if failures >= self.max_failures:
                    raise RateLimited(
                        "too many failed login attempts; try again later",
                        retry_after=max(1, math.ceil(started + self.window - now)),
                    )
                current[key] = (failures, started)
            for key, (failures, started) in current.items():
                store.save_counter(conn, key, failures + 1, started)
        self._maybe_sweep(now)
        return Attempt(keys, now)

    def succeeded(self, attempt: Attempt, *, clear_user: bool = True) -> None:
        """The attempt was right: clear the user's failures (the first key), withdraw it from
        the others. With ``clear_user=False`` it is only withdrawn from the first key too: for
        a key that more than one account answers to, whose failures one account's success
        must not wipe."""
        user_key, *others = attempt.keys
        with self._db.transaction() as conn:
            if clear_user:
                store.clear(conn, user_key)
            else:
                store.withdraw(conn, user_key, attempt.at)
            for key in others:
                store.withdraw(conn, key, attempt.at)

    def _maybe_sweep(self, now: float) -> None:
        # ended windows count nothing; drop them at most once per window per process, in a
        # transaction of their own (it must not hold other rows' locks while it waits)
        with self._sweep_lock:
            if now - self._last_sweep < self.window:
                return
            self._last_sweep = now
        with self._db.transaction() as conn:
            store.sweep(conn, now - self.window)
