"""The daemon's HTTP server: uvicorn (h11) serving the Starlette app of `daemon/web/`, in one thread.

The parsing, limits and timeouts of a server that listens on a cluster network are where attacks
land, so they are left to a maintained server: h11 refuses a malformed or negative Content-Length
and oversized headers with 400, and the event loop holds idle connections without a thread each.
Two limits uvicorn lacks are added here: a deadline for a request's headers (a client that never
finishes them is dropped) and, in the app, a size and time limit on the body.

The socket is bound in the caller's thread, so a busy port or a bad address is a UsageError at
startup rather than a log line from the server thread.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from kubesync.daemon.settings import HttpSettings
from kubesync.errors import UsageError

log = logging.getLogger(__name__)


def parse_listen(listen: str) -> tuple[str, int]:
    """'127.0.0.1:9090', ':9090', '0.0.0.0:9090', '[::1]:9090', '[::]:9090' -> (host, port)."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UsageError(f"--listen {listen!r}: expected HOST:PORT, e.g. 127.0.0.1:9090 or [::1]:9090")
    if host.startswith("[") != host.endswith("]") or (":" in host and not host.startswith("[")):
        raise UsageError(f"--listen {listen!r}: write an IPv6 address in brackets, e.g. [::1]:9090")
    host = host[1:-1] if host.startswith("[") else host
    return host or "0.0.0.0", int(port)


def bind(listen: str) -> socket.socket:
    """A listening socket for HOST:PORT (IPv4 or IPv6); UsageError naming the address otherwise."""
    host, port = parse_listen(listen)
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as e:
        raise UsageError(f"cannot listen on {listen}: {e.strerror or e}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(128)
    except OSError as e:
        sock.close()
        raise UsageError(f"cannot listen on {listen}: {e.strerror or e}") from None
    sock.setblocking(False)
    return sock


class HeaderDeadline(H11Protocol):
    """uvicorn's h11 protocol plus a deadline for the headers of each request.

    The clock starts when the connection opens (or, on a kept-alive connection, with the next
    request's first byte) and is not reset by later bytes, so trickling a byte at a time does not help.
    """

    header_timeout = 10.0
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._deadline = self.loop.call_later(self.header_timeout, self._too_slow)

    def data_received(self, data: bytes) -> None:
        if self._deadline is None and self.conn.their_state is h11.IDLE:
            self._deadline = self.loop.call_later(self.header_timeout, self._too_slow)
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._cancel()

    def connection_lost(self, exc) -> None:
        self._cancel()
        super().connection_lost(exc)

    def _cancel(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            log.debug("http: dropped %s: no complete request headers within %gs", self.client, self.header_timeout)
            self.transport.close()


class StatusServer:
    """An ASGI app on uvicorn in a thread of its own; `stop()` returns once the server has closed."""

    def __init__(self, listen: str, app, http: HttpSettings | None = None):
        http = http or HttpSettings()
        self.sock = bind(listen)
        protocol = type("Protocol", (HeaderDeadline,), {"header_timeout": http.header_timeout})
        config = uvicorn.Config(
            app, http=protocol, ws="none", lifespan="off", loop="asyncio", log_config=None, log_level=logging.ERROR,
            access_log=False, server_header=False, proxy_headers=False, timeout_keep_alive=http.keep_alive,
            h11_max_incomplete_event_size=http.max_header, limit_concurrency=http.max_connections,
            timeout_graceful_shutdown=5,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._serve, name="http", daemon=True)

    @property
    def address(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def _serve(self) -> None:
        try:
            self.server.run(sockets=[self.sock])
        except BaseException:  # noqa: BLE001 - the thread must say why it ended
            log.exception("the HTTP server stopped unexpectedly")

    def start(self, timeout: float = 10.0) -> "StatusServer":
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        log.info("serving /healthz /readyz /metrics /webhook/<sync> on http://%s", self.address)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(timeout)
        self.sock.close()
