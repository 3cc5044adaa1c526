"""Failed-login throttling per user name and per client address (in-process)."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from jobplan.errors import RateLimited

__all__ = ["Attempt", "LoginThrottle"]


@dataclass(frozen=True, slots=True)
class Attempt:
    keys: tuple[str, ...]
    at: float


class LoginThrottle:
    """Allows ``max_failures`` failed attempts per key within ``window`` seconds.

    Keys are ``user:<name>`` and ``addr:<ip>``, so both guessing one account from many places
    and many accounts from one place are slowed. State is per process: in a cluster each node
    counts on its own, which still bounds guessing to ``nodes * max_failures`` per window.
    """

    def __init__(
        self, max_failures: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self.max_keys = 100_000  # beyond this, stale keys are swept on the next attempt
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        entries = self._failures.get(key)
        if entries is None:
            return deque()
        while entries and entries[0] <= now - self.window:
            entries.popleft()
        if not entries:
            del self._failures[key]
        return entries

    def attempt(self, *keys: str) -> Attempt:
        """Check and count an attempt in one step: raise :class:`RateLimited` if any key has
        used up its attempts, else record the attempt as a failure until
        :meth:`succeeded` withdraws it."""
        now = self._clock()
        with self._lock:
            for key in keys:
                entries = self._recent(key, now)
                if len(entries) >= self.max_failures:
                    retry_after = max(1, math.ceil(entries[0] + self.window - now))
                    raise RateLimited(
                        "too many failed login attempts; try again later",
                        retry_after=retry_after,
                    )
            if len(self._failures) > self.max_keys:
                self._sweep(now)
            for key in keys:
                self._failures.setdefault(key, deque()).append(now)
        return Attempt(keys, now)

    def succeeded(self, attempt: Attempt) -> None:
        """The attempt was right: clear the user's failures, withdraw it from the others."""
        with self._lock:
            user_key, *others = attempt.keys
            self._failures.pop(user_key, None)
            for key in others:
                entries = self._failures.get(key)
                if entries is not None and attempt.at in entries:
                    entries.remove(attempt.at)

    def _sweep(self, now: float) -> None:
        for key in list(self._failures):
            self._recent(key, now)
