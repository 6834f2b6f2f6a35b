"""The pipeline wired together: source -> manifests -> resolve -> live -> diff -> plan -> apply.

Commands and the daemon call these functions; the pure steps live in their own modules and this
one only gathers their inputs from the outside world.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from kubesync import errors, inventory
from kubesync.apply import Applier, ApplyReport, ApplySettings
from kubesync.cluster.discovery import Discovery
from kubesync.cluster.live import list_by_ref, list_managed
from kubesync.model import (
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    SYNC_LABEL,
    Action,
    ActionType,
    DesiredState,
    KubeObject,
    ObjectRef,
    Plan,
    ResourceType,
)
from kubesync.plan import InventoryEntry, PlanSettings, build_plan, plan_object
from kubesync.resolve import Resolved, resolve

log = logging.getLogger(__name__)

# A (type, namespace) with more missing objects than this is LISTed whole rather than fetched one by one.
GET_THRESHOLD = 3


@dataclass(frozen=True)
class SyncSpec:
    """One sync: what to read, where to put it and how carefully."""

    name: str
    namespace: str = "default"
    plan: PlanSettings | None = None
    inventory_namespace: str = inventory.DEFAULT_NAMESPACE


@dataclass
class Planned:
    """A plan together with what produced it (needed to apply it and to re-diff on conflicts)."""

    plan: Plan
    resolved: list[Resolved]
    settings: PlanSettings
    inventory: list[InventoryEntry]
    live: dict[tuple, KubeObject] = field(default_factory=dict)
    managed: dict[tuple, KubeObject] = field(default_factory=dict)


def selector(sync: str) -> str:
    return f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE},{SYNC_LABEL}={sync}"


def fetch_live(cluster, discovery: Discovery, resolved: list[Resolved], inv: list[InventoryEntry], sync: str):
    """Live copies of the desired objects (by key) and every object labelled with this sync.

    One labelled LIST per resource type covers the steady state; desired objects not found there
    (new, or existing but not ours) are read with a LIST per (type, namespace) or a GET each, except
    in namespaces the desired state creates (on a first sync, most of them).
    """
    types: dict[tuple[str, str], ResourceType] = {}
    for r in resolved:
        if not r.pending_crd:
            types[(r.rtype.api_version, r.rtype.kind)] = r.rtype
    for e in inv:
        rtype = discovery.resource_for(e.ref.api_version, e.ref.kind)
        if rtype is not None:
            types[(rtype.api_version, rtype.kind)] = rtype
    namespaces = {r.ref.namespace for r in resolved if r.ref.namespace} | {e.ref.namespace for e in inv if e.ref.namespace}
    managed: dict[tuple, KubeObject] = {}
    for rtype in types.values():
        managed.update(list_managed(cluster, rtype, namespaces, selector(sync)))

    live: dict[tuple, KubeObject] = {}
    missing: dict[tuple[str, str, str], list[Resolved]] = {}
    for r in resolved:
        if r.pending_crd:
            continue
        if r.ref.key in managed:
            live[r.ref.key] = managed[r.ref.key]
        else:
            missing.setdefault((r.rtype.api_version, r.rtype.kind, r.ref.namespace), []).append(r)
    namespace_keys = {r.ref.name: r.ref.key for r in resolved if not r.ref.group and r.ref.kind == "Namespace"}
    created: set[str] | None = None
    for (_, _, ns), items in sorted(missing.items(), key=lambda group: group[0][2] != ""):  # cluster-scoped first
        if ns:
            if created is None:  # Namespaces were looked up above: a desired one not found is created by this plan
                created = {name for name, key in namespace_keys.items() if key not in live}
            if ns in created:
                continue  # nothing can exist yet in a namespace this plan creates
        rtype = items[0].rtype
        if len(items) > GET_THRESHOLD:
            found = list_by_ref(cluster, rtype, ns)
            for r in items:
                if r.ref.key in found:
                    live[r.ref.key] = found[r.ref.key]
        else:
            for r in items:
                obj = cluster.get_or_none(rtype.path(r.ref.namespace, r.ref.name))
                if obj is not None:
                    obj.setdefault("apiVersion", rtype.api_version)
                    obj.setdefault("kind", rtype.kind)
                    live[r.ref.key] = obj
    return live, managed


def plan_sync(cluster, discovery: Discovery, desired: DesiredState, spec: SyncSpec) -> Planned:
    """Everything read-only: resolve, read live state and the inventory, plan."""
    settings = spec.plan or PlanSettings(sync=spec.name)
    resolved = resolve(desired.manifests, discovery.resource_for, spec.namespace)
    inv = inventory.read(cluster, spec.name, spec.inventory_namespace)
    live, managed = fetch_live(cluster, discovery, resolved, inv, spec.name)
    plan = build_plan(resolved, live, managed, inv, settings, source=desired.source, revision=desired.revision)
    plan = Applier(cluster, discovery).drop_ineffective_updates(plan)
    return Planned(plan, resolved, settings, inv, live, managed)


def replanner(planned: Planned):
    """Re-diff one object against a fresh live copy (after a conflict)."""
    by_key = {r.ref.key: r for r in planned.resolved}

    def replan(action: Action, live: KubeObject | None) -> Action | None:
        r = by_key.get(action.ref.key)
        if r is None:  # a deletion: the object changed under us; keep the uid precondition
            return action if live is not None else None
        new, conflict = plan_object(r, live, planned.settings)
        if conflict:
            log.warning("%s", conflict)
        return new

    return replan


def next_inventory(planned: Planned, report: ApplyReport) -> list[InventoryEntry]:
    """Objects this sync owns after the run: what was applied, plus older entries not deleted."""
    uids: dict[tuple, tuple[ObjectRef, str]] = {}
    for e in planned.inventory:
        uids[e.ref.key] = (e.ref, e.uid)
    for key, obj in planned.live.items():
        if key in planned.managed:
            uids[key] = (ObjectRef.of(obj), obj["metadata"].get("uid", ""))
    for o in report.outcomes:
        key = o.action.ref.key
        if o.result == "deleted":
            uids.pop(key, None)
        elif o.live is not None and o.live.get("metadata", {}).get("uid"):
            uids[key] = (o.action.ref, o.live["metadata"]["uid"])
        elif o.result in ("patched", "scaled", "unchanged") and o.action.uid:
            uids[key] = (o.action.ref, o.action.uid)
    conflicts = {a.ref.key for a in planned.plan.actions if a.type is ActionType.CREATE} - {
        o.action.ref.key for o in report.outcomes if not o.failed
    }
    return [InventoryEntry(ref, uid) for key, (ref, uid) in sorted(uids.items()) if uid and key not in conflicts]


def apply_planned(cluster, discovery: Discovery, planned: Planned, spec: SyncSpec, settings: ApplySettings,
                  progress=None, stop=None) -> ApplyReport:
    """Execute the plan and record the new inventory, also when some actions failed."""
    applier = Applier(cluster, discovery, settings, replan=replanner(planned), progress=progress)
    if stop is not None:
        applier.stop = stop
    report = ApplyReport()
    try:
        report = applier.apply(planned.plan)
    finally:
        if not settings.dry_run:
            record_inventory(cluster, spec, next_inventory(planned, report), report)
    return report


def record_inventory(cluster, spec: SyncSpec, entries: list[InventoryEntry], report: ApplyReport) -> None:
    """Write the inventory; when that fails after some actions failed too, report both."""
    try:
        inventory.write(cluster, spec.name, entries, spec.inventory_namespace)
    except errors.KubesyncError as e:
        if not report.failures:
            raise
        raise errors.ApplyFailed([o.message for o in report.failures] + [f"the inventory could not be recorded: {e}"],
                                 not_started=len(report.not_started)) from e


def raise_for_failures(report: ApplyReport) -> None:
    failures = [o.message for o in report.failures]
    if failures:
        raise errors.ApplyFailed(failures, not_started=len(report.not_started))
