"""Failed-login throttling per user name and per client address (in-process)."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from jobplan.errors import RateLimited

__all__ = ["LoginThrottle"]


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

    def check(self, *keys: str) -> None:
        """Raise :class:`RateLimited` if any key has used up its attempts."""
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

    def failed(self, *keys: str) -> None:
        now = self._clock()
        with self._lock:
            for key in keys:
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)
