"""The only code that talks to the Kubernetes API, and the typed interface the pipeline depends on.

    requests.py    pure: (verb, resource type, namespace, name, options) -> method, path, query, body
    api.py         Client: the typed verbs (get, list, watch, create, put, patch, delete), scoped observers
    client.py      Cluster: the connection that sends one request: timeouts, retries within a budget,
                   the process-wide request hooks
    kubeconfig.py  kubeconfig files (and in-cluster config) read as kubectl reads them, into a Target
    auth.py        credentials per request: token files re-read, exec plugins, legacy auth providers
    transport.py   the urllib3 pool of a Target: TLS, client certificates, proxies
    discovery.py   apiVersion + kind -> ResourceType; openapi.py: the kinds' schemas, cached on disk
    live.py        labelled LISTs of live state
    cache.py       one LIST + WATCH per resource type for a whole daemon
    inventory.py   a sync's inventory ConfigMap read and written (its codec: kubesync.inventory)
    dryrun.py      server-side dry runs of creates and updates
    leases.py      Lease calls for leader election and shards

Everything outside this package takes an `API` (an `api.Client`, or a scoped view of one) and never
imports an HTTP library nor composes a path. Importing this package imports nothing heavy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator, Protocol

if TYPE_CHECKING:
    from kubesync.cluster.api import ObjectList, Observer
    from kubesync.cluster.requests import FieldValidation, Preconditions, Request
    from kubesync.model import Cascade, KubeObject, PatchType, ResourceType


class API(Protocol):
    """What the pipeline needs from a cluster: typed verbs on resource types (cluster/api.py's Client)."""

    server: str
    context: str
    namespace: str

    def scoped(self, observer: "Observer") -> "API":
        """The same connection with one more observer (per-sync error counts, write notes)."""

    def send(self, request: "Request", *, retry: bool = True, timeout: float | None = None) -> dict:
        """Send a request built by cluster/requests.py (only code in this package builds one)."""

    def get(self, rtype: "ResourceType", namespace: str, name: str, *, subresource: str = "") -> "KubeObject | None":
        """One object, or None when there is none."""

    def list(self, rtype: "ResourceType", namespace: str = "", *, selector: str | None = None) -> "ObjectList":
        """Every object of a type (paginated), with the list's resourceVersion."""

    def watch(self, rtype: "ResourceType", namespace: str = "", *, selector: str | None, resource_version: str,
              timeout: float) -> Iterator[tuple[str, "KubeObject"]]:
        """(event type, object) from a resourceVersion on."""

    def read(self, path: str, query: dict[str, Any] | None = None) -> dict:
        """A non-resource path: discovery, OpenAPI."""

    def version(self) -> dict:
        """The server's /version."""

    def create(self, rtype: "ResourceType", obj: "KubeObject", *, dry_run: bool = False,
               field_validation: "FieldValidation | None" = None) -> "KubeObject":
        """POST an object."""

    def put(self, rtype: "ResourceType", obj: "KubeObject", *, dry_run: bool = False, retry: bool = True,
            field_validation: "FieldValidation | None" = None) -> "KubeObject":
        """Replace an object (its resourceVersion is the precondition)."""

    def patch(self, rtype: "ResourceType", namespace: str, name: str, body: Any, patch_type: "PatchType", *,
              subresource: str = "", dry_run: bool = False, field_validation: "FieldValidation | None" = None) -> "KubeObject":
        """PATCH an object (or a subresource such as scale)."""

    def delete(self, rtype: "ResourceType", namespace: str, name: str, *, cascade: "Cascade" = ...,
               preconditions: "Preconditions | None" = None, dry_run: bool = False, retry: bool = True) -> dict:
        """DELETE an object, only that uid/resourceVersion when preconditions are given."""


__all__ = ["API"]
