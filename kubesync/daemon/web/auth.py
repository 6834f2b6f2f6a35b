"""Who may read the dashboard and who may press "Sync now".

Reading is open on a loopback listen address; elsewhere it needs the UI token unless `--ui-public`.
Actions always need the token: as `Authorization: Bearer <token>`, or through the login form, which
sets an HttpOnly, SameSite=Strict session cookie; a cookie-authenticated POST must also carry the
CSRF token the pages embed. Session and CSRF values are HMACs under a key made at startup, so a
restart logs everyone out and nothing secret is derived from the token alone.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets

from starlette.requests import Request

from kubesync.daemon.settings import UiSettings

COOKIE = "kubesync_session"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Access:
    def __init__(self, ui: UiSettings, loopback: bool):
        self.ui = ui
        self.loopback = loopback
        self._key = secrets.token_bytes(32)

    def _mac(self, purpose: str) -> str:
        return hmac.new(self._key, purpose.encode() + b"\0" + (self.ui.token or b""), hashlib.sha256).hexdigest()

    @property
    def session(self) -> str:
        return self._mac("session")

    @property
    def csrf(self) -> str:
        return self._mac("csrf")

    def token_ok(self, given: str) -> bool:
        return self.ui.token is not None and hmac.compare_digest(given.encode("latin-1", "replace"), self.ui.token)

    def bearer(self, request: Request) -> bool:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and self.token_ok(value.strip())

    def cookie(self, request: Request) -> bool:
        return self.ui.token is not None and hmac.compare_digest(request.cookies.get(COOKIE, ""), self.session)

    def signed_in(self, request: Request) -> bool:
        return self.bearer(request) or self.cookie(request)

    def may_read(self, request: Request) -> bool:
        return self.loopback or self.ui.public or self.signed_in(request)

    def may_act(self, request: Request, csrf: str = "") -> bool:
        """A bearer token, or the session cookie together with the page's CSRF token."""
        if self.bearer(request):
            return True
        given = csrf or request.headers.get("x-csrf-token", "")
        return self.cookie(request) and hmac.compare_digest(given.encode("latin-1", "replace"), self.csrf.encode())
