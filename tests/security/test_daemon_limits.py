"""The daemon's HTTP surface under load from clients it never authenticated (issue 31, finding 1):
memory bounded by one body budget, idle connections that cannot lock out the probes, and a log that
a file-descriptor shortage cannot flood.

Each attack runs against a real daemon (a subprocess, as in production) pointed at a closed API
server port: its HTTP surface does not depend on the cluster. Clients come from many loopback
addresses (127.0.0.0/8 is all ours) where an attack from many hosts is meant, so what holds is the
global limit, not the per-client one.
"""

from __future__ import annotations

import os
import resource
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.integration.daemon_harness import DaemonProcess
from tests.security.test_daemon_http import (MIB, SHAPED, connect, folder_source, loopback_client, rss_mb, started,
                                             unreachable, secret_file)  # noqa: F401 (fixtures)

PROBES = ("/healthz", "/readyz")


@pytest.fixture(autouse=True)
def many_files():
    """This test process holds thousands of sockets: raise its own file-descriptor limit (not the daemon's)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, 8192)
    if wanted < 4096:
        pytest.fail(f"the test needs 4096 file descriptors; the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def open_fds(d: DaemonProcess) -> int:
    return len(os.listdir(f"/proc/{d.proc.pid}/fd"))


def probe(d: DaemonProcess, path: str, port: int | None = None) -> int | None:
    """One kubelet-style probe: a new connection, GET, an answer within 1 s (timeoutSeconds' default); the status."""
    try:
        with connect(d, port=port) as s:
            s.settimeout(1.0)
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: {d.host}\r\nConnection: close\r\n\r\n".encode())
            answer = s.recv(100)
        return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else None
    except OSError:
        return None


ATTACKS = [  # refused by the headers (a malformed signature, no session), by the size, or read into the budget
    b"POST /webhook/shop HTTP/1.1\r\nHost: HOST\r\nX-Hub-Signature-256: sha256=junk\r\nContent-Length: %d\r\n\r\n",
    b"POST /webhook/shop HTTP/1.1\r\nHost: HOST\r\nX-Hub-Signature-256: " + SHAPED.encode() + b"\r\nContent-Length: %d\r\n\r\n",
    b"POST /login HTTP/1.1\r\nHost: HOST\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n",
    b"POST /syncs/shop/sync HTTP/1.1\r\nHost: HOST\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n",
    b"POST /webhook/shop HTTP/1.1\r\nHost: HOST\r\nX-Hub-Signature-256: " + SHAPED.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n",
]


def send_body(d: DaemonProcess, i: int, body: bytes) -> int | None:
    """Client i sends one of ATTACKS with a 1 MiB body; the status the daemon answered (None: it only closed)."""
    head = ATTACKS[i % len(ATTACKS)].replace(b"HOST", f"{d.host}:{d.port}".encode())
    chunked = b"chunked" in head
    payload = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body) if chunked else body
    answer = b""
    try:
        with connect(d, loopback_client(i)) as s:
            s.settimeout(30)
            s.sendall((head if chunked else head % len(body)) + payload)
            answer = s.recv(100)
    except OSError:
        pass  # the daemon may close before the body is all sent: that is the point
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else None


def test_500_connections_sending_1_mib_bodies_leave_the_daemon_under_150_mb(tmp_path, unreachable, secret_file):
    token = tmp_path / "ui-token"
    token.write_text("ui-token-0123456789abcdef\n")
    args = [folder_source(tmp_path), "--name", "shop", "--interval", "5m", "--receiver-secret-file", secret_file[1],
            "--ui-token-file", str(token)]
    with DaemonProcess(args, unreachable, tmp_path, probes=True) as d:
        started(d)
        before, peak, done = rss_mb(d), [0.0], threading.Event()

        def watch() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], rss_mb(d))
                done.wait(0.02)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        body = os.urandom(MIB)
        started_at = time.monotonic()
        with ThreadPoolExecutor(500) as pool:
            statuses = list(pool.map(lambda i: send_body(d, i, body), range(500)))
        elapsed = time.monotonic() - started_at
        done.set()
        watcher.join()
        after = rss_mb(d)
        assert peak[0] < 150, f"peak RSS {peak[0]:.0f} MB (from {before:.0f} MB) for 500 x 1 MiB in {elapsed:.1f}s"
        assert after < 150, f"RSS {after:.0f} MB after the connections closed"
        assert 202 not in statuses and all(s is None or 400 <= s < 500 or s == 503 for s in statuses), statuses
        assert {403, 413} <= set(statuses), statuses  # refused by its headers, and by its size
        print(f"RSS {before:.0f} MB before, {peak[0]:.0f} MB peak, {after:.0f} MB after; {elapsed:.1f}s; "
              f"statuses {sorted(set(statuses), key=str)}")
        assert d.http("/healthz", port=d.probe_port)[0] == 200 and d.http("/readyz")[0] == 200


def test_1100_idle_connections_leave_every_probe_answering_200(tmp_path, unreachable):
    """At a 1,024 file-descriptor limit: 1,100 idle connections to the main port from as many addresses,
    1,100 more from one address, and 1,100 to the probe port. Every kubelet-style probe answers 200
    within a second on both ports, the daemon never runs out of descriptors, and its log stays short."""
    args = [folder_source(tmp_path), "--name", "shop", "--interval", "5m"]
    with DaemonProcess(args, unreachable, tmp_path, probes=True, nofile=1024) as d:
        started(d)
        lines_before = len(d.log().splitlines())
        idle: list[socket.socket] = []
        try:
            for i in range(1100):
                idle.append(connect(d, loopback_client(i)))
                idle.append(connect(d, "127.0.0.1"))
                idle.append(connect(d, loopback_client(i), port=d.probe_port))
            for _ in range(5):
                for path in PROBES:
                    assert probe(d, path, port=d.probe_port) == 200, f"{path} on the probe port"
                    assert probe(d, path) == 200, f"{path} on the main port"
                assert open_fds(d) < 1024 - 64, f"{open_fds(d)} open file descriptors at a limit of 1024"
        finally:
            for s in idle:
                s.close()
        log = d.log()
        assert "out of system resource" not in log and "Too many open files" not in log
        assert len(log.splitlines()) - lines_before < 50, log[-3000:]
        assert d.http("/healthz")[0] == 200
