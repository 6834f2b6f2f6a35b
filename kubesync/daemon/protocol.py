"""The HTTP connection a listener keeps: uvicorn's h11 protocol plus the limits a listening daemon needs.

What a client can make the server hold, and for how long, is bounded here, per connection and per
listener, before the app sees a request:
- headers: a deadline from the connection's first byte (trickling bytes does not extend it), and
  `h11_max_incomplete_event_size` (set by the server) on their size;
- bytes read ahead: one read of READ_SIZE at a time, and none at all while a request's body waits
  for the app to ask for it, so a client the app refuses (or has not authenticated yet) cannot make
  the daemon buffer its body: the app reads a body only after the headers authenticated it, into
  the shared budget of `daemon/web/bodies.py`;
- connections (`Admission`): at most `total` per listener and `per_client` per client address (an
  IPv6 client by its /64). Over either limit the oldest connection of that scope that is not in the
  middle of a request (idle between keep-alive requests, or still sending its headers) is dropped to
  make room; only when every one is busy is the new connection refused. So idle or slow clients,
  however many, never lock out a new one that sends a request at once (a probe, a person), and the
  process's file descriptors stay well under its limit: it is never the accept() that fails.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections import OrderedDict

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)

READ_SIZE = 16 << 10
"""Bytes one read of a connection may take (asyncio's default is 256 KiB per read)."""


def client_key(host: str | None) -> str:
    """Who a connection's limits count against: an IPv4 address, an IPv6 /64 (one host's usual share), or the text."""
    try:
        addr = ipaddress.ip_address(host or "")
    except ValueError:
        return host or ""
    if addr.version == 4:
        return str(addr)
    if addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(ipaddress.ip_network(f"{addr}/64", strict=False))


class Admission:
    """The open connections of one listener, oldest first, overall and per client (one event loop: no locks)."""

    def __init__(self, total: int, per_client: int):
        self.total = max(1, total)
        self.per_client = max(1, per_client)
        self.open: OrderedDict[GuardedProtocol, str] = OrderedDict()
        self.by_client: dict[str, OrderedDict[GuardedProtocol, None]] = {}
        self.refused = 0
        self.evicted = 0

    def admit(self, conn: "GuardedProtocol") -> bool:
        """Make room for `conn` (dropping the oldest idle connection of a full scope) and count it; False: refuse it."""
        key = client_key(conn.peer)
        mine = self.by_client.get(key, OrderedDict())
        for scope, limit, why in ((mine, self.per_client, "per-client"), (self.open, self.total, "total")):
            if len(scope) >= limit and not self._evict(scope):
                self.refused += 1
                log.warning("http: refusing connections: the %s limit of %d open connections is reached and every "
                            "one of them is in a request", why, limit)
                return False
        self.open[conn] = key
        self.by_client.setdefault(key, mine)[conn] = None
        return True

    def _evict(self, scope) -> bool:
        victim = next((c for c in scope if c.waiting()), None)
        if victim is None:
            return False
        self.evicted += 1
        self.left(victim)
        victim.drop("dropped to make room for a new connection: it had no request in progress")
        return True

    def left(self, conn: "GuardedProtocol") -> None:
        key = self.open.pop(conn, None)
        if key is None:
            return
        mine = self.by_client.get(key)
        if mine is not None:
            mine.pop(conn, None)
            if not mine:
                del self.by_client[key]


class GuardedProtocol(H11Protocol):
    """uvicorn's h11 protocol with a header deadline, paced reads and the listener's `Admission`.

    The deadline starts when the connection opens (or, on a kept-alive connection, with the next
    request's first byte) and is not reset by later bytes. Subclassed per listener with its settings."""

    header_timeout = 10.0
    admission: Admission | None = None
    _deadline: asyncio.TimerHandle | None = None
    peer: str | None = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        transport.max_size = READ_SIZE  # an attribute of asyncio's socket transport, read per recv()
        self.peer = self.client[0] if self.client else None
        if self.admission is not None and not self.admission.admit(self):
            transport.abort()
            return
        self._deadline = self.loop.call_later(self.header_timeout, self._too_slow)

    def waiting(self) -> bool:
        """No request in progress: still sending the headers of one, or idle between two."""
        return self.conn.their_state is h11.IDLE and self.conn.our_state is h11.IDLE

    def data_received(self, data: bytes) -> None:
        if self._deadline is None and self.conn.their_state is h11.IDLE:
            self._deadline = self.loop.call_later(self.header_timeout, self._too_slow)
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._cancel()
        if self.conn.their_state is h11.SEND_BODY and self.cycle is not None and not self.cycle.response_complete:
            self.flow.pause_reading()  # the app's receive() resumes it: one read per chunk it asks for

    def on_response_complete(self) -> None:
        if self.conn.their_state is h11.SEND_BODY and not self.transport.is_closing():
            self.transport.close()  # a body the app did not read is never read: closed, not drained
        super().on_response_complete()

    def connection_lost(self, exc) -> None:
        self._cancel()
        if self.admission is not None:
            self.admission.left(self)
        super().connection_lost(exc)

    def drop(self, why: str) -> None:
        self._cancel()
        log.debug("http: dropped %s: %s", self.client, why)
        self.transport.abort()

    def _cancel(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.drop(f"no complete request headers within {self.header_timeout:g}s")
