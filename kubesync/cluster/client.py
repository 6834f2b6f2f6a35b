"""One narrow door to the Kubernetes API: `Cluster.request(method, path, ...) -> dict` (typed verbs: api.py).

Raw JSON over a urllib3 pool (no model (de)serialization), with kubectl's kubeconfig rules
(kubeconfig.py), credentials kept fresh (auth.py) and the pool's TLS and proxies (transport.py).
This one place counts requests, retries what is worth retrying within a budget and translates
errors into our tree:
- a server that never answered in this run and refuses the connection fails at once, in one line
  (`cannot reach https://...: connection refused`); once it has answered, a refused connection is a
  restart and is retried;
- every attempt (retries and watch starts included) first takes a token of the connection's rate
  limiter (ratelimit.py; --kube-api-qps, --kube-api-burst);
- 429 and 503 honour Retry-After; other backoffs get jitter; every retry spends a shared budget;
- a 401 makes the credentials refresh (token file, exec plugin) and the request go out once more;
- a 500 that will not go away by retrying (an unreachable admission webhook, a full IP range) is
  not retried: the applier recognises it across objects and stops.
"""

from __future__ import annotations

import errno
import json
import logging
import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Iterator
from urllib.parse import urlencode

import urllib3
from urllib3._collections import HTTPHeaderDict

from kubesync import errors
from kubesync.cluster import kubeconfig, transport
from kubesync.cluster.auth import Credentials
from kubesync.cluster.kubeconfig import Overrides, Target
from kubesync.cluster.ratelimit import RateLimiter
from kubesync.model import PatchType

log = logging.getLogger(__name__)

JSON = "application/json"
JSON_PATCH = PatchType.JSON
MERGE_PATCH = PatchType.MERGE


@dataclass(frozen=True)
class ClientSettings:
    """How patient the client is with the API server."""

    retry_backoff: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 4.0)
    """Sleeps between attempts for transient failures (5xx, 429, connection errors); its length is the retry count."""

    jitter: float = 0.3
    """Each backoff sleep is scaled by a random factor in [1 - jitter, 1 + jitter], so writers do not retry in step."""

    timeout: float = 30.0
    """Seconds for one request (--request-timeout; watches use their own). 0: no timeout."""

    retry_budget: float = 60.0
    """Seconds of retry sleeps one request may spend (Retry-After answers included). Per request, not shared by
    the connection's concurrent requests: 32 writes riding out one restart must not spend each other's budget."""

    max_retry_after: float = 30.0
    """The longest Retry-After honoured; a server asking for more gets this."""

    pool_size: int = 32
    """Connections kept open to the server; at least the apply concurrency, or extra ones are opened (a TLS handshake each) and dropped."""

    qps: float = 0.0
    """Requests a second this connection sends at most once `burst` is spent (--kube-api-qps); every attempt counts,
    retries and the start of each watch included, as in client-go. 0 or less: no client-side limit, as
    controller-runtime now does (relying on the server's API Priority and Fairness); the daemon sets 50 and
    300, Flux's kustomize-controller defaults (commands/common.py)."""

    burst: int = 300
    """Requests sent at once before `qps` paces them (--kube-api-burst): the size of the token bucket."""


STATUS_ERRORS: dict[int, type[errors.ClusterError]] = {
    401: errors.ClusterUnauthorized,
    403: errors.ClusterUnauthorized,
    404: errors.ClusterNotFound,
    409: errors.ClusterConflict,
    422: errors.ClusterInvalid,
    429: errors.ClusterTransient,
}


# Decode errors quote bytes of our own request body around the bad position; that body may hold a
# Secret's values, so the quotes are cut out: `error found in #10 byte of ...|"data":{"pw":"x|...`.
_BODY_QUOTES = re.compile(r"(error found in #\d+ byte of|bigger context) \.\.\.\|.*?\|\.\.\.", re.S)


# A JSON patch refused by strict field validation quotes the whole patched object (Secret values
# included) before the reason: `patch: Invalid value: "{...}": strict decoding error: unknown field "x"`.
_OBJECT_DUMP = re.compile(r'Invalid value: "\{.*\}": (strict decoding error:)', re.S)


def strip_body_quotes(message: str) -> str:
    message = _OBJECT_DUMP.sub(r"\1", message)
    return _BODY_QUOTES.sub(lambda m: m.group(1) + " (request excerpt withheld: it may hold Secret values)", message)


_WARNING = re.compile(r'\s*(\d{3})\s+\S+\s+"((?:[^"\\]|\\.)*)"(?:\s+"[^"]*")?\s*,?')
MAX_WARNINGS = 50  # per answer: a hostile aggregated API could send thousands


def parse_warnings(values) -> list[str]:
    """The texts of RFC 7234 Warning headers (`299 - "unknown field \\"spec.replica\\""`), each cut short."""
    out: list[str] = []
    for value in values or ():
        pos = 0
        while pos < len(value) and len(out) < MAX_WARNINGS:
            m = _WARNING.match(value, pos)
            if not m:
                break
            out.append(errors.cut(re.sub(r"\\(.)", r"\1", m.group(2)), 300))
            pos = m.end()
    return out


# 5xx answers that retrying will not change: the same answer comes back for every object.
PERSISTENT_5XX = re.compile(r"failed calling webhook|range is full|failed to allocate a (serviceIP|nodePort)", re.I)


def error_for(status: int, body: dict, method: str, path: str, who: str = "") -> errors.ClusterError:
    """HTTP status picks the subclass; the message is the server's, cut short, never quoting our body.
    A refusal (401, 403) also says who asked (`who`: context, user, server; kubeconfig.who)."""
    message = strip_body_quotes(str(body.get("message") or f"HTTP {status}"))
    if who and status in (401, 403):
        message = f"{message} [{who}]"
    cls = STATUS_ERRORS.get(status) or (errors.ClusterTransient if status >= 500 else errors.ClusterError)
    if cls is errors.ClusterTransient and status != 429 and PERSISTENT_5XX.search(message):
        cls = errors.ClusterError
    body = {**body, "message": message} if "message" in body else body
    details = body.get("details")
    if isinstance(details, dict) and isinstance(details.get("causes"), list):
        causes = [{**c, "message": strip_body_quotes(str(c.get("message") or ""))} if isinstance(c, dict) else c
                  for c in details["causes"]]
        body = {**body, "details": {**details, "causes": causes}}
    return cls(f"{method} {path}: {message}", status=status, reason=str(body.get("reason") or ""), body=body)


# Called with (method, path, attempt) before every request is sent: attempt 0 is the first try, n
# the n-th retry; a watch is method "WATCH". For counting and tracing (bench/, tests) without
# wrapping or patching Cluster. Hooks must be quick and must not raise.
RequestHook = Callable[[str, str, int], None]
_request_hooks: list[RequestHook] = []


def add_request_hook(hook: RequestHook) -> Callable[[], None]:
    """Call `hook` for every request any Cluster in this process sends; returns the function removing it."""
    _request_hooks.append(hook)
    return lambda: _request_hooks.remove(hook) if hook in _request_hooks else None


def _announce(method: str, path: str, attempt: int) -> None:
    for hook in tuple(_request_hooks):
        hook(method, path, attempt)


def retry_after(headers) -> float | None:
    """Seconds from a Retry-After header (a number or an HTTP date), or None."""
    value = (headers or {}).get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _chain(e: BaseException) -> list[BaseException]:
    """The error, its urllib3 `reason` and its causes, outermost first."""
    out: list[BaseException] = []
    cur: BaseException | None = e
    while cur is not None and not any(cur is seen for seen in out):
        out.append(cur)
        reason = getattr(cur, "reason", None)
        cur = reason if isinstance(reason, BaseException) else (cur.__cause__ or cur.__context__)
    return out


def unreachable_reason(e: Exception) -> str:
    """`connection refused`, `timed out`... in a few words, from a urllib3 error and what caused it."""
    chain = _chain(e)
    if any(isinstance(c, ConnectionRefusedError) or getattr(c, "errno", None) == errno.ECONNREFUSED for c in chain):
        return "connection refused"  # urllib3's NewConnectionError is also a ConnectTimeoutError: look deeper first
    for c in chain:
        if isinstance(c, urllib3.exceptions.NameResolutionError):
            return "host name not found"
        if isinstance(c, urllib3.exceptions.SSLError):
            return f"TLS error: {c}"
        if isinstance(c, (urllib3.exceptions.ConnectTimeoutError, urllib3.exceptions.ReadTimeoutError, TimeoutError)):
            return "timed out"
    return f"{type(e).__name__}: {e}"


@dataclass
class RequestStats:
    """Requests sent, by method; shared by every thread using one Cluster."""

    by_method: Counter = field(default_factory=Counter)
    retries: int = 0
    rate_limited: int = 0
    """Requests that waited for the client-side rate limiter (ClientSettings.qps/burst)."""
    rate_limited_seconds: float = 0.0
    """Seconds those requests spent waiting for it, summed over threads."""
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, method: str) -> None:
        with self.lock:
            self.by_method[method] += 1

    @property
    def total(self) -> int:
        return sum(self.by_method.values())


class Cluster:
    """A connection to one cluster (one kubeconfig context): it sends requests; the typed verbs built on
    it are api.Client's. Its raw `get(path)` serves this package's tests and tools."""

    def __init__(self, target: Target, settings: ClientSettings | None = None):
        self.target = self.configuration = target
        self.settings = settings or ClientSettings()
        self.context = target.context
        self.server = target.host.rstrip("/")
        self.credentials = Credentials(target)
        self.stats = RequestStats()
        self.limiter = RateLimiter(self.settings.qps, self.settings.burst)  # one bucket for every thread of this connection
        self.answered = False  # has the server answered anything yet (then a refused connection is a restart)
        self._extra_headers = target.impersonate.headers()
        self._pool_lock = threading.Lock()
        self._pool_pair: tuple[str, str] | None = None
        self._pool = transport.pool_manager(target, maxsize=self.settings.pool_size)

    @property
    def namespace(self) -> str:
        """The context's namespace ('' when it names none): the default for objects that name none."""
        return self.target.namespace

    @classmethod
    def connect(cls, kubeconfig_path: str | None = None, context: str | None = None, settings: ClientSettings | None = None,
                overrides: Overrides | None = None) -> "Cluster":
        """kubectl's choice of kubeconfig (flag, $KUBECONFIG list, ~/.kube/config) or, without one, in-cluster."""
        overrides = overrides or Overrides()
        if context:
            overrides = Overrides(context, overrides.user, overrides.groups, overrides.uid)
        return cls(kubeconfig.load(kubeconfig_path, overrides), settings)

    def get(self, path: str, **query) -> dict:
        return self.request("GET", path, query=query)

    def get_or_none(self, path: str) -> dict | None:
        try:
            return self.request("GET", path)
        except errors.ClusterNotFound:
            return None

    # -- the one request function ----------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str = JSON,
        timeout: float | None = None,
        retry: bool = True,
        warnings: list[str] | None = None,
    ) -> dict:
        """Send one API request; retry transient failures within the budget; return the decoded JSON body.
        `warnings`, when given, receives the server's Warning headers of the answer (deprecations,
        unknown fields under fieldValidation=Warn)."""
        backoff = self.settings.retry_backoff if retry else ()
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        refreshed = False
        n, spent = 0, 0.0  # retries so far, and the seconds they slept
        attempt = 0  # every send, retries and the one after a 401 included
        while True:
            try:
                _announce(method, path, attempt)
                attempt += 1
                return self._send(method, path, query, data, content_type, timeout, warnings)
            except errors.ClusterUnauthorized as e:
                if e.status != 401 or refreshed or not self.credentials.refresh():
                    raise
                refreshed = True
                log.info("%s: 401 Unauthorized; refreshing the credentials and trying once more", path)
            except (errors.ClusterTransient, errors.ClusterUnreachable) as e:
                if n >= len(backoff) or (isinstance(e, errors.ClusterUnreachable) and not self.answered):
                    raise
                pause = self._pause(e, backoff[n])
                spent += pause
                if spent > self.settings.retry_budget:
                    raise type(e)(f"{e} (retry budget of {self.settings.retry_budget:.0f}s spent)",
                                  status=e.status, reason=e.reason, body=e.body) from e
                n += 1
                with self.stats.lock:
                    self.stats.retries += 1
                log.warning("%s; retrying in %.1fs (%d/%d)", e, pause, n, len(backoff))
                time.sleep(pause)

    def _pause(self, e: errors.ClusterError, base: float) -> float:
        after = getattr(e, "retry_after", None)
        if after is not None and e.status in (429, 503):
            return min(after, self.settings.max_retry_after)
        return base * random.uniform(1 - self.settings.jitter, 1 + self.settings.jitter)

    def _headers(self, method: str, content_type: str) -> HTTPHeaderDict:
        headers = HTTPHeaderDict({"Accept": JSON, "User-Agent": "kubesync"})
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            headers["Content-Type"] = content_type
        auth = self.credentials.authorization()
        if auth:
            headers["Authorization"] = auth
        for name, value in self._extra_headers:
            headers.add(name, value)
        return headers

    def _url(self, path: str, query: dict[str, Any] | None) -> str:
        q = {k: v for k, v in (query or {}).items() if v is not None}
        return self.server + path + ("?" + urlencode(q) if q else "")

    def pool(self) -> urllib3.PoolManager:
        """The pool; rebuilt when an exec plugin hands out a new client certificate."""
        pair = self.credentials.cert_pair()
        if pair != self._pool_pair:
            with self._pool_lock:
                if pair != self._pool_pair:
                    self._pool = transport.pool_manager(self.target, pair, self.settings.pool_size)
                    self._pool_pair = pair
        return self._pool

    def _timeout(self, timeout: float | None) -> urllib3.Timeout:
        total = timeout or self.settings.timeout
        return urllib3.Timeout(total=total) if total else urllib3.Timeout(connect=None, read=None)

    def _unreachable(self, what: str, e: Exception) -> errors.ClusterUnreachable:
        return errors.ClusterUnreachable(f"cannot reach {self.server}: {unreachable_reason(e)} ({what})")

    def _throttle(self) -> None:
        """Wait for the rate limiter's token before an attempt goes out (a 429 storm is not our making)."""
        waited = self.limiter.wait()
        if waited:
            with self.stats.lock:
                self.stats.rate_limited += 1
                self.stats.rate_limited_seconds += waited

    def _send(self, method, path, query, data, content_type, timeout, warnings=None) -> dict:
        self._throttle()
        headers = self._headers(method, content_type)  # before counting: a failing exec plugin sends nothing
        self.stats.add(method)
        try:
            resp = self.pool().request(method, self._url(path, query), body=data, headers=headers,
                                       timeout=self._timeout(timeout), retries=False)
        except urllib3.exceptions.HTTPError as e:
            raise self._unreachable(f"{method} {path}", e) from e
        self.answered = True
        raw = resp.data
        try:
            decoded = json.loads(raw) if raw else {}
        except ValueError:
            decoded = {"message": raw[:200].decode(errors="replace")}
        if resp.status >= 400:
            err = error_for(resp.status, decoded if isinstance(decoded, dict) else {}, method, path, kubeconfig.who(self.target))
            err.retry_after = retry_after(resp.headers)  # type: ignore[attr-defined]
            raise err
        if warnings is not None:
            warnings.extend(parse_warnings(resp.headers.getlist("Warning")))
        return decoded

    def stream(self, path: str, query: dict[str, Any], timeout: float) -> Iterator[dict]:
        """Line-delimited JSON events of a watch; ends when the server closes it or the timeout passes."""
        self._throttle()
        headers = self._headers("GET", JSON)
        _announce("WATCH", path, 0)
        self.stats.add("WATCH")
        try:
            resp = self.pool().request(
                "GET",
                self._url(path, {**query, "watch": "true"}),
                headers=headers,
                timeout=urllib3.Timeout(connect=min(5.0, self.settings.timeout or 5.0), read=timeout),
                retries=False,
                preload_content=False,
            )
        except urllib3.exceptions.HTTPError as e:
            raise self._unreachable(f"watch {path}", e) from e
        self.answered = True
        if resp.status >= 400:
            body = json.loads(resp.data or b"{}")
            if resp.status == 401:
                self.credentials.refresh()
            raise error_for(resp.status, body, "WATCH", path, kubeconfig.who(self.target))
        try:
            buf = b""
            for chunk in resp.stream(65536):
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line)
        except (urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.ProtocolError):
            return
        finally:
            resp.release_conn()
