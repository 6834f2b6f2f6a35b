"""The daemon's HTTP servers: uvicorn (h11) serving a Starlette app of `daemon/web/`, each in a thread.

The parsing, limits and timeouts of a server that listens on a cluster network are where attacks
land, so they are left to a maintained server: h11 refuses a malformed or negative Content-Length
and oversized headers with 400, and the event loop holds idle connections without a thread each.
What uvicorn lacks is added by `daemon/protocol.py` (header deadline, paced reads, connection
limits with eviction of idle connections) and, in the app, by `daemon/web/bodies.py` (a size, time
and shared memory budget for bodies).

The probes may have a listener of their own (`--probe-listen`): its own thread and event loop, only
/healthz and /readyz, so neither a busy app nor any number of clients on the main port can make the
kubelet restart a healthy daemon. The connection limits are kept under the process's file-descriptor
limit (raised to its hard limit at startup), so an accept() never fails for want of one.

The socket is bound in the caller's thread, so a busy port or a bad address is a UsageError at
startup rather than a log line from the server thread.
"""

from __future__ import annotations

import logging
import resource
import socket
import threading
import time

import uvicorn

from kubesync.daemon.protocol import Admission, GuardedProtocol
from kubesync.daemon.settings import HttpSettings
from kubesync.errors import UsageError

log = logging.getLogger(__name__)

BACKLOG = 128
"""Connections the kernel queues for accept(); also how many asyncio accepts in one go."""
FD_RESERVE = 512
"""File descriptors left for the rest of the process (watches, git, the probe listener, an accept burst)."""


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
        sock.listen(BACKLOG)
    except OSError as e:
        sock.close()
        raise UsageError(f"cannot listen on {listen}: {e.strerror or e}") from None
    sock.setblocking(False)
    return sock


def raise_fd_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard one (as Go programs do); the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (OSError, ValueError):
            pass
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def connection_limit(wanted: int) -> int:
    """`wanted`, or less when the file-descriptor limit would not leave FD_RESERVE for the rest of the process."""
    room = max(16, raise_fd_limit() - FD_RESERVE)
    if wanted > room:
        log.warning("http: at most %d open connections (not %d): the process may open %d files (ulimit -n)",
                    room, wanted, room + FD_RESERVE)
    return min(wanted, room)


class StatusServer:
    """An ASGI app on uvicorn in a thread of its own; `stop()` returns once the server has closed.

    `probes`: the probe listener's limits (only /healthz and /readyz, no body, closed after each answer)."""

    def __init__(self, listen: str, app, http: HttpSettings | None = None, probes: bool = False):
        http = http or HttpSettings()
        self.sock = bind(listen)
        self.probes = probes
        total = http.probe_connections if probes else connection_limit(http.max_connections)
        self.admission = Admission(total, total if probes else http.max_client_connections)
        attrs = {"header_timeout": min(http.header_timeout, 2.0) if probes else http.header_timeout,
                 "admission": self.admission}
        config = uvicorn.Config(
            app, http=type("Protocol", (GuardedProtocol,), attrs), ws="none", lifespan="off", loop="asyncio",
            log_config=None, log_level=logging.ERROR, access_log=False, server_header=False, proxy_headers=False,
            timeout_keep_alive=1 if probes else http.keep_alive, h11_max_incomplete_event_size=http.max_header,
            backlog=BACKLOG, timeout_graceful_shutdown=5,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._serve, name="probes" if probes else "http", daemon=True)

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
        if self.probes:
            log.info("serving /healthz /readyz on http://%s", self.address)
        else:
            log.info("serving /healthz /readyz /metrics /webhook/<sync> on http://%s", self.address)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(timeout)
        self.sock.close()
