"""Who may read the dashboard and who may press "Sync now".

Reading is open on a loopback listen address; elsewhere it needs the UI token unless `--ui-public`.
Actions always need the token: as `Authorization: Bearer <token>`, or through the login form, which
starts a session (sessions.py: random, expiring, revoked at logout) whose HttpOnly, SameSite=Strict
cookie is `Secure` when the request came over https (ours, or a trusted proxy's: clients.py); a
cookie-authenticated POST must also carry its session's CSRF token, which the pages embed.

Wrong tokens are throttled per client (throttle.py): once a client is throttled its bearer tokens and
logins are answered 429 without being compared (or their bodies read) until its delay has passed.
"""

from __future__ import annotations

import hmac
import ipaddress
import math

from starlette.requests import Request

from kubesync.daemon.settings import UiSettings
from kubesync.daemon.web.clients import client_of, is_https, networks
from kubesync.daemon.web.refusal import Refused
from kubesync.daemon.web.sessions import Session, Sessions
from kubesync.daemon.web.throttle import Throttle

COOKIE = "kubesync_session"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def too_many(wait: float) -> Refused:
    seconds = max(1, math.ceil(wait))
    return Refused(429, f"too many wrong tokens from this client; try again in {seconds}s", {"Retry-After": str(seconds)})


class Access:
    def __init__(self, ui: UiSettings, loopback: bool):
        self.ui = ui
        self.loopback = loopback
        self.proxies = networks(ui.trusted_proxies)
        self.sessions = Sessions(ui.session_ttl)
        self.throttle = Throttle("UI token")

    def client(self, request: Request) -> str:
        return client_of(request, self.proxies)

    def https(self, request: Request) -> bool:
        return is_https(request, self.proxies)

    def token_ok(self, given: str) -> bool:
        return self.ui.token is not None and hmac.compare_digest(given.encode("latin-1", "replace"), self.ui.token)

    def check_token(self, request: Request, given: str, where: str) -> bool:
        """Compare a token a client sent (throttled: Refused 429 while it must wait), counting a wrong one."""
        client = self.client(request)
        if (wait := self.throttle.wait(client)) > 0:
            raise too_many(wait)
        if self.token_ok(given):
            self.throttle.succeeded(client)
            return True
        self.throttle.failed(client, where)
        return False

    def bearer(self, request: Request) -> bool:
        """A right `Authorization: Bearer` token (remembered for the rest of the request); Refused 429 when throttled."""
        state = request.scope.setdefault("state", {})
        if "kubesync_bearer" not in state:
            scheme, _, value = request.headers.get("authorization", "").partition(" ")
            given = scheme.lower() == "bearer" and value.strip()
            where = f"{request.method} {request.url.path[:100]}"
            state["kubesync_bearer"] = bool(given) and self.check_token(request, value.strip(), where)
        return state["kubesync_bearer"]

    def session(self, request: Request) -> Session | None:
        return self.sessions.get(request.cookies.get(COOKIE)) if self.ui.token is not None else None

    def signed_in(self, request: Request) -> bool:
        return self.bearer(request) or self.session(request) is not None

    def csrf(self, request: Request) -> str:
        """The CSRF token of the request's session ('' without one): what the pages' forms carry."""
        session = self.session(request)
        return session.csrf if session is not None else ""

    def may_read(self, request: Request) -> bool:
        return self.loopback or self.ui.public or self.signed_in(request)

    def may_act(self, request: Request, csrf: str = "") -> bool:
        """A bearer token, or a live session together with its CSRF token."""
        if self.bearer(request):
            return True
        session = self.session(request)
        given = csrf or request.headers.get("x-csrf-token", "")
        return session is not None and hmac.compare_digest(given.encode("latin-1", "replace"), session.csrf.encode())

    def may_post_form(self, request: Request) -> bool:
        """Whether a dashboard form's body is worth reading: a bearer token or a live session (its CSRF token
        is in the body); anyone else is refused before a byte of it is read."""
        return self.bearer(request) or self.session(request) is not None
