"""Dashboard sessions: one random session per login, with its own CSRF token, revoked at logout,
expired after a fixed lifetime.

The cookie holds 32 random bytes; the daemon keeps only their SHA-256 (a copy of its memory is not a
set of live cookies) with the session's CSRF token and expiry. Sessions live in the process: a
restart, or a new replica behind a load balancer, asks for the token again. At most MAX_SESSIONS
are kept; beyond that the oldest is revoked, so logging in in a loop cannot grow the daemon.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

MAX_SESSIONS = 1000
TTL = 8 * 3600.0


@dataclass(frozen=True)
class Session:
    csrf: str
    expires: float
    """On the `clock` of the store (monotonic): a change of the wall clock neither extends nor ends it."""


def _digest(cookie: str) -> bytes:
    return hashlib.sha256(cookie.encode("utf-8", "replace")).digest()


class Sessions:
    def __init__(self, ttl: float = TTL, limit: int = MAX_SESSIONS, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.limit = limit
        self.clock = clock
        self._live: OrderedDict[bytes, Session] = OrderedDict()
        self._lock = threading.Lock()

    def create(self) -> tuple[str, Session]:
        """A new session: (the cookie's value, the session)."""
        cookie = secrets.token_urlsafe(32)
        session = Session(csrf=secrets.token_hex(32), expires=self.clock() + self.ttl)
        with self._lock:
            self._live[_digest(cookie)] = session
            while len(self._live) > self.limit:
                self._live.popitem(last=False)
        return cookie, session

    def get(self, cookie: str | None) -> Session | None:
        """The live session of a cookie; None when unknown, revoked or expired (then forgotten)."""
        if not cookie or len(cookie) > 100:
            return None
        key = _digest(cookie)
        with self._lock:
            session = self._live.get(key)
            if session is not None and session.expires <= self.clock():
                del self._live[key]
                return None
        return session

    def revoke(self, cookie: str | None) -> bool:
        if not cookie:
            return False
        with self._lock:
            return self._live.pop(_digest(cookie), None) is not None

    def __len__(self) -> int:
        return len(self._live)
