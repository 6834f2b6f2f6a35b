"""The typed verbs everything outside `cluster/` talks to the API with (the model: lightkube's `Client`
over its `GenericClient`): get, list, watch, create, put, patch, delete, and reads of non-resource
paths (version, discovery, OpenAPI). Requests are built by the pure `requests.py` and sent by the
connection (`client.Cluster`: pooling, credentials, retries, rate limits).

Observers: `add_request_hook` (client.py) hears every attempt of every connection in the process;
a `Client.scoped(observer)` view adds an observer for one caller (a daemon sync counts its errors and
notes its writes for the shared cache), sharing the connection: a typed view, not a proxy.
"""

from __future__ import annotations

from typing import Any, Iterator, NamedTuple

from kubesync import errors
from kubesync.cluster import requests as build
from kubesync.cluster.requests import FieldValidation, Preconditions, Request
from kubesync.model import Cascade, KubeObject, PatchType, ResourceType


class Observer:
    """Told about the requests of one Client view; override what you need (each must be quick, never raise)."""

    def on_request(self, request: Request) -> None:
        """Before a request goes out (once per call; retries are the connection's, see add_request_hook)."""

    def on_error(self, request: Request, error: errors.ClusterError) -> None:
        """The API answered with an error, or could not be reached (a 404 is an answer about the object: not reported)."""

    def on_write(self, request: Request, answer: dict) -> None:
        """A write (not a dry run) succeeded; `answer` is the stored object."""

    def on_warnings(self, request: Request, warnings: list[str]) -> None:
        """The server answered with Warning headers (deprecations; unknown fields under fieldValidation=Warn)."""


class ObjectList(NamedTuple):
    items: list[KubeObject]
    resource_version: str
    """The list's resourceVersion: a watch started from it misses nothing."""


def _whole(obj: KubeObject, rtype: ResourceType) -> KubeObject:
    """Items of a LIST and watch events carry no apiVersion/kind: fill them in."""
    obj.setdefault("apiVersion", rtype.api_version)
    obj.setdefault("kind", rtype.kind)
    return obj


class Client:
    """One cluster connection with typed verbs; cheap to copy as a scoped view."""

    def __init__(self, connection, observers: tuple[Observer, ...] = ()):
        self.connection = connection  # client.Cluster (or a transport with its request/stream)
        self.observers = tuple(observers)

    @classmethod
    def connect(cls, kubeconfig: str | None = None, context: str | None = None, settings=None, overrides=None) -> "Client":
        """kubectl's choice of kubeconfig (flag, $KUBECONFIG, ~/.kube/config) or, without one, in-cluster."""
        from kubesync.cluster.client import Cluster

        return cls(Cluster.connect(kubeconfig, context, settings, overrides))

    def scoped(self, observer: Observer) -> "Client":
        """The same connection, with one more observer."""
        return Client(self.connection, self.observers + (observer,))

    # -- what the connection is ---------------------------------------------------------------------

    @property
    def server(self) -> str:
        return self.connection.server

    @property
    def context(self) -> str:
        return self.connection.context

    @property
    def namespace(self) -> str:
        """The kubeconfig context's namespace ('' when it names none)."""
        return self.connection.namespace

    @property
    def stats(self):
        return self.connection.stats

    # -- sending ------------------------------------------------------------------------------------

    def send(self, request: Request, *, retry: bool = True, timeout: float | None = None) -> dict:
        for o in self.observers:
            o.on_request(request)
        warnings: list[str] = []
        try:
            answer = self.connection.request(request.method, request.path, query=dict(request.query), body=request.body,
                                             content_type=request.content_type, timeout=timeout, retry=retry, warnings=warnings)
        except errors.ClusterNotFound:
            raise  # an answer about the object, not a fault of the connection
        except errors.ClusterError as e:
            self._failed(request, e)
            raise
        if warnings:
            for o in self.observers:
                o.on_warnings(request, warnings)
        if request.is_write:
            for o in self.observers:
                o.on_write(request, answer)
        return answer

    def _failed(self, request: Request, error: errors.ClusterError) -> None:
        for o in self.observers:
            o.on_error(request, error)

    # -- reads --------------------------------------------------------------------------------------

    def get(self, rtype: ResourceType, namespace: str, name: str, *, subresource: str = "") -> KubeObject | None:
        """One object, or None when there is none."""
        try:
            obj = self.send(build.get(rtype, namespace, name, subresource))
        except errors.ClusterNotFound:
            return None
        return obj if subresource else _whole(obj, rtype)

    def list(self, rtype: ResourceType, namespace: str = "", *, selector: str | None = None) -> ObjectList:
        """Every object of one type (in one namespace, or all), following `continue` pages."""
        items: list[KubeObject] = []
        token = None
        while True:
            doc = self.send(build.list_page(rtype, namespace, selector, token))
            items += [_whole(item, rtype) for item in doc.get("items") or ()]
            meta = doc.get("metadata") or {}
            token = meta.get("continue")
            if not token:
                return ObjectList(items, str(meta.get("resourceVersion") or ""))

    def watch(self, rtype: ResourceType, namespace: str = "", *, selector: str | None, resource_version: str,
              timeout: float) -> Iterator[tuple[str, KubeObject]]:
        """(event type, object) after `resource_version` until the server closes the watch. BOOKMARK events
        are passed on (their object carries only the resourceVersion to resume from); a resourceVersion the
        server no longer keeps raises WatchExpired: LIST again."""
        request = build.watch(rtype, namespace, selector, resource_version, timeout)
        for o in self.observers:
            o.on_request(request)
        query = {k: v for k, v in request.query.items() if k != "watch"}
        try:
            for event in self.connection.stream(request.path, query, timeout=timeout + 10):
                kind = str(event.get("type") or "")
                obj = event.get("object") or {}
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        raise errors.WatchExpired(f"watch {rtype.plural}: {obj.get('message') or 'resourceVersion too old'}")
                    raise errors.ClusterError(f"watch {rtype.plural}: {obj.get('message') or obj}")
                yield kind, obj if kind == "BOOKMARK" else _whole(obj, rtype)
        except errors.ClusterError as e:
            self._failed(request, e)
            raise

    def read(self, path: str, query: dict[str, Any] | None = None) -> dict:
        """A path that is not a resource: /version, /api, /apis/<group>/<version>, /openapi/..."""
        return self.send(build.read_path(path, query))

    def version(self) -> dict:
        """The API server's /version document (gitVersion, platform, ...)."""
        return self.read("/version")

    def answers(self, timeout: float = 2.0) -> bool:
        """Whether the API server answers now (one GET /version, no retry): a daemon's probe after an outage."""
        try:
            self.send(build.read_path("/version"), retry=False, timeout=timeout)
        except errors.ClusterError:
            return False
        return True

    # -- writes -------------------------------------------------------------------------------------

    def create(self, rtype: ResourceType, obj: KubeObject, *, dry_run: bool = False,
               field_validation: FieldValidation | None = None) -> KubeObject:
        return self.send(build.create(rtype, obj, dry_run=dry_run, field_validation=field_validation))

    def put(self, rtype: ResourceType, obj: KubeObject, *, dry_run: bool = False, retry: bool = True,
            field_validation: FieldValidation | None = None) -> KubeObject:
        return self.send(build.put(rtype, obj, dry_run=dry_run, field_validation=field_validation), retry=retry)

    def patch(self, rtype: ResourceType, namespace: str, name: str, body: Any, patch_type: PatchType, *,
              subresource: str = "", dry_run: bool = False, field_validation: FieldValidation | None = None) -> KubeObject:
        return self.send(build.patch(rtype, namespace, name, body, patch_type, subresource=subresource, dry_run=dry_run,
                                     field_validation=field_validation))

    def delete(self, rtype: ResourceType, namespace: str, name: str, *, cascade: Cascade = Cascade.BACKGROUND,
               preconditions: Preconditions | None = None, dry_run: bool = False, retry: bool = True) -> dict:
        return self.send(build.delete(rtype, namespace, name, cascade=cascade, preconditions=preconditions, dry_run=dry_run),
                         retry=retry)
