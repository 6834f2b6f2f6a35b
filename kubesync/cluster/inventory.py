"""Reading and writing a sync's inventory ConfigMap (its shape and codec: kubesync.inventory)."""

from __future__ import annotations

import logging

from kubesync import errors
from kubesync.cluster import API
from kubesync.inventory import DEFAULT_NAMESPACE, INVENTORY_FOR_LABEL, charts_of, from_configmap, inventory_name, source_of, to_configmap
from kubesync.model import ADOPTABLE_LABEL, CONFIGMAPS, MANAGED_BY_LABEL, MANAGED_BY_VALUE, NAMESPACES, Chart, InventoryEntry

log = logging.getLogger(__name__)


def read(cluster: API, sync: str, namespace: str = DEFAULT_NAMESPACE) -> list[InventoryEntry]:
    """The inventory, or an empty one when the sync never ran."""
    return from_configmap(cluster.get(CONFIGMAPS, namespace, inventory_name(sync)), sync, namespace)


def read_with_source(cluster: API, sync: str, namespace: str = DEFAULT_NAMESPACE, reader=None) -> tuple[list[InventoryEntry], str]:
    """The inventory and the source it was written from, in one read (from `reader`, a watch cache
    of labelled objects, when given: inventories carry the managed-by label)."""
    entries, source, _ = read_state(cluster, sync, namespace, reader)
    return entries, source


def read_state(cluster: API, sync: str, namespace: str = DEFAULT_NAMESPACE, reader=None) -> tuple[list[InventoryEntry], str, tuple[Chart, ...]]:
    """read_with_source, and the Helm charts (with versions) the objects were last rendered from."""
    cm = (reader or cluster).get(CONFIGMAPS, namespace, inventory_name(sync))
    return from_configmap(cm, sync, namespace), source_of(cm), charts_of(cm)


def exists(cluster: API, sync: str, namespace: str = DEFAULT_NAMESPACE) -> bool:
    return cluster.get(CONFIGMAPS, namespace, inventory_name(sync)) is not None


def list_all(cluster: API, namespaces: tuple[str, ...] = (DEFAULT_NAMESPACE,)) -> list[dict]:
    """Every inventory ConfigMap on the cluster (one labelled LIST); only those of `namespaces` when the
    credentials may not list ConfigMaps cluster-wide."""
    selector = f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE},{INVENTORY_FOR_LABEL}"
    try:
        return cluster.list(CONFIGMAPS, "", selector=selector).items
    except errors.ClusterUnauthorized:
        found = []
        for ns in dict.fromkeys(n for n in namespaces if n):
            try:
                found += cluster.list(CONFIGMAPS, ns, selector=selector).items
            except errors.ClusterUnauthorized:
                log.debug("no list of ConfigMaps in %s: its inventories are not shown", ns)
        return found


def write(cluster: API, sync: str, entries: list[InventoryEntry], namespace: str = DEFAULT_NAMESPACE, source: str = "",
          exists: bool | None = None, revision: str = "", applied_at: str = "",
          charts: tuple[Chart, ...] = ()) -> dict:
    """Create or replace the inventory (and its namespace on first use); `source` names where its objects
    came from. `exists`: whether the caller read one (the first request then usually succeeds: one
    request per run instead of three); the server's answer decides when the guess is wrong."""
    body = to_configmap(sync, entries, namespace, source, revision, applied_at, charts)
    stored = None
    if exists:
        try:
            stored = cluster.put(CONFIGMAPS, body)
        except errors.ClusterNotFound:
            pass  # deleted meanwhile: create it
    if stored is None:
        stored = _create(cluster, namespace, body)
    log.debug("inventory %s/%s: %d objects", namespace, inventory_name(sync), len(entries))
    return stored


def _create(cluster: API, namespace: str, body: dict) -> dict:
    try:
        return cluster.create(CONFIGMAPS, body)
    except errors.ClusterConflict:
        return cluster.put(CONFIGMAPS, body)  # it existed after all
    except errors.ClusterNotFound:
        pass  # no such namespace yet
    try:
        # Unowned but adoptable: a sync that declares this namespace (deploy/ does) takes it over.
        meta = {"name": namespace, "labels": {ADOPTABLE_LABEL: "true"}}
        cluster.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": meta})
    except errors.ClusterConflict:
        pass
    return cluster.create(CONFIGMAPS, body)
