"""POST /webhook/<sync>: who may trigger a run, how much of a body is read, and how often it runs.

A trigger is proof of one shared secret in any of three forms a git host sends:
    X-Hub-Signature-256: sha256=<HMAC-SHA256 of the body>   (GitHub, Gitea, Forgejo)
    X-Gitlab-Token: <secret>                                 (GitLab)
    Authorization: Bearer <secret>                           (anything else, curl)
compared in constant time. Without a secret the receiver is off unless `--receiver-insecure`.
Triggers for one sync are coalesced: a burst of POSTs becomes one run (`Coalescer`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from typing import Callable

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

from kubesync.daemon.settings import HttpSettings, ReceiverSettings

OFF = ("the webhook receiver is off: no secret is configured; set one with --receiver-secret-file "
       "or receiver.secretFile in kubesync.yaml (or accept anyone with --receiver-insecure)")
HOW = "send X-Hub-Signature-256 (GitHub), X-Gitlab-Token (GitLab) or Authorization: Bearer <secret>"


class Refused(Exception):
    """A request answered with an error; the connection is closed (its body may be unread)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.headers = {"Connection": "close", **(headers or {})}

    def response(self) -> JSONResponse:
        return JSONResponse({"error": str(self)}, self.status, headers=self.headers)


async def read_body(request: Request, http: HttpSettings) -> bytes:
    """The body, read as a stream and never past `http.max_body`, whatever Content-Length said."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > http.max_body):
        raise Refused(413 if length.isdigit() else 400, _too_large(http) if length.isdigit() else "invalid Content-Length")
    body = bytearray()
    try:
        async with asyncio.timeout(http.body_timeout):
            async for chunk in request.stream():
                if len(body) + len(chunk) > http.max_body:
                    raise Refused(413, _too_large(http))
                body += chunk
    except TimeoutError:
        raise Refused(408, f"the body took longer than {http.body_timeout:g}s") from None
    except ClientDisconnect:
        raise Refused(400, "the client went away before the body ended") from None
    return bytes(body)


def _too_large(http: HttpSettings) -> str:
    return f"the body is larger than {http.max_body} bytes"


def _same(given: str, want: bytes) -> bool:
    return hmac.compare_digest(given.encode("latin-1", "replace"), want)


def signature(secret: bytes, body: bytes) -> str:
    """GitHub's X-Hub-Signature-256 value for `body`."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


async def verify(request: Request, receiver: ReceiverSettings, http: HttpSettings) -> bytes:
    """The request's body once it proved it knows the secret; Refused otherwise (before reading it
    when a header token is wrong, so an unauthenticated client cannot make the daemon read much)."""
    secret = receiver.secret
    if secret is None:
        if not receiver.insecure:
            raise Refused(403, OFF)
        return await read_body(request, http)
    headers = request.headers
    scheme, _, bearer = headers.get("authorization", "").partition(" ")
    if "x-hub-signature-256" in headers:
        body = await read_body(request, http)
        if not _same(headers["x-hub-signature-256"], signature(secret, body).encode()):
            raise Refused(403, "the signature does not match the body and the configured secret")
        return body
    if "x-gitlab-token" in headers:
        ok = _same(headers["x-gitlab-token"], secret)
    elif scheme.lower() == "bearer" and bearer:
        ok = _same(bearer.strip(), secret)
    else:
        raise Refused(401, f"authentication required: {HOW}", {"WWW-Authenticate": 'Bearer realm="kubesync"'})
    if not ok:
        raise Refused(403, "the token does not match the configured secret")
    return await read_body(request, http)


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
