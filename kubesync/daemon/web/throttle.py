"""Throttling of wrong secrets per client: exponential delay, and a log line per burst of failures.

A client may get a secret (the UI token at the login form or as a bearer token, the receiver's
secret) wrong FREE times; after that each failure doubles the time it must wait before its next
attempt (1 s, 2 s, 4 s ... at most MAX_DELAY), and an attempt inside that time is answered 429 with
Retry-After, its body unread, without comparing anything. A right secret clears the client's count;
a client that stays quiet for FORGET seconds is forgotten. At most MAX_CLIENTS are remembered (the
least recent go first), so a spray from many addresses costs bounded memory.

The log says when a client starts failing and again at its 2nd, 4th, 8th ... failure of the burst,
so a guessing attack shows as a handful of lines with its counts, never one line per guess.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

FREE = 3
BASE_DELAY = 1.0
MAX_DELAY = 300.0
FORGET = 900.0
MAX_CLIENTS = 10_000


@dataclass
class _Client:
    failures: int = 0
    since: float = 0.0
    last: float = 0.0
    blocked_until: float = 0.0


class Throttle:
    """Failures per client key; `what` names the secret in log lines ("UI token", "receiver secret")."""

    def __init__(self, what: str, clock: Callable[[], float] = time.monotonic, free: int = FREE,
                 base: float = BASE_DELAY, cap: float = MAX_DELAY):
        self.what = what
        self.clock = clock
        self.free, self.base, self.cap = free, base, cap
        self._clients: OrderedDict[str, _Client] = OrderedDict()

    def _get(self, client: str) -> _Client | None:
        entry = self._clients.get(client)
        if entry is not None and self.clock() - entry.last > max(FORGET, entry.blocked_until - entry.last):
            del self._clients[client]
            return None
        return entry

    def wait(self, client: str) -> float:
        """Seconds before `client` may try again (0: now)."""
        entry = self._get(client)
        return 0.0 if entry is None else max(0.0, entry.blocked_until - self.clock())

    def failed(self, client: str, where: str) -> float:
        """Count a wrong secret from `client` (at `where`, for the log); the seconds it must now wait."""
        now = self.clock()
        entry = self._get(client)
        if entry is None:
            entry = _Client(since=now)
        self._clients[client] = entry
        self._clients.move_to_end(client)
        while len(self._clients) > MAX_CLIENTS:
            self._clients.popitem(last=False)
        entry.failures += 1
        entry.last = now
        over = entry.failures - self.free
        delay = 0.0 if over <= 0 else min(self.cap, self.base * 2 ** (over - 1))
        entry.blocked_until = now + delay
        if entry.failures & (entry.failures - 1) == 0:  # 1, 2, 4, 8 ...: a handful of lines per burst
            log.warning("wrong %s from %s (%s): %d failure(s) in %.0fs; %s", self.what, client, where, entry.failures,
                        now - entry.since, f"its next attempt is refused for {delay:g}s" if delay else "not throttled yet")
        return delay

    def succeeded(self, client: str) -> None:
        entry = self._clients.pop(client, None)
        if entry is not None and entry.failures >= self.free:
            log.info("%s from %s accepted after %d wrong attempt(s)", self.what, client, entry.failures)
