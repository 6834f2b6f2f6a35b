"""The read-only half of a run: resolve, read live state and the inventory, diff, plan, and have the
server validate the plan (dry runs). Nothing here writes; nothing here imports the executor."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Iterable, Mapping, Protocol, Sequence

from kubesync import errors
from kubesync.charts import chart_changes
from kubesync.cluster import API
from kubesync.cluster import inventory as stored_inventory
from kubesync.cluster.dryrun import check_create, check_update
from kubesync.cluster.live import list_by_ref, list_managed, list_objects
from kubesync.capacity import Capacity, flag_unschedulable
from kubesync.capacity import assess as assess_capacity
from kubesync.deltas import Deltas, compute_deltas, quota_warnings
from kubesync.model import (
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    NODES,
    RESOURCE_QUOTAS,
    SYNC_LABEL,
    Action,
    ActionType,
    Check,
    DesiredState,
    InventoryEntry,
    KubeObject,
    Plan,
    ResourceType,
)
from kubesync.plan import build_plan, selected
from kubesync.resolve import Resolved, check_namespaces, resolve, with_schemas
from kubesync.secrets import remember
from kubesync.settings import SyncConfig, Validation
from kubesync.validate import judge, to_check, unattended

log = logging.getLogger(__name__)

# A (type, namespace) with more missing objects than this is LISTed whole rather than fetched one by one.
GET_THRESHOLD = 3


@dataclass(frozen=True)
class Planned:
    """A plan together with what produced it (needed to apply it and to re-diff on conflicts)."""

    plan: Plan
    resolved: Sequence[Resolved]
    config: SyncConfig | None
    """The sync's settings the plan was made with (None for a plan not made from a source)."""
    inventory: Sequence[InventoryEntry]
    live: Mapping[tuple, KubeObject] = field(default_factory=dict)
    managed: Mapping[tuple, KubeObject] = field(default_factory=dict)
    deltas: Deltas | None = None
    """CPU/memory before and after, when the caller asked for them (`plan`)."""
    capacity: Capacity | None = None
    """Those requests against the nodes (with deltas, when the nodes can be listed)."""
    inventory_source: str = ""
    """The source the inventory was written from ("" on a first run)."""


class LiveReader(Protocol):
    """Live state from somewhere other than a LIST per run (cluster/cache.SyncView)."""

    def managed(self, rtype: ResourceType, namespaces: Iterable[str], selector: str) -> dict[tuple, KubeObject]:
        """The objects of one type carrying this label selector, by ObjectRef.key."""

    def get(self, rtype: ResourceType, namespace: str, name: str) -> KubeObject | None:
        """One labelled object by name (None when there is none)."""


def selector(sync: str) -> str:
    return f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE},{SYNC_LABEL}={sync}"


def plan_desired(cluster: API, discovery, desired: DesiredState, config: SyncConfig, reader: LiveReader | None = None) -> Planned:
    """Everything read-only: resolve, read live state and the inventory, plan, validate."""
    if not config.namespace:
        config = replace(config, namespace=cluster.namespace or "default")
    if desired.identity:  # where the source really comes from, the same on every checkout (sources/identity.py)
        config = replace(config, source_identity=desired.identity, source_aliases=desired.identity_aliases)
    resolved = resolve(desired.manifests, discovery.resource_for, config.namespace, discovery.kinds)
    if config.strict_namespace:
        check_namespaces(resolved, config.namespace)
    resolved = selected(resolved, config.planning)
    resolved = with_schemas(resolved, discovery.schemas(r.rtype for r in resolved if not r.pending_crd))
    inv, inv_source, inv_charts = stored_inventory.read_state(cluster, config.name, config.inventory_namespace, reader)
    live, managed = fetch_live(cluster, discovery, resolved, inv, config.name, reader)
    remember([*live.values(), *managed.values()])  # live Secret values are scrubbed from messages too
    plan = build_plan(resolved, live, managed, inv, config.planning, source=desired.source, revision=desired.revision,
                      inventory_source=inv_source)
    if config.validation is not Validation.NONE:
        plan = verify_plan(cluster, discovery, plan)
    if config.unattended:
        plan, _ = unattended(plan)  # nobody confirms: only opted-in replacements run; the rest are warnings
    if desired.warnings:
        plan = replace(plan, warnings=desired.warnings + plan.warnings)
    if desired.charts or desired.hooks or inv_charts:  # Helm: chart versions before and after, skipped hooks
        plan = replace(plan, charts=chart_changes(inv_charts, desired.charts), hooks=desired.hooks)
    return Planned(plan, tuple(resolved), config, tuple(inv), live, managed, inventory_source=inv_source)


def with_deltas(cluster: API, planned: Planned) -> Planned:
    """The plan's CPU/memory deltas, a warning when they would push a namespace past its ResourceQuota, and
    whether they fit the nodes."""
    deltas = compute_deltas(planned.plan)
    if deltas.empty:
        return replace(planned, deltas=deltas)
    quotas = []
    for ns in sorted(n.namespace for n in deltas.namespaces if n.namespace):
        quotas.extend(list_objects(cluster, RESOURCE_QUOTAS, ns))
    warnings = quota_warnings(deltas, quotas) if quotas else []
    plan = replace(planned.plan, warnings=planned.plan.warnings + tuple(warnings)) if warnings else planned.plan
    fit, plan = with_capacity(cluster, plan, deltas)
    return replace(planned, plan=plan, deltas=deltas, capacity=fit)


def with_capacity(cluster: API, plan: Plan, deltas: Deltas) -> tuple[Capacity | None, Plan]:
    """The plan's requests against the nodes (one LIST of Nodes; none for credentials that may not list
    them), and the plan with the unschedulable risk where they do not fit (kubesync/capacity.py)."""
    try:
        nodes = list_objects(cluster, NODES)
    except errors.ClusterUnauthorized:
        return None, plan
    fit = assess_capacity(plan, deltas, nodes)
    return fit, flag_unschedulable(plan, fit)


def verify_plan(cluster: API, discovery, plan: Plan, concurrency: int = 8) -> Plan:
    """The server's dry run of every create and update, in wave order, `concurrency` at a time; no-ops
    are never sent. What the answers mean is decided in kubesync.validate: rejected objects raise
    PlanInvalid (all of them at once), immutable-field updates become replacements, updates the server
    would not store become no-ops, and what could not be dry-run says so on the plan."""

    def served(action: Action) -> bool:
        return discovery.resource_for(action.ref.api_version, action.ref.kind) is not None

    actions, later = to_check(plan, served)
    if not actions and not later:
        return plan

    def check(action: Action) -> Check:
        rtype = discovery.resource_for(action.ref.api_version, action.ref.kind)
        if action.type is ActionType.CREATE:
            return check_create(cluster, rtype, action)
        return check_update(cluster, rtype, action)

    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="verify") as pool:
        checks = {a.ref.key: c for a, c in zip(actions, pool.map(check, actions))}
    checked, problems = judge(plan, checks, later)
    if problems:
        raise errors.PlanInvalid(problems)
    return checked


def fetch_live(cluster: API, discovery, resolved: Sequence[Resolved], inv: Sequence[InventoryEntry], sync: str,
               reader: LiveReader | None = None):
    """Live copies of the desired objects (by key) and every object labelled with this sync.

    One labelled LIST per resource type covers the steady state (or the `reader`'s watch cache, no
    request at all); desired objects not found there (new, or existing but not ours) are read with a
    LIST per (type, namespace) or a GET each, except in namespaces the desired state creates (on a
    first sync, most of them).
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
        if reader is not None:
            managed.update(reader.managed(rtype, namespaces, selector(sync)))
        else:
            managed.update(list_managed(cluster, rtype, namespaces, selector(sync)))
    live = {r.ref.key: managed[r.ref.key] for r in resolved if not r.pending_crd and r.ref.key in managed}
    live.update(_fetch_missing(cluster, resolved, live))
    return live, managed


def _fetch_missing(cluster: API, resolved: Sequence[Resolved], live: dict[tuple, KubeObject]) -> dict[tuple, KubeObject]:
    """Desired objects the labelled LISTs did not find: a LIST per (type, namespace) or a GET each."""
    missing: dict[tuple[str, str, str], list[Resolved]] = {}
    for r in resolved:
        if not r.pending_crd and r.ref.key not in live:
            missing.setdefault((r.rtype.api_version, r.rtype.kind, r.ref.namespace), []).append(r)
    namespace_keys = {r.ref.name: r.ref.key for r in resolved if not r.ref.group and r.ref.kind == "Namespace"}
    found: dict[tuple, KubeObject] = {}
    created: set[str] | None = None
    for (_, _, ns), items in sorted(missing.items(), key=lambda group: group[0][2] != ""):  # cluster-scoped first
        if ns:
            if created is None:  # Namespaces were looked up above: a desired one not found is created by this plan
                created = {name for name, key in namespace_keys.items() if key not in live and key not in found}
            if ns in created:
                continue  # nothing can exist yet in a namespace this plan creates
        rtype = items[0].rtype
        if len(items) > GET_THRESHOLD:
            listed = list_by_ref(cluster, rtype, ns)
            found.update({r.ref.key: listed[r.ref.key] for r in items if r.ref.key in listed})
            continue
        for r in items:
            obj = cluster.get(rtype, r.ref.namespace, r.ref.name)
            if obj is not None:
                found[r.ref.key] = obj
    return found
