"""Which syncs exist on a cluster (`kubesync list`, as `argocd app list`, `flux get ks -A`, `kapp ls`):
every inventory, with its source, revision, last apply, object count and health summary.

Cost: one LIST of inventories, then one LIST per resource type the inventories name (every sync's
objects carry the managed-by label), whatever the number of syncs.
"""

from __future__ import annotations

from collections import Counter

from kubesync.cluster import API
from kubesync.cluster import inventory as stored_inventory
from kubesync.cluster.live import list_managed
from kubesync.health import assess
from kubesync.inventory import from_configmap, summary_of
from kubesync.model import MANAGED_BY_LABEL, MANAGED_BY_VALUE, ResourceType

HEALTH_ORDER = ("Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown")


def list_syncs(cluster: API, discovery, namespaces: tuple[str, ...] = ()) -> list[dict]:
    """One row per sync (sorted by name): sync, inventoryNamespace, source, revision, appliedAt, objects, health."""
    rows = []
    for cm in stored_inventory.list_all(cluster, namespaces or (stored_inventory.DEFAULT_NAMESPACE,)):
        row = summary_of(cm)
        if not row["sync"]:
            continue
        row["entries"] = from_configmap(cm, row["sync"], row["inventoryNamespace"])
        rows.append(row)
    types: dict[tuple[str, str], ResourceType] = {}
    for row in rows:
        for e in row["entries"]:
            rtype = discovery.resource_for(e.ref.api_version, e.ref.kind)
            if rtype is not None:
                types[(rtype.api_version, rtype.kind)] = rtype
    namespaces_used = {e.ref.namespace for row in rows for e in row["entries"] if e.ref.namespace}
    live = {}
    for rtype in types.values():
        live.update(list_managed(cluster, rtype, namespaces_used, f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}"))
    out = []
    for row in sorted(rows, key=lambda r: (r["sync"], r["inventoryNamespace"])):
        entries = row.pop("entries")
        counts = Counter(assess(_same_uid(live.get(e.ref.key), e.uid)).status.value for e in entries)
        row["objects"] = len(entries)
        row["health"] = {k: counts[k] for k in HEALTH_ORDER if counts.get(k)}
        out.append(row)
    return out


def _same_uid(obj, uid: str):
    """The live object when it is the one the inventory recorded (a re-created one is not this sync's)."""
    return obj if obj is not None and (obj.get("metadata") or {}).get("uid") == uid else None
