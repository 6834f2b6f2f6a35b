"""POST /webhook/<sync>: who may trigger a run, how much of a body is read, and how often it runs.

A trigger is proof of one shared secret in any of three forms a git host sends:
    X-Hub-Signature-256: sha256=<HMAC-SHA256 of the body>   (GitHub, Gitea, Forgejo)
    X-Gitlab-Token: <secret>                                 (GitLab)
    Authorization: Bearer <secret>                           (anything else, curl)
compared in constant time. Without a secret the receiver is off unless `--receiver-insecure`.
The headers are checked first: a token is compared and a signature's shape checked before a byte of
the body is read; only a well-formed signature makes the receiver read the body (bodies.py: within
the limit and the shared budget) to verify it. Wrong secrets are throttled per client (throttle.py).
A signed delivery is bound to the sync and accepted once (delivery.py). Triggers for one sync are
coalesced: a burst of POSTs becomes one run (`Coalescer`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
from typing import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kubesync.daemon.settings import HttpSettings, ReceiverSettings
from kubesync.daemon.web import bodies
from kubesync.daemon.web.auth import too_many
from kubesync.daemon.web.clients import Network, client_of
from kubesync.daemon.web.delivery import Deliveries, bound, payload_of
from kubesync.daemon.web.refusal import Refused
from kubesync.daemon.web.throttle import Throttle

log = logging.getLogger(__name__)

OFF = ("the webhook receiver is off: no secret is configured; set one with --receiver-secret-file "
       "or receiver.secretFile in kubesync.yaml (or accept anyone with --receiver-insecure)")
HOW = "send X-Hub-Signature-256 (GitHub), X-Gitlab-Token (GitLab) or Authorization: Bearer <secret>"
SIGNATURE = re.compile(r"sha256=[0-9a-f]{64}")


def signature(secret: bytes, body: bytes | bytearray) -> str:
    """GitHub's X-Hub-Signature-256 value for `body`."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def _same(given: str, want: bytes) -> bool:
    return hmac.compare_digest(given.encode("latin-1", "replace"), want)


class Receiver:
    """The webhook route: authentication, body, binding, replay, then a coalesced trigger.

    `source(sync)`: the sync's (repository, ref), (None, None) for a folder, None for no such sync."""

    def __init__(self, receiver: ReceiverSettings, http: HttpSettings, budget: bodies.Budget,
                 proxies: tuple[Network, ...], trigger: Callable[[str], object],
                 source: Callable[[str], tuple[str | None, str | None] | None]):
        self.settings, self.http, self.budget, self.proxies = receiver, http, budget, proxies
        self.source = source
        self.throttle = Throttle("receiver secret")
        self.deliveries = Deliveries()
        self.coalescer = Coalescer(trigger, receiver.quiet, receiver.max_delay)

    def _token(self, request: Request) -> str | None:
        """The token form's secret ('' when its header is empty), None when the request sends none."""
        headers = request.headers
        if "x-gitlab-token" in headers:
            return headers["x-gitlab-token"]
        scheme, _, value = headers.get("authorization", "").partition(" ")
        return value.strip() if scheme.lower() == "bearer" and value.strip() else None

    def _fail(self, client: str, status: int, message: str) -> Refused:
        self.throttle.failed(client, "POST /webhook")
        return Refused(status, message)

    def authenticate(self, request: Request, client: str) -> bool:
        """From the headers alone: True when the body must be read to verify a signature, False when a token
        (or --receiver-insecure) already proved enough; Refused otherwise, before the body is read."""
        secret = self.settings.secret
        if secret is None:
            if not self.settings.insecure:
                raise Refused(403, OFF)
            return False
        if (wait := self.throttle.wait(client)) > 0:
            raise too_many(wait)
        if "x-hub-signature-256" in request.headers:
            if not SIGNATURE.fullmatch(request.headers["x-hub-signature-256"]):
                raise self._fail(client, 403, "the signature is not of the form sha256=<64 hex digits>")
            return True
        token = self._token(request)
        if token is None:
            raise Refused(401, f"authentication required: {HOW}", {"WWW-Authenticate": 'Bearer realm="kubesync"'})
        if not _same(token, secret):
            raise self._fail(client, 403, "the token does not match the configured secret")
        self.throttle.succeeded(client)
        return False

    async def handle(self, request: Request) -> Response:
        sync = request.path_params["sync"]
        client = client_of(request, self.proxies)
        try:
            if self.authenticate(request, client):
                async with bodies.read(request, self.http.max_body, self.budget, self.http.body_timeout) as body:
                    if not _same(request.headers["x-hub-signature-256"], signature(self.settings.secret, body).encode()):
                        raise self._fail(client, 403, "the signature does not match the body and the configured secret")
                    self.throttle.succeeded(client)
                    return self._accept(request, sync, body)
            return self._accept(request, sync, None)
        except Refused as e:
            log.debug("webhook for %r refused: %s", sync[:100], e)
            return e.response()

    def _accept(self, request: Request, sync: str, signed: bytearray | None) -> Response:
        """After authentication: the sync exists, the delivery is bound to it and new; then the trigger."""
        source = self.source(sync)
        if source is None:
            return JSONResponse({"error": f"no sync named {sync[:100]!r}"}, 404)
        keys = Deliveries.keys(sync, request.headers, signed)
        if signed is not None and not bound(sync, payload_of(signed, request.headers.get("content-type", "")), *source):
            return JSONResponse({"sync": sync, "triggered": False, "reason": "a push to a ref the sync does not follow"}, 200)
        if self.deliveries.seen(keys):
            log.warning("webhook: a replayed delivery for sync %s refused", sync)
            raise Refused(409, "this delivery was already received")
        self.deliveries.remember(keys)
        delay = self.coalescer.poke(sync)
        log.info("webhook: sync %s triggered", sync)
        return JSONResponse({"sync": sync, "triggered": True, "runs_in_seconds": round(delay, 1)}, 202)


class Coalescer:
    """Calls `fire(sync)` once per burst: `quiet` seconds after its last poke, at the latest `max_delay`
    after its first. Timers live on the server's event loop: no thread, nothing per idle sync."""

    def __init__(self, fire: Callable[[str], object], quiet: float, max_delay: float):
        self.fire = fire
        self.quiet = quiet
        self.max_delay = max_delay
        self._pending: dict[str, tuple[float, asyncio.TimerHandle]] = {}

    def poke(self, sync: str) -> float:
        """Schedule (or postpone) the sync's trigger; returns the seconds until it fires."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        first, handle = self._pending.get(sync, (now, None))
        if handle is not None:
            handle.cancel()
        due = min(now + self.quiet, first + self.max_delay)
        self._pending[sync] = (first, loop.call_at(due, self._fire, sync))
        return max(0.0, due - now)

    def _fire(self, sync: str) -> None:
        self._pending.pop(sync, None)
        self.fire(sync)
