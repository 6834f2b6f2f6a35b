"""Client-side request limits: one token bucket per connection, as client-go's QPS and Burst.

A thousand syncs starting at once share one Cluster per context; without a limit their first
LISTs and dry runs reach the API server together. The bucket holds at most `burst` tokens and
gains `qps` a second; every request attempt (each retry, each start of a watch) takes one and
waits for it when none is left.

Waiting threads reserve their token under the lock, then sleep outside it until it is due: they
are served in the order they asked, and nobody spins. Seconds waited are summed per Cluster
(`Cluster.stats`) and for the whole process (`waited()`), which the daemon exports as
`kubesync_client_rate_limited_seconds_total`.
"""

from __future__ import annotations

import threading
import time
from typing import Callable


class _Tally:
    """Waits of every limiter in this process: requests delayed and seconds spent waiting."""

    def __init__(self) -> None:
        self.delayed, self.seconds = 0, 0.0
        self._lock = threading.Lock()

    def add(self, seconds: float) -> None:
        with self._lock:
            self.delayed += 1
            self.seconds += seconds


_TALLY = _Tally()


def waited() -> tuple[int, float]:
    """(requests delayed, seconds waited) by every rate limiter in this process so far."""
    with _TALLY._lock:
        return _TALLY.delayed, _TALLY.seconds


class RateLimiter:
    """`qps` tokens a second, at most `burst` saved up; `qps <= 0` lets everything through at once."""

    def __init__(self, qps: float, burst: int, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.qps = float(qps)
        self.burst = max(1, int(burst))
        self._clock, self._sleep = clock, sleep
        self._tokens = float(self.burst)
        self._at = clock()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.qps > 0

    def reserve(self) -> float:
        """Take one token, going into debt if none is left: the seconds until it is due (0: now)."""
        if not self.enabled:
            return 0.0
        with self._lock:
            now = self._clock()
            self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.qps)
            self._at = now
            self._tokens -= 1.0
            return -self._tokens / self.qps if self._tokens < 0 else 0.0

    def wait(self) -> float:
        """Block until this caller may send one request; the seconds it waited."""
        delay = self.reserve()
        if delay > 0:
            _TALLY.add(delay)
            self._sleep(delay)
        return delay
