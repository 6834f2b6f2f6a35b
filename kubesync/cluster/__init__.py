"""The only code that talks to the Kubernetes API, and the typed interface the pipeline depends on.

    client.py      Cluster: the one request function, timeouts, retries within a budget, request hooks
    kubeconfig.py  kubeconfig files (and in-cluster config) read as kubectl reads them, into a Target
    auth.py        credentials per request: token files re-read, exec plugins, legacy auth providers
    transport.py   the urllib3 pool of a Target: TLS, client certificates, proxies
    discovery.py   apiVersion + kind -> ResourceType
    live.py        paginated LISTs of live state; the LIST + WATCH pair the daemon keeps open
    inventory.py   a sync's inventory ConfigMap read and written (its codec: kubesync.inventory)
    dryrun.py      server-side dry runs of updates
    leases.py      Lease calls for leader election

Everything outside this package takes an `API` (a Cluster, or anything wrapping one) and never
imports an HTTP library. Importing this package imports nothing heavy.
"""

from __future__ import annotations

from typing import Any, Iterator, Protocol


class API(Protocol):
    """What the pipeline needs from a cluster: one request function and a watch stream."""

    def request(self, method: str, path: str, *, query: dict[str, Any] | None = None, body: Any = None,
                content_type: str = ..., timeout: float | None = None, retry: bool = True) -> dict:
        """Send one request; the decoded JSON body, or a ClusterError subclass picked by the HTTP status."""

    def get(self, path: str, **query: Any) -> dict:
        """GET a path (query parameters as keywords)."""

    def get_or_none(self, path: str) -> dict | None:
        """GET a path; None on 404."""

    def stream(self, path: str, query: dict[str, Any], timeout: float) -> Iterator[dict]:
        """The events of a watch, one decoded JSON object each."""


__all__ = ["API"]
