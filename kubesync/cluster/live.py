"""Live state by LIST calls per resource type (a sync of N objects costs O(types) requests, not O(N))."""

from __future__ import annotations

import logging
from typing import Iterable

from kubesync import errors
from kubesync.cluster import API
from kubesync.model import KubeObject, ObjectRef, ResourceType

log = logging.getLogger(__name__)


def list_objects(cluster: API, rtype: ResourceType, namespace: str = "", label_selector: str | None = None) -> list[KubeObject]:
    """Every object of one type (in one namespace, or all), each a whole object (apiVersion and kind filled in)."""
    return cluster.list(rtype, namespace, selector=label_selector).items


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
