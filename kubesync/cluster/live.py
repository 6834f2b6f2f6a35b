"""Live state by LIST calls per resource type (a sync of N objects costs O(types) requests, not O(N)),
and the LIST + WATCH pair the daemon keeps open: paginated, resumable from a resourceVersion."""

from __future__ import annotations

import logging
from typing import Iterable, Iterator

from kubesync import errors
from kubesync.cluster import API
from kubesync.model import KubeObject, ObjectRef, ResourceType

log = logging.getLogger(__name__)

PAGE_SIZE = 500


def list_objects(cluster: API, rtype: ResourceType, namespace: str = "", label_selector: str | None = None) -> list[KubeObject]:
    """Every object of one type (in one namespace, or all), following `continue` pages.

    Items of a LIST carry no apiVersion/kind; they are filled in so each item is a whole object.
    """
    return list_with_version(cluster, rtype, namespace, label_selector)[0]


def list_with_version(cluster: API, rtype: ResourceType, namespace: str = "",
                      label_selector: str | None = None) -> tuple[list[KubeObject], str]:
    """Like list_objects, with the list's resourceVersion: a watch started from it misses nothing."""
    items: list[KubeObject] = []
    token = None
    while True:
        query = {"limit": PAGE_SIZE, "labelSelector": label_selector, "continue": token}
        doc = cluster.request("GET", rtype.path(namespace), query=query)
        for item in doc.get("items") or ():
            item.setdefault("apiVersion", rtype.api_version)
            item.setdefault("kind", rtype.kind)
            items.append(item)
        meta = doc.get("metadata") or {}
        token = meta.get("continue")
        if not token:
            return items, str(meta.get("resourceVersion") or "")


def watch(cluster: API, rtype: ResourceType, namespace: str, label_selector: str, resource_version: str,
          timeout: float) -> Iterator[tuple[str, KubeObject]]:
    """(event type, object) after `resource_version` until the server closes the watch.

    BOOKMARK events are passed on (their object carries only the new resourceVersion to resume
    from). A resourceVersion the server no longer keeps raises WatchExpired: LIST again."""
    query = {"labelSelector": label_selector, "resourceVersion": resource_version, "allowWatchBookmarks": "true",
             "timeoutSeconds": int(timeout)}
    for event in cluster.stream(rtype.path(namespace), query, timeout=timeout + 10):
        kind = str(event.get("type") or "")
        obj = event.get("object") or {}
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise errors.WatchExpired(f"watch {rtype.plural}: {obj.get('message') or 'resourceVersion too old'}")
            raise errors.ClusterError(f"watch {rtype.plural}: {obj.get('message') or obj}")
        if kind != "BOOKMARK":
            obj.setdefault("apiVersion", rtype.api_version)
            obj.setdefault("kind", rtype.kind)
        yield kind, obj


def list_by_ref(cluster: API, rtype: ResourceType, namespace: str = "", label_selector: str | None = None) -> dict[tuple, KubeObject]:
    """Like list_objects, keyed by ObjectRef.key (version-independent identity)."""
    return {ObjectRef.of(o).key: o for o in list_objects(cluster, rtype, namespace, label_selector)}


def list_managed(cluster: API, rtype: ResourceType, namespaces: Iterable[str], label_selector: str) -> dict[tuple, KubeObject]:
    """Objects of one type carrying our labels: one cluster-wide LIST, or one per namespace when
    RBAC allows only namespaced reads."""
    try:
        return list_by_ref(cluster, rtype, "", label_selector)
    except errors.ClusterUnauthorized:
        if not rtype.namespaced:
            raise
        log.debug("no cluster-wide list of %s; listing per namespace", rtype.plural)
    out: dict[tuple, KubeObject] = {}
    for ns in sorted(set(namespaces)):
        out.update(list_by_ref(cluster, rtype, ns, label_selector))
    return out
