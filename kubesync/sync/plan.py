"""The read-only half of a run: resolve, read live state and the inventory, diff, plan, and have the
server validate the plan (dry runs). Nothing here writes; nothing here imports the executor."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Mapping, Protocol, Sequence

from kubesync import errors
from kubesync.annotations import unhonoured
from kubesync.charts import chart_changes
from kubesync.hooks import ordered
from kubesync.cluster import API
from kubesync.cluster import inventory as stored_inventory
from kubesync.cluster.dryrun import check_create, check_update
from kubesync.cluster.requests import FieldValidation
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
    Manifest,
    Plan,
    ResourceType,
    Verdict,
)
from kubesync.plan import build_plan, selected
from kubesync.resolve import Resolved, check_namespaces, resolve, with_schemas
from kubesync.secrets import remember
from kubesync.settings import SyncConfig, Validation
from kubesync.validate import FieldReport, judge, to_check, unattended, unknown_fields

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
        writes = any(a.type in (ActionType.CREATE, ActionType.UPDATE) for a in plan.actions)  # else nothing to check
        plan = verify_plan(cluster, discovery, plan, validation=config.validation,
                           fields=_fields(discovery, resolved, desired) if writes else None)
    if config.unattended:
        plan, _ = unattended(plan)  # nobody confirms: only opted-in replacements run; the rest are warnings
    if desired.warnings:
        plan = replace(plan, warnings=desired.warnings + plan.warnings)
    if desired.charts or inv_charts:  # Helm: chart versions before and after
        plan = replace(plan, charts=chart_changes(inv_charts, desired.charts))
    if desired.hooks:
        plan = with_hooks(plan, desired, discovery, config)
    return Planned(plan, tuple(resolved), config, tuple(inv), live, managed, inventory_source=inv_source)


def with_hooks(plan: Plan, desired: DesiredState, discovery, config: SyncConfig) -> Plan:
    """The plan with the source's hooks in run order, their namespaces defaulted and kinds resolved (a kind the
    cluster does not serve is an error, as for any object, unless a CRD of the source serves it); a selective
    sync (-l) runs none, as in Argo CD."""
    hooks = desired.hooks
    if config.selector:
        return replace(plan, warnings=plan.warnings + (f"{len(hooks)} hook(s) not run: a sync of some objects (-l) runs "
                                                       "no hooks (as Argo CD's selective sync)",))
    runnable = [h for h in hooks if h.phases]
    crds = [m for m in desired.manifests if m.ref.kind == "CustomResourceDefinition"]
    resolved = resolve([Manifest(h.ref, h.obj, h.origin) for h in runnable] + crds, discovery.resource_for, config.namespace,
                       discovery.kinds)[:len(runnable)]
    if config.strict_namespace:
        check_namespaces(resolved, config.namespace)
    placed = [replace(h, ref=r.ref, obj=r.obj) for h, r in zip(runnable, resolved)]
    warnings = [f"{h.origin}: {h.ref}: {phrase}" for h in hooks for phrase in unhonoured((h.obj.get("metadata") or {}).get("annotations") or {})]
    return replace(plan, hooks=ordered(placed + [h for h in hooks if not h.phases]),
                   warnings=plan.warnings + tuple(warnings))


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


# What --validate asks of the server in dry runs and writes (kubectl's mapping of its flag).
FIELD_VALIDATION = {Validation.STRICT: FieldValidation.STRICT, Validation.WARN: FieldValidation.WARN,
                    Validation.NONE: FieldValidation.IGNORE}
STRICT_SINCE = (1, 25)  # fieldValidation: beta and on by default in 1.25, GA in 1.27; older servers ignore it


@dataclass(frozen=True)
class FieldCheck:
    """What checking the plan's fields needs: the kinds' known fields, whether the server checks them
    itself (strict field validation), and the source's texts for the lines of the fields."""

    fields_of: Callable[[Action], object]
    server_checks: bool = True
    texts: Mapping[str, str] = field(default_factory=dict)


def _fields(discovery, resolved: Sequence[Resolved], desired: DesiredState) -> FieldCheck:
    """Each object's known fields from its schema (a CRD of the desired state speaks for its resources);
    whether the server checks them itself is told by its version, read once with the schemas."""
    by_key = {r.ref.key: r.schema for r in resolved}

    def fields_of(action: Action):
        schema = by_key.get(action.ref.key)
        return schema.fields if schema is not None else None

    version = discovery.server_version()
    return FieldCheck(fields_of, version is not None and version >= STRICT_SINCE, desired.texts)


def verify_plan(cluster: API, discovery, plan: Plan, concurrency: int = 8, *, validation: Validation = Validation.STRICT,
                fields: FieldCheck | None = None) -> Plan:
    """The server's dry run of every create and update, in wave order, `concurrency` at a time; no-ops
    are never sent. What the answers mean is decided in kubesync.validate: rejected objects and unknown
    fields raise PlanInvalid (all of them at once), immutable-field updates become replacements, updates
    the server would not store become no-ops, and what could not be dry-run says so on the plan.

    Unknown fields are the server's to find (fieldValidation=Strict or Warn) where it can; the schema
    finds them in what it could not validate (objects not dry-run yet, dry runs refused) and, on a
    server without strict field validation, in every create and update."""

    def served(action: Action) -> bool:
        return discovery.resource_for(action.ref.api_version, action.ref.kind) is not None

    actions, later = to_check(plan, served)
    mode = FIELD_VALIDATION[validation]

    def check(action: Action) -> Check:
        rtype = discovery.resource_for(action.ref.api_version, action.ref.kind)
        if action.type is ActionType.CREATE:
            return check_create(cluster, rtype, action, mode)
        return check_update(cluster, rtype, action, mode)

    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="verify") as pool:
        checks = {a.ref.key: c for a, c in zip(actions, pool.map(check, actions))}
    report, found = _schema_check(plan, checks, validation, fields)
    checked, problems = judge(plan, checks, later, report)
    if problems:
        bad = len({key for key, c in checks.items() if c.verdict is Verdict.INVALID} | set(found))
        why = ("objects the server could not dry-run" if fields and fields.server_checks else
               f"Kubernetes before {STRICT_SINCE[0]}.{STRICT_SINCE[1]} has no strict field validation")
        head = (f"the server rejects {bad} object(s) of the plan (server-side dry run)" if not found else
                f"{bad} object(s) of the plan are invalid (unknown fields checked against the server's schema: {why})")
        raise errors.PlanInvalid(problems, head)
    return checked


def _schema_check(plan: Plan, checks: Mapping[tuple, Check], validation: Validation, fields: FieldCheck | None):
    """The FieldReport of the plan, and the unknown fields the schema found (those the server will not)."""
    if fields is None:
        return FieldReport(warn=validation is Validation.WARN), {}
    trusted = {key for key, c in checks.items() if c.verdict not in (Verdict.FORBIDDEN, Verdict.FAILED)}
    skip = trusted if fields.server_checks else frozenset()
    found, n = unknown_fields(plan, fields.fields_of, skip)
    log.debug("unknown fields: %d object(s) checked against their schema, %d with unknown fields", n, len(found))
    return FieldReport(fields.texts, fields.fields_of, found, validation is Validation.WARN), found


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
