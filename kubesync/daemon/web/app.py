"""The Starlette app: probes, metrics, the webhook receiver, the dashboard (ui.py) and its API
(api.py), over callables the daemon supplies.

    GET  /healthz          200 while every sync worker is alive (liveness: restart me otherwise)
    GET  /readyz           200 while the process can take traffic: not stopping, its election settled
                           (leader, shard holder or follower), its watch caches listed; 503 otherwise.
                           About the process only: a failing sync stays 200 (read GET /api/v1/syncs)
    GET  /metrics          Prometheus text format
    POST /webhook/<sync>   authenticated trigger (receiver.py): 202, coalesced per sync
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

from kubesync.daemon.metrics import CONTENT_TYPE
from kubesync.daemon.settings import HttpSettings, ReceiverSettings, UiSettings
from kubesync.daemon.web.api import JSON, api_routes
from kubesync.daemon.web.auth import Access
from kubesync.daemon.web.receiver import Coalescer, Refused, verify
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


def build_app(hooks: Hooks, http: HttpSettings | None = None, receiver: ReceiverSettings | None = None,
              ui: UiSettings | None = None, loopback: bool = True) -> Starlette:
    """`loopback`: the daemon listens on a loopback address only, so reading the dashboard is open."""
    http, receiver = http or HttpSettings(), receiver or ReceiverSettings()
    access = Access(ui or UiSettings(), loopback)
    coalescer = Coalescer(_safely(hooks.trigger), receiver.quiet, receiver.max_delay)

    async def healthz(request: Request) -> Response:
        ok, doc = hooks.health()
        return JSON(doc, 200 if ok else 500)

    async def readyz(request: Request) -> Response:
        ok, doc = hooks.ready()
        return JSON(doc, 200 if ok else 503)

    async def metrics(request: Request) -> Response:
        return Response(hooks.metrics(), media_type=CONTENT_TYPE)

    async def webhook(request: Request) -> Response:
        sync = request.path_params["sync"]
        try:
            await verify(request, receiver, http)
        except Refused as e:
            log.debug("webhook for %r refused: %s", sync[:100], e)
            return e.response()
        if sync not in hooks.syncs():
            return JSON({"error": f"no sync named {sync[:100]!r}"}, 404)
        delay = coalescer.poke(sync)
        log.info("webhook: sync %s triggered", sync)
        return JSON({"sync": sync, "triggered": True, "runs_in_seconds": round(delay, 1)}, 202)

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/webhook/{sync}", webhook, methods=["POST"]),
        *api_routes(hooks, access),
        *ui_routes(hooks, access, http),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error, Exception: _crash})
    app.router.redirect_slashes = False  # '/api/v1/syncs/' is a 404 like any unknown path, not a redirect
    return app


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


async def _crash(request: Request, exc: Exception) -> Response:
    log.error("http: %s %s failed: %s", request.method, request.url.path, type(exc).__name__, exc_info=exc)
    return JSON({"error": "internal error; see the daemon's log"}, 500, headers={"Connection": "close"})
