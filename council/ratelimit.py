"""Per-client request limits, kept in memory (one process; Redis-backed at city scale)."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from council.settings import parse_rate


class SlidingWindow:
    """At most ``count`` hits per ``period`` seconds for each key."""

    def __init__(self, rate: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.count, self.period = parse_rate(rate)
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}

    def hit(self, key: str) -> int:
        """Count one hit; 0 when allowed, else the seconds to wait before the next."""
        now = self._clock()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.period:
            hits.popleft()
        if len(hits) >= self.count:
            return max(1, math.ceil(hits[0] + self.period - now))
        hits.append(now)
        if len(self._hits) > 100_000:
            self._forget_idle(now)
        return 0

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, h in self._hits.items() if not h or h[-1] <= now - self.period]:
            del self._hits[key]
