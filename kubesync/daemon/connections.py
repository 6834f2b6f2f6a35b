"""One Cluster per kubeconfig context, shared by the syncs that target it, with API errors counted."""

from __future__ import annotations

import threading
from typing import Callable

from kubesync import errors
from kubesync.cluster import API
from kubesync.cluster.client import Requests


class CountingCluster(Requests):
    """A Cluster seen through one sync: every API error it meets (404s aside) is counted for that sync."""

    def __init__(self, cluster: API, on_error: Callable[[errors.ClusterError], None]):
        self._cluster = cluster
        self._on_error = on_error

    def __getattr__(self, name):  # server, stats, context, configuration...
        return getattr(self._cluster, name)

    def request(self, method: str, path: str, **kwargs) -> dict:
        try:
            return self._cluster.request(method, path, **kwargs)
        except errors.ClusterNotFound:
            raise
        except errors.ClusterError as e:
            self._on_error(e)
            raise

    def stream(self, path: str, query: dict, timeout: float):
        try:
            yield from self._cluster.stream(path, query, timeout)
        except errors.ClusterError as e:
            self._on_error(e)
            raise



class Connections:
    """Connects lazily (a sync whose context is broken fails alone) and once per context."""

    def __init__(self, kubeconfig: str | None, default_context: str | None, connect=None, settings=None, overrides=None):
        self.kubeconfig = kubeconfig
        self.default_context = default_context
        self._connect = connect
        self.settings = settings  # ClientSettings: the daemon's request timeout and retry budget
        self.overrides = overrides  # kubeconfig.Overrides: --as, --as-group
        self._clusters: dict[str | None, object] = {}
        self._lock = threading.Lock()

    def get(self, context: str | None = None):
        context = context or self.default_context
        with self._lock:
            if context not in self._clusters:
                if self._connect is not None:
                    self._clusters[context] = self._connect(self.kubeconfig, context)
                else:
                    from kubesync.cluster.client import Cluster

                    self._clusters[context] = Cluster.connect(self.kubeconfig, context, self.settings, self.overrides)
            return self._clusters[context]
