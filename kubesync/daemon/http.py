"""The daemon's HTTP endpoints, on the standard library's threading server.

    GET  /healthz          200 while every sync worker is alive (liveness: restart me otherwise)
    GET  /readyz           200 once every sync has finished a first run, 503 before and while stopping;
                           a JSON body with each sync's state
    GET  /metrics          Prometheus text format
    POST /webhook/<sync>   run that sync now (a git source is polled first); 202, or 404 for an unknown sync
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from kubesync.daemon.metrics import CONTENT_TYPE
from kubesync.errors import UsageError

log = logging.getLogger(__name__)

MAX_BODY = 1 << 20  # webhook payloads are read and dropped; a bigger one is refused


def parse_listen(listen: str) -> tuple[str, int]:
    """'127.0.0.1:9090', ':9090', '0.0.0.0:9090', '[::1]:9090' -> (host, port)."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UsageError(f"--listen {listen!r}: expected HOST:PORT, e.g. 127.0.0.1:9090")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


class StatusServer:
    """Routes to three callables; knows nothing about syncs beyond their names."""

    def __init__(self, listen: str, *, health: Callable[[], tuple[bool, dict]], ready: Callable[[], tuple[bool, dict]],
                 metrics: Callable[[], bytes], trigger: Callable[[str], bool]):
        host, port = parse_listen(listen)
        handler = self._handler(health, ready, metrics, trigger)
        try:
            self.server = ThreadingHTTPServer((host, port), handler)
        except OSError as e:
            raise UsageError(f"cannot listen on {listen}: {e.strerror or e}") from e
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.5}, name="http", daemon=True)

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"

    def start(self) -> "StatusServer":
        self.thread.start()
        log.info("serving /healthz /readyz /metrics on http://%s", self.address)
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @staticmethod
    def _handler(health, ready, metrics, trigger):
        class Handler(BaseHTTPRequestHandler):
            server_version = "kubesync"
            sys_version = ""

            def log_message(self, fmt, *args) -> None:  # scrapes every few seconds are not events
                log.debug("http %s", fmt % args)

            def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _json(self, status: int, doc: dict) -> None:
                self._send(status, (json.dumps(doc, sort_keys=True) + "\n").encode())

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/healthz":
                    ok, doc = health()
                    self._json(200 if ok else 500, doc)
                elif path == "/readyz":
                    ok, doc = ready()
                    self._json(200 if ok else 503, doc)
                elif path == "/metrics":
                    self._send(200, metrics(), CONTENT_TYPE)
                else:
                    self._json(404, {"error": "not found", "paths": ["/healthz", "/readyz", "/metrics", "POST /webhook/<sync>"]})

            do_HEAD = do_GET

            def do_POST(self) -> None:
                path = self.path.split("?", 1)[0]
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    self._json(413, {"error": "payload too large"})
                    return
                if length:
                    self.rfile.read(length)  # the payload is not needed: any push means "look now"
                prefix = "/webhook/"
                if not path.startswith(prefix) or not path[len(prefix):]:
                    self._json(404, {"error": "not found; POST /webhook/<sync>"})
                    return
                sync = path[len(prefix):].strip("/")
                if trigger(sync):
                    log.info("webhook: sync %s triggered", sync)
                    self._json(202, {"sync": sync, "triggered": True})
                else:
                    self._json(404, {"error": f"no sync named {sync!r}"})

        return Handler
