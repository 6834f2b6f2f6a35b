"""The Starlette app: probes, metrics, the webhook receiver, the dashboard (ui.py) and its API
(api.py), over callables the daemon supplies.

    GET  /healthz          200 while every sync worker is alive (liveness: restart me otherwise)
    GET  /readyz           200 while the process can take traffic: not stopping, its election settled
                           (leader, shard holder or follower), its watch caches listed; 503 otherwise.
                           About the process only: a failing sync stays 200 (read GET /api/v1/syncs)
    GET  /metrics          Prometheus text format
    POST /webhook/<sync>   authenticated trigger (receiver.py): 202, coalesced per sync

Every route but the probes and the webhook (authenticated by its secret, and reached through proxies
under public names) first checks the request's Host (clients.py): a name that is not ours is refused
with 421 before anything else, which is what stops DNS rebinding. `probe_app` is the probe listener's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Collection, Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kubesync.daemon.election.leader import AlwaysLeader
from kubesync.daemon.metrics import CONTENT_TYPE
from kubesync.daemon.settings import HttpSettings, ReceiverSettings, UiSettings
from kubesync.daemon.web.api import JSON, api_routes
from kubesync.daemon.web.auth import Access
from kubesync.daemon.web.bodies import Budget
from kubesync.daemon.web.clients import HostCheck
from kubesync.daemon.web.receiver import Receiver
from kubesync.daemon.web.refusal import Refused
from kubesync.daemon.web.ui import ui_routes

log = logging.getLogger(__name__)

PATHS = ["GET /", "GET /syncs/<name>", "GET /api/v1/openapi.json", "GET /healthz", "GET /readyz", "GET /metrics",
         "POST /webhook/<sync>"]


@dataclass(frozen=True)
class Hooks:
    """What the web surface may ask of the daemon: plain callables, so it is tested without one."""

    health: Callable[[], tuple[bool, dict]]
    """(alive, document) for /healthz."""
    ready: Callable[[], tuple[bool, dict]]
    """(ready, document) for /readyz; the document must hold nothing secret."""
    metrics: Callable[[], bytes]
    """The Prometheus exposition."""
    trigger: Callable[[str], object]
    """Run a sync now (called once per coalesced burst of webhooks)."""
    syncs: Callable[[], Collection[str]]
    """The names of the syncs."""
    workers: Callable[[], Sequence] = tuple
    """The sync workers (`.sync`, `.status`, `.history`) the dashboard and /api/v1 show."""
    act: Callable[[str, str], bool] = lambda sync, action: False
    """"Sync now" (action `sync`) or "Refresh" (`refresh`) from the dashboard; False for an unknown sync."""
    source: Callable[[str], tuple[str | None, str | None] | None] | None = None
    """A sync's (git repository, ref), (None, None) when it reads a folder, None when there is no such sync
    (what a signed webhook delivery is bound to); by default from `workers`."""
    election: Callable[[], dict] = AlwaysLeader().report
    """The election's report (mode, leader, holder, conflicts) for /api/v1/syncs and the dashboard."""


def build_app(hooks: Hooks, http: HttpSettings | None = None, receiver: ReceiverSettings | None = None,
              ui: UiSettings | None = None, loopback: bool = True, listen_host: str = "127.0.0.1") -> Starlette:
    """`loopback`: the daemon listens on a loopback address only, so reading the dashboard is open.
    `listen_host`: the host of --listen, a Host header the app accepts (with ui.hosts)."""
    http, receiver = http or HttpSettings(), receiver or ReceiverSettings()
    access = Access(ui or UiSettings(), loopback)
    budget = Budget(http.max_body_total)
    webhooks = Receiver(receiver, http, budget, access.proxies, _safely(hooks.trigger), hooks.source or _sources(hooks))

    async def metrics(request: Request) -> Response:
        return Response(hooks.metrics(), media_type=CONTENT_TYPE)

    routes = [
        *probe_routes(hooks),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/webhook/{sync}", webhooks.handle, methods=["POST"]),
        *api_routes(hooks, access),
        *ui_routes(hooks, access, http, budget),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error, Refused: _refused, Exception: _crash})
    app.router.redirect_slashes = False  # '/api/v1/syncs/' is a 404 like any unknown path, not a redirect
    return host_checked(app, HostCheck(listen_host, access.ui.hosts))


def probe_routes(hooks: Hooks) -> list[Route]:
    async def healthz(request: Request) -> Response:
        ok, doc = hooks.health()
        return JSON(doc, 200 if ok else 500)

    async def readyz(request: Request) -> Response:
        ok, doc = hooks.ready()
        return JSON(doc, 200 if ok else 503)

    return [Route("/healthz", healthz, methods=["GET"]), Route("/readyz", readyz, methods=["GET"])]


def probe_app(hooks: Hooks) -> Starlette:
    """The probe listener's app: /healthz and /readyz only, each answer closing its connection."""
    async def closing(scope, receive, send):
        async def send_closing(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)
        await inner(scope, receive, send_closing)

    inner = Starlette(routes=probe_routes(hooks), exception_handlers={HTTPException: _http_error, Exception: _crash})
    return closing


UNCHECKED = ("/healthz", "/readyz", "/webhook/")


def host_checked(app, check: HostCheck):
    """The app behind the Host check (421 for a name that is not ours), except for the probes and the webhook."""
    async def checked(scope, receive, send):
        path = scope.get("path", "")
        if scope["type"] == "http" and not (path in UNCHECKED or path.startswith(UNCHECKED[-1])):
            host = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"host"), None)
            if not check.allows(host):
                log.info("http: refused a request for Host %r: not a name of this daemon (--allowed-host)", (host or "")[:100])
                message = f"Host {(host or '')[:100]!r} is not a name of this daemon; add it with --allowed-host"
                return await JSON({"error": message}, 421, headers={"Connection": "close"})(scope, receive, send)
        await app(scope, receive, send)

    return checked


def _sources(hooks: Hooks) -> Callable[[str], tuple[str | None, str | None] | None]:
    def source(sync: str):
        worker = next((w for w in hooks.workers() if w.sync.name == sync), None)
        if worker is None:
            return (None, None) if sync in hooks.syncs() else None
        return worker.sync.source.repo, worker.sync.source.ref

    return source


def _safely(trigger: Callable[[str], object]) -> Callable[[str], None]:
    def fire(sync: str) -> None:
        try:
            trigger(sync)
        except Exception:  # a timer callback that raises would only reach asyncio's default handler
            log.exception("webhook: triggering sync %s failed", sync)

    return fire


async def _http_error(request: Request, exc: HTTPException) -> Response:
    doc = {"error": exc.detail}
    if exc.status_code == 404:
        doc["paths"] = PATHS
    headers = dict(exc.headers or {})
    headers["Connection"] = "close"  # a refused request's body is never read
    return JSON(doc, exc.status_code, headers=headers)


async def _refused(request: Request, exc: Refused) -> Response:
    return exc.response()


async def _crash(request: Request, exc: Exception) -> Response:
    log.error("http: %s %s failed: %s", request.method, request.url.path, type(exc).__name__, exc_info=exc)
    return JSON({"error": "internal error; see the daemon's log"}, 500, headers={"Connection": "close"})
