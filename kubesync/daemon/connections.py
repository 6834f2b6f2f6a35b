"""Per kubeconfig context, shared by every sync that targets it: one connection (a cluster.api.Client),
one discovery, one watch cache (cluster/cache.py). Each sync sees the connection through a scoped view
whose observer counts its errors and notes its writes (ErrorCounter)."""

from __future__ import annotations

import threading
import time
from typing import Callable

from kubesync import errors
from kubesync.cluster import API
from kubesync.cluster.api import Client, Observer
from kubesync.cluster.requests import Request


class ErrorCounter(Observer):
    """One caller's view of a connection: every API error it meets (404s aside) is counted for it, and
    every write's answer is passed to `on_written` (read-your-writes of the shared cache)."""

    def __init__(self, count: Callable[[errors.ClusterError], None], on_written: Callable[[dict], None] | None = None):
        self._count = count
        self._on_written = on_written

    def on_error(self, request: Request, error: errors.ClusterError) -> None:
        self._count(error)

    def on_write(self, request: Request, answer: dict) -> None:
        if self._on_written is not None:
            self._on_written(answer)


class SharedDiscovery:
    """A Discovery shared by the syncs of one context, forgotten every `max_age` seconds (new CRDs,
    removed API versions) and, for a kind the server did not serve, asked again after `miss_age`."""

    def __init__(self, discovery, max_age: float = 300.0, miss_age: float = 10.0, clock=time.monotonic):
        self.discovery = discovery
        self.max_age, self.miss_age, self.clock = max_age, miss_age, clock
        self._born = clock()
        self._misses: dict[str, float] = {}
        self._lock = threading.Lock()

    def view(self, cluster: API) -> "DiscoveryView":
        """What one run uses: requests go through the sync's own view of the cluster (errors counted for it)."""
        return DiscoveryView(self, self.discovery.sharing(cluster))

    def expire(self, api_version: str, kind: str) -> None:
        now = self.clock()
        with self._lock:
            if now - self._born > self.max_age:
                self.discovery.invalidate()
                self._born, self._misses = now, {}
            missed = self._misses.get(f"{api_version}/{kind}")
            if missed is not None and now - missed > self.miss_age:
                self.discovery.invalidate(api_version)
                del self._misses[f"{api_version}/{kind}"]

    def missed(self, api_version: str, kind: str) -> None:
        with self._lock:
            self._misses.setdefault(f"{api_version}/{kind}", self.clock())


class DiscoveryView:
    """One run's discovery: asks through the sync's view of the connection, shares what is learned."""

    def __init__(self, shared: SharedDiscovery, discovery):
        self._shared = shared
        self._discovery = discovery

    def resource_for(self, api_version: str, kind: str):
        self._shared.expire(api_version, kind)
        rtype = self._discovery.resource_for(api_version, kind)
        if rtype is None:
            self._shared.missed(api_version, kind)
        return rtype

    def kinds(self, api_version: str):
        return self._discovery.kinds(api_version)

    def schemas(self, rtypes):
        return self._discovery.schemas(rtypes)

    def capabilities(self):
        """The server's version and API versions (Helm's .Capabilities), shared by the context's syncs and
        asked again with the rest of discovery every `max_age`."""
        self._shared.expire("", "")
        return self._discovery.capabilities()

    def server_version(self):
        return self._discovery.server_version()

    def invalidate(self, api_version: str | None = None) -> None:
        self._discovery.invalidate(api_version)


class Connections:
    """Connects lazily (a sync whose context is broken fails alone) and once per context."""

    def __init__(self, kubeconfig: str | None, default_context: str | None, connect=None, settings=None, overrides=None,
                 watch_timeout: float = 60.0, syncs=None):
        """`syncs`: the daemon's configured sync names: the watch caches hold only their objects (None: all)."""
        self.kubeconfig = kubeconfig
        self.default_context = default_context
        self._connect = connect
        self.settings = settings  # ClientSettings: the daemon's request timeout and retry budget
        self.overrides = overrides  # kubeconfig.Overrides: --as, --as-group
        self.watch_timeout = watch_timeout
        self.syncs = frozenset(syncs) if syncs is not None else None
        self._clusters: dict[str | None, object] = {}
        self._caches: dict[str | None, object] = {}
        self._discoveries: dict[str | None, SharedDiscovery] = {}
        self._lock = threading.Lock()

    def get(self, context: str | None = None):
        context = context or self.default_context
        with self._lock:
            if context not in self._clusters:
                self._clusters[context] = self._open(context)
            return self._clusters[context]

    def _open(self, context: str | None) -> API:
        if self._connect is not None:
            return self._connect(self.kubeconfig, context)
        return Client.connect(self.kubeconfig, context, self.settings, self.overrides)

    def dedicated(self, context: str | None = None):
        """A connection of its own (leader election): its Lease renewals never queue behind the syncs'
        requests in the shared connection's rate limiter and pool."""
        return self._open(context or self.default_context)

    def cache(self, context: str | None = None):
        """The context's shared watch cache (cluster/cache.py), started with its first reader."""
        from kubesync.cluster.cache import WatchCache

        cluster = self.get(context)
        context = context or self.default_context
        with self._lock:
            if context not in self._caches:
                self._caches[context] = WatchCache(cluster, timeout=self.watch_timeout, syncs=self.syncs)
            return self._caches[context]

    def discovery(self, context: str | None = None) -> SharedDiscovery:
        """The context's shared discovery (and OpenAPI schemas), re-read every few minutes."""
        from kubesync.cluster.discovery import Discovery

        raw = self.get(context)
        context = context or self.default_context
        with self._lock:
            if context not in self._discoveries:
                self._discoveries[context] = SharedDiscovery(Discovery(raw))
            return self._discoveries[context]

    def caches(self) -> list:
        with self._lock:
            return list(self._caches.values())

    def close(self) -> None:
        for cache in self.caches():
            cache.stop()
