"""Whether a saved plan may still run: its source did not move, and every object it touches is as it
was when the plan was made (Terraform's rule: what was reviewed is what runs, or nothing runs)."""

from __future__ import annotations

from kubesync import errors
from kubesync.cluster import API
from kubesync.model import ActionType, Plan


def stale(cluster: API, discovery, saved) -> list[str]:
    """Why a saved plan may no longer run: its source moved, or objects changed since (empty: it may)."""
    objects = stale_objects(cluster, discovery, saved.plan)
    moved = source_moved(saved)
    return [moved, *objects] if moved else objects


def stale_objects(cluster: API, discovery, plan: Plan) -> list[str]:
    """Every action whose object is no longer as it was when the plan was made."""
    out = []
    for a in plan.actions:
        rtype = discovery.resource_for(a.ref.api_version, a.ref.kind)
        if rtype is None:
            if a.type is not ActionType.CREATE:
                out.append(f"{a.ref}: its kind is no longer served by the cluster")
            continue
        live = cluster.get(rtype, a.ref.namespace, a.ref.name)
        if a.type is ActionType.CREATE:
            if live is not None:
                out.append(f"{a.ref}: to be created, but it exists now")
            continue
        if live is None:
            out.append(f"{a.ref}: deleted since the plan")
            continue
        meta = live.get("metadata") or {}
        if meta.get("uid") != a.uid:
            out.append(f"{a.ref}: re-created since the plan (uid {a.uid} -> {meta.get('uid')})")
        elif meta.get("resourceVersion") != a.resource_version:
            out.append(f"{a.ref}: changed since the plan (resourceVersion {a.resource_version} -> {meta.get('resourceVersion')})")
    return out


def source_moved(saved) -> str | None:
    """The saved plan names its source; if it can be read here, it must still be at the same revision."""
    from kubesync.sources import load

    if saved.source is None:
        return None
    try:
        desired = load(saved.source)
    except errors.KubesyncError as e:
        return f"source {saved.plan.source}: cannot be read to check its revision ({e})"
    if desired.revision != saved.plan.revision:
        return f"source {desired.source}: revision moved {saved.plan.revision} -> {desired.revision}"
    return None
