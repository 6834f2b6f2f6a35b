"""One narrow door to the Kubernetes API: `Cluster.request(method, path, ...) -> dict`.

The official client does kubeconfig / in-cluster loading, auth (tokens, client certs, exec plugins)
and TLS; we send raw JSON over its urllib3 pool, which keeps calls cheap (no model (de)serialization)
and lets one place count requests, retry transient failures and translate errors into our tree.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator
from urllib.parse import urlencode

import urllib3

from kubesync import errors
from kubesync.cluster.kubeconfig import Direct
from kubesync.model import PatchType
from kubesync.cluster.kubeconfig import read as read_kubeconfig

log = logging.getLogger(__name__)

JSON = "application/json"
JSON_PATCH = PatchType.JSON
MERGE_PATCH = PatchType.MERGE


@dataclass(frozen=True)
class ClientSettings:
    """How patient the client is with the API server."""

    retry_backoff: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 4.0)
    """Sleeps between attempts for transient failures (5xx, 429, connection errors); its length is the retry count."""

    timeout: float = 30.0
    """Seconds for one request (watches use their own)."""



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


def strip_body_quotes(message: str) -> str:
    return _BODY_QUOTES.sub(lambda m: m.group(1) + " (request excerpt withheld: it may hold Secret values)", message)


def error_for(status: int, body: dict, method: str, path: str) -> errors.ClusterError:
    """HTTP status picks the subclass; the message is the server's, cut short, never quoting our body."""
    cls = STATUS_ERRORS.get(status) or (errors.ClusterTransient if status >= 500 else errors.ClusterError)
    message = strip_body_quotes(str(body.get("message") or f"HTTP {status}"))
    body = {**body, "message": message} if "message" in body else body
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


@dataclass
class RequestStats:
    """Requests sent, by method; shared by every thread using one Cluster."""

    by_method: Counter = field(default_factory=Counter)
    retries: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, method: str) -> None:
        with self.lock:
            self.by_method[method] += 1

    @property
    def total(self) -> int:
        return sum(self.by_method.values())


class Requests:
    """Reads built on `request`, for a Cluster and for anything that wraps one."""

    def request(self, method: str, path: str, **kwargs) -> dict:
        raise NotImplementedError

    def get(self, path: str, **query) -> dict:
        return self.request("GET", path, query=query)

    def get_or_none(self, path: str) -> dict | None:
        try:
            return self.request("GET", path)
        except errors.ClusterNotFound:
            return None


class Cluster(Requests):
    """A connection to one cluster (one kubeconfig context)."""

    def __init__(self, configuration, settings: ClientSettings | None = None, context: str = ""):
        """`configuration`: the official client's Configuration, or a kubeconfig.Direct (no client import)."""
        self.configuration = configuration
        self.settings = settings or ClientSettings()
        self.context = context
        if isinstance(configuration, Direct):
            self._api = None
            self._pool = configuration.pool_manager()
            self._auth = configuration.auth_headers()
        else:
            from kubernetes.client import ApiClient

            self._api = ApiClient(configuration)
            self._pool = self._api.rest_client.pool_manager
            self._auth = {}
        self.server = configuration.host.rstrip("/")
        self.stats = RequestStats()

    @classmethod
    def connect(cls, kubeconfig: str | None = None, context: str | None = None, settings: ClientSettings | None = None) -> "Cluster":
        """kubeconfig (flag, $KUBECONFIG, ~/.kube/config) or, when none exists, in-cluster configuration."""
        path = kubeconfig or os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
        if kubeconfig or os.path.exists(path):
            direct = read_kubeconfig(path, context)  # the common shapes, without importing the official client
            if direct is not None:
                return cls(direct, settings, context or "")

        from kubernetes import config as kconfig
        from kubernetes.client import Configuration

        cfg = Configuration()
        try:
            if kubeconfig or os.path.exists(path.split(os.pathsep)[0]):
                kconfig.load_kube_config(config_file=path, context=context, client_configuration=cfg, persist_config=False)
            elif os.environ.get("KUBERNETES_SERVICE_HOST"):
                kconfig.load_incluster_config(client_configuration=cfg)
            else:
                raise errors.ClusterUnreachable(
                    f"no kubeconfig at {path} and not running in a cluster; pass --kubeconfig or set KUBECONFIG"
                )
        except kconfig.ConfigException as e:
            raise errors.ClusterUnreachable(f"cannot load kubeconfig {path}: {e}") from e
        cfg.retries = False
        return cls(cfg, settings, context or "")

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
    ) -> dict:
        """Send one API request; retry transient failures; return the decoded JSON body."""
        attempts = (0.0, *self.settings.retry_backoff) if retry else (0.0,)
        for n, pause in enumerate(attempts):
            if pause:
                time.sleep(pause)
            _announce(method, path, n)
            try:
                return self._send(method, path, query, body, content_type, timeout)
            except (errors.ClusterTransient, errors.ClusterUnreachable) as e:
                if n == len(attempts) - 1:
                    raise
                with self.stats.lock:
                    self.stats.retries += 1
                log.warning("%s; retrying (%d/%d)", e, n + 1, len(attempts) - 1)
        raise AssertionError("unreachable")

    def _headers(self, method: str, path: str, content_type: str) -> dict[str, str]:
        headers = {"Accept": JSON, "User-Agent": "kubesync"}
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            headers["Content-Type"] = content_type
        if self._api is None:
            headers.update(self._auth)
        else:
            self._api.update_params_for_auth(headers, [], ["BearerToken"], path, method, None)
        return headers

    def _url(self, path: str, query: dict[str, Any] | None) -> str:
        q = {k: v for k, v in (query or {}).items() if v is not None}
        return self.server + path + ("?" + urlencode(q) if q else "")

    def _send(self, method, path, query, body, content_type, timeout) -> dict:
        self.stats.add(method)
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        try:
            resp = self._pool.request(
                method,
                self._url(path, query),
                body=data,
                headers=self._headers(method, path, content_type),
                timeout=urllib3.Timeout(total=timeout or self.settings.timeout),
                retries=False,
            )
        except urllib3.exceptions.HTTPError as e:
            raise errors.ClusterUnreachable(f"{method} {path}: cannot reach {self.server}: {type(e).__name__}: {e}") from e
        raw = resp.data
        try:
            decoded = json.loads(raw) if raw else {}
        except ValueError:
            decoded = {"message": raw[:200].decode(errors="replace")}
        if resp.status >= 400:
            raise error_for(resp.status, decoded if isinstance(decoded, dict) else {}, method, path)
        return decoded

    def stream(self, path: str, query: dict[str, Any], timeout: float) -> Iterator[dict]:
        """Line-delimited JSON events of a watch; ends when the server closes it or the timeout passes."""
        _announce("WATCH", path, 0)
        self.stats.add("WATCH")
        try:
            resp = self._pool.request(
                "GET",
                self._url(path, {**query, "watch": "true"}),
                headers=self._headers("GET", path, JSON),
                timeout=urllib3.Timeout(connect=5, read=timeout),
                retries=False,
                preload_content=False,
            )
        except urllib3.exceptions.HTTPError as e:
            raise errors.ClusterUnreachable(f"watch {path}: {e}") from e
        if resp.status >= 400:
            body = json.loads(resp.data or b"{}")
            raise error_for(resp.status, body, "WATCH", path)
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

