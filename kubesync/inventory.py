"""What a sync owns: a ConfigMap per sync listing each object it applied with the uid it got.

In the spirit of kpt's ResourceGroup and kubectl's ApplySet. Prune deletes only objects that are in
the inventory AND carry the sync's label AND still have the recorded uid, so an object re-created by
someone else, or merely labelled like ours, is never deleted.
"""

from __future__ import annotations

import base64
import json
import logging
import zlib
from typing import Iterable

from kubesync import errors
from kubesync.model import INVENTORY_NAMESPACE, MANAGED_BY_LABEL, MANAGED_BY_VALUE, SYNC_LABEL, ObjectRef
from kubesync.plan import ADOPTABLE_LABEL, InventoryEntry

log = logging.getLogger(__name__)

DEFAULT_NAMESPACE = INVENTORY_NAMESPACE
FORMAT = "kubesync.io/inventory/v1"


def inventory_name(sync: str) -> str:
    return f"kubesync-inventory-{sync}"


def encode(entries: Iterable[InventoryEntry]) -> str:
    """zlib + base64 of a sorted JSON list: 10,000 objects fit well inside a ConfigMap's 1 MiB."""
    rows = sorted([e.ref.group, e.ref.version, e.ref.kind, e.ref.namespace, e.ref.name, e.uid] for e in entries)
    return base64.b64encode(zlib.compress(json.dumps(rows, separators=(",", ":")).encode(), 9)).decode()


def decode(data: str) -> list[InventoryEntry]:
    rows = json.loads(zlib.decompress(base64.b64decode(data)))
    return [InventoryEntry(ObjectRef(g, v, k, ns, n), uid) for g, v, k, ns, n, uid in rows]


def _path(namespace: str, sync: str = "") -> str:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    return f"{base}/{inventory_name(sync)}" if sync else base


def read(cluster, sync: str, namespace: str = DEFAULT_NAMESPACE) -> list[InventoryEntry]:
    """The inventory, or an empty one when the sync never ran. A corrupt inventory is an error:
    guessing would risk pruning the wrong objects."""
    cm = cluster.get_or_none(_path(namespace, sync))
    if cm is None:
        return []
    raw = (cm.get("data") or {}).get("objects", "")
    try:
        return decode(raw) if raw else []
    except (ValueError, zlib.error, TypeError) as e:
        raise errors.KubesyncError(
            f"the inventory ConfigMap {namespace}/{inventory_name(sync)} is corrupt ({e}); "
            "fix or delete it (pruning is impossible until then)"
        ) from e


def write(cluster, sync: str, entries: Iterable[InventoryEntry], namespace: str = DEFAULT_NAMESPACE, dry_run: bool = False) -> None:
    """Create or replace the inventory (and its namespace on first use)."""
    if dry_run:
        return
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": inventory_name(sync),
            "namespace": namespace,
            "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE, "kubesync.io/inventory-for": sync},
        },
        "data": {"format": FORMAT, "objects": encode(entries)},
    }
    if cluster.get_or_none(f"/api/v1/namespaces/{namespace}") is None:
        try:
            # Unowned but adoptable: a sync that declares this namespace (deploy/ does) takes it over.
            meta = {"name": namespace, "labels": {ADOPTABLE_LABEL: "true"}}
            cluster.request("POST", "/api/v1/namespaces", body={"apiVersion": "v1", "kind": "Namespace", "metadata": meta})
        except errors.ClusterConflict:
            pass
    try:
        cluster.request("PUT", _path(namespace, sync), body=body)
    except errors.ClusterNotFound:
        cluster.request("POST", _path(namespace), body=body)
    log.debug("inventory %s/%s: %d objects", namespace, inventory_name(sync), len(list(entries)) if not isinstance(entries, list) else len(entries))


def is_inventory(obj: dict) -> bool:
    return bool(((obj.get("metadata") or {}).get("labels") or {}).get("kubesync.io/inventory-for"))


__all__ = ["read", "write", "encode", "decode", "inventory_name", "DEFAULT_NAMESPACE", "InventoryEntry", "SYNC_LABEL"]
