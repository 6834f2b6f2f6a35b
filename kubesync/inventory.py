"""What a sync owns: a ConfigMap per sync listing each object it applied with the uid it got.

In the spirit of kpt's ResourceGroup and kubectl's ApplySet. Prune deletes only objects that are in
the inventory AND carry the sync's label AND still have the recorded uid, so an object re-created by
someone else, or merely labelled like ours, is never deleted.

Pure: the ConfigMap's shape and its codec. Reading and writing it is kubesync.cluster.inventory.
"""

from __future__ import annotations

import base64
import json
import zlib
from typing import Iterable

from kubesync import errors
from kubesync.model import INVENTORY_NAMESPACE, MANAGED_BY_LABEL, MANAGED_BY_VALUE, SYNC_LABEL, Chart, KubeObject, ObjectRef
from kubesync.model import InventoryEntry

DEFAULT_NAMESPACE = INVENTORY_NAMESPACE
FORMAT = "kubesync.io/inventory/v1"
INVENTORY_FOR_LABEL = "kubesync.io/inventory-for"


def inventory_name(sync: str) -> str:
    return f"kubesync-inventory-{sync}"


def encode(entries: Iterable[InventoryEntry]) -> str:
    """zlib + base64 of a sorted JSON list: 10,000 objects fit well inside a ConfigMap's 1 MiB."""
    rows = sorted([e.ref.group, e.ref.version, e.ref.kind, e.ref.namespace, e.ref.name, e.uid] for e in entries)
    return base64.b64encode(zlib.compress(json.dumps(rows, separators=(",", ":")).encode(), 9)).decode()


def decode(data: str) -> list[InventoryEntry]:
    rows = json.loads(zlib.decompress(base64.b64decode(data)))
    return [InventoryEntry(ObjectRef(g, v, k, ns, n), uid) for g, v, k, ns, n, uid in rows]


def to_configmap(sync: str, entries: Iterable[InventoryEntry], namespace: str = DEFAULT_NAMESPACE, source: str = "",
                 revision: str = "", applied_at: str = "", charts: Iterable[Chart] = ()) -> KubeObject:
    """The inventory ConfigMap of a sync holding these entries, naming the source they came from, the
    revision last applied and when (RFC 3339, UTC): `kubesync list` reads them; and the Helm charts with
    their versions (the next plan's "before")."""
    listed = "\n".join(f"{c.name} {c.version}" for c in charts)
    extra = {k: v for k, v in (("source", source), ("revision", revision), ("appliedAt", applied_at), ("charts", listed)) if v}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": inventory_name(sync),
            "namespace": namespace,
            "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE, INVENTORY_FOR_LABEL: sync},
        },
        "data": {"format": FORMAT, "objects": encode(entries), **extra},
    }


def from_configmap(cm: KubeObject | None, sync: str, namespace: str = DEFAULT_NAMESPACE) -> list[InventoryEntry]:
    """The entries of an inventory ConfigMap (none when it does not exist). A corrupt inventory is an
    error: guessing would risk pruning the wrong objects."""
    if cm is None:
        return []
    raw = (cm.get("data") or {}).get("objects", "")
    try:
        return decode(raw) if raw else []
    except (ValueError, zlib.error, TypeError) as e:
        raise errors.InventoryCorrupt(
            f"the inventory ConfigMap {namespace}/{inventory_name(sync)} is corrupt ({e}); "
            "fix or delete it (pruning is impossible until then)"
        ) from e


def summary_of(cm: KubeObject) -> dict:
    """What an inventory says about its sync, without decoding the entries' uids: for `kubesync list`."""
    data = cm.get("data") or {}
    meta = cm.get("metadata") or {}
    return {"sync": str((meta.get("labels") or {}).get(INVENTORY_FOR_LABEL) or ""), "inventoryNamespace": str(meta.get("namespace") or ""),
            "source": str(data.get("source") or ""), "revision": str(data.get("revision") or ""),
            "appliedAt": str(data.get("appliedAt") or "")}


def source_of(cm: KubeObject | None) -> str:
    """The source an inventory was written from ("" when none: never run, or written before sources were recorded)."""
    return str(((cm or {}).get("data") or {}).get("source") or "")


def charts_of(cm: KubeObject | None) -> tuple[Chart, ...]:
    """The charts (name and version) the inventory's objects were rendered from (none for plain YAML)."""
    text = str(((cm or {}).get("data") or {}).get("charts") or "")
    return tuple(Chart(*line.split(" ", 1)) for line in text.splitlines() if " " in line)


__all__ = ["source_of", "charts_of", "summary_of", "INVENTORY_FOR_LABEL", "encode", "decode", "to_configmap", "from_configmap", "inventory_name", "DEFAULT_NAMESPACE", "InventoryEntry",
           "SYNC_LABEL"]
