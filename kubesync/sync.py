"""The facade: the pipeline wired once (source -> manifests -> resolve -> live -> diff -> plan -> apply).

Commands, the daemon, tests and the benchmark call a `Pipeline` and nothing below it: plan, apply,
apply a saved plan, wait, and the set of objects to watch are each one call. The pure steps live
in their own modules; this one gathers their inputs from the cluster and the sources.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Protocol

from kubesync import errors, inventory
from kubesync.cluster import API
from kubesync.apply import Applier, ApplyReport, ApplySettings, Outcome, verify_plan
from kubesync.cluster import inventory as stored_inventory
from kubesync.cluster.discovery import Discovery
from kubesync.cluster.live import list_by_ref, list_managed, list_objects
from kubesync.deltas import Deltas, compute_deltas, quota_warnings
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
    Result,
)
from kubesync.plan import InventoryEntry, PlanSettings, build_plan, plan_object, selected, source_after
from kubesync.planfile import SavedPlan
from kubesync.secrets import remember
from kubesync.resolve import Resolved, check_namespaces, resolve, with_schemas

log = logging.getLogger(__name__)

# A (type, namespace) with more missing objects than this is LISTed whole rather than fetched one by one.
GET_THRESHOLD = 3

Progress = Callable[[Outcome], None]
RESOURCE_QUOTAS = ResourceType(group="", version="v1", kind="ResourceQuota", plural="resourcequotas", namespaced=True)


@dataclass(frozen=True)
class SyncSpec:
    """One sync: what to read, where to put it and how carefully."""

    name: str
    namespace: str = ""
    """For namespaced objects that name none; empty: the kubeconfig context's namespace, else `default` (kubectl's order)."""
    plan: PlanSettings | None = None
    inventory_namespace: str = inventory.DEFAULT_NAMESPACE
    strict_namespace: bool = False
    """`namespace` was given (-n): an object naming another namespace is an error, as in kubectl."""
    validate: bool = True
    """Dry-run every create and update on the server while planning (--validate=server, the default)."""

    @classmethod
    def of(cls, settings) -> "SyncSpec":
        """From the one settings model (config.SyncConfig, built by settings.merge)."""
        return cls(settings.name, settings.namespace, settings.plan_settings(), settings.inventory_namespace)


@dataclass
class Planned:
    """A plan together with what produced it (needed to apply it and to re-diff on conflicts)."""

    plan: Plan
    resolved: list[Resolved]
    settings: PlanSettings | None
    inventory: list[InventoryEntry]
    live: dict[tuple, KubeObject] = field(default_factory=dict)
    managed: dict[tuple, KubeObject] = field(default_factory=dict)
    deltas: Deltas | None = None
    """CPU/memory before and after, when the caller asked for them (`plan`)."""
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


class Pipeline:
    """One cluster connection and its discovery, with every pipeline step as one call."""

    def __init__(self, cluster=None, discovery: Discovery | None = None, *, connect: Callable[[], object] | None = None,
                 reader: LiveReader | None = None):
        """Give a cluster, or `connect` to open one on first use (a bad source then fails before the
        kubeconfig is even read). `reader`: where live state is read when not from the cluster (the
        daemon's shared watch cache, cluster/cache.SyncView)."""
        self._cluster = cluster
        self._connect = connect
        self._discovery = discovery
        self.reader = reader

    @classmethod
    def connect(cls, kubeconfig: str | None = None, context: str | None = None, settings=None, overrides=None) -> "Pipeline":
        """`settings`: cluster.client.ClientSettings (--request-timeout); `overrides`: kubeconfig.Overrides (--as...)."""
        def open_cluster():
            from kubesync.cluster.client import Cluster

            return Cluster.connect(kubeconfig, context, settings, overrides)

        return cls(connect=open_cluster)

    @property
    def cluster(self):
        if self._cluster is None:
            if self._connect is None:
                raise ValueError("Pipeline needs a cluster or a way to connect to one")
            self._cluster = self._connect()
        return self._cluster

    @property
    def discovery(self) -> Discovery:
        if self._discovery is None:
            self._discovery = Discovery(self.cluster)
        return self._discovery

    # -- read-only --------------------------------------------------------------------------------------

    def plan(self, desired: DesiredState, spec: SyncSpec) -> Planned:
        """Everything read-only: resolve, read live state and the inventory, plan."""
        settings = spec.plan or PlanSettings(sync=spec.name)
        if not spec.namespace:
            spec = replace(spec, namespace=getattr(self.cluster, "namespace", "") or "default")
        resolved = resolve(desired.manifests, self.discovery.resource_for, spec.namespace)
        if spec.strict_namespace:
            check_namespaces(resolved, spec.namespace)
        resolved = selected(resolved, settings)
        resolved = with_schemas(resolved, self.discovery.schemas(r.rtype for r in resolved if not r.pending_crd))
        inv, inv_source = stored_inventory.read_with_source(self.cluster, spec.name, spec.inventory_namespace, self.reader)
        live, managed = fetch_live(self.cluster, self.discovery, resolved, inv, spec.name, self.reader)
        remember([*live.values(), *managed.values()])  # live Secret values are scrubbed from messages too
        plan = build_plan(resolved, live, managed, inv, settings, source=desired.source, revision=desired.revision,
                          inventory_source=inv_source)
        if spec.validate:
            plan = verify_plan(self.cluster, self.discovery, plan)
        if desired.warnings:
            plan = replace(plan, warnings=desired.warnings + plan.warnings)
        return Planned(plan, resolved, settings, inv, live, managed, inventory_source=inv_source)

    def plan_source(self, source, spec: SyncSpec, *, deltas: bool = False) -> Planned:
        """Load a source (a SourceSpec) and plan it; with `deltas`, add resource deltas and quota warnings."""
        from kubesync.sources import load

        planned = self.plan(load(source), spec)
        if deltas:
            planned.deltas = compute_deltas(planned.plan)
            if not planned.deltas.empty:
                planned.plan = self.with_quota_warnings(planned.plan, planned.deltas)
        return planned

    def with_quota_warnings(self, plan: Plan, deltas: Deltas) -> Plan:
        """Warn when the plan's CPU/memory would push a namespace past its ResourceQuota."""
        quotas = []
        for ns in sorted(n.namespace for n in deltas.namespaces if n.namespace):
            quotas.extend(list_objects(self.cluster, RESOURCE_QUOTAS, ns))
        warnings = quota_warnings(deltas, quotas) if quotas else []
        return replace(plan, warnings=plan.warnings + tuple(warnings)) if warnings else plan

    # -- writes -----------------------------------------------------------------------------------------

    def apply(self, planned: Planned, spec: SyncSpec, settings: ApplySettings, progress: Progress | None = None,
              stop=None) -> ApplyReport:
        """Execute the plan and record the new inventory, also when some actions failed."""
        applier = Applier(self.cluster, self.discovery, settings, replan=replanner(planned), progress=progress)
        if stop is not None:
            applier.stop = stop
        report = ApplyReport()
        try:
            report = applier.apply(planned.plan)
        finally:
            if not settings.dry_run:
                source = source_after(planned.inventory_source, planned.settings) if planned.settings else planned.inventory_source
                existed = bool(planned.inventory or planned.inventory_source)
                record_inventory(self.cluster, spec, next_inventory(planned, report), report, source, existed)
        return report

    def stale(self, saved: SavedPlan) -> list[str]:
        """Why a saved plan may no longer run: its source moved, or objects changed since (empty: it may)."""
        stale = stale_objects(self.cluster, self.discovery, saved.plan)
        moved = source_moved(saved)
        return [moved, *stale] if moved else stale

    def apply_saved(self, saved: SavedPlan, settings: ApplySettings, progress: Progress | None = None) -> ApplyReport:
        """Exactly the reviewed actions; conflicts are failures, never re-diffed (there is no source to diff)."""
        spec = SyncSpec(name=saved.plan.sync, namespace=saved.namespace or "default")  # only names the inventory
        inv, inv_source = stored_inventory.read_with_source(self.cluster, spec.name, spec.inventory_namespace)
        planned = Planned(saved.plan, [], None, inv)
        report = Applier(self.cluster, self.discovery, settings, replan=None, progress=progress).apply(saved.plan)
        if not settings.dry_run:
            source = inv_source or (saved.source.identity() if saved.source is not None else "")
            record_inventory(self.cluster, spec, next_inventory(planned, report), report, source, bool(inv or inv_source))
        return report

    def wait(self, planned: Planned, timeout: float, *, label: str = "", on_waiting: Callable[[tuple], None] | None = None,
             interval: float = 1.0, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> int:
        """Until every desired object is Healthy: returns how many; raises WaitTimeout naming the rest.

        `on_waiting` gets ((object, health), ...) each time the set of objects still waiting changes."""
        from kubesync.health import HealthStatus

        refs = [r.ref for r in planned.resolved]
        deadline = clock() + timeout
        last: tuple = ()
        while True:
            health = self.health(refs)
            waiting = tuple(sorted((str(ref), str(h)) for ref, h in health.items() if h.status is not HealthStatus.HEALTHY))
            if not waiting:
                return len(refs)
            if waiting != last and on_waiting is not None:
                on_waiting(waiting)
            last = waiting
            if clock() >= deadline:
                raise errors.WaitTimeout(
                    f"timed out after {label or f'{timeout:g}s'} waiting for {len(waiting)} object(s) to become Healthy:\n"
                    + "\n".join(f"  {ref}: {h}" for ref, h in waiting)
                )
            sleep(interval)

    def identity(self):
        """Which cluster this is (planfile.ClusterIdentity): its API server URL and kube-system's uid."""
        from kubesync.planfile import ClusterIdentity

        try:
            uid = (self.cluster.get_or_none("/api/v1/namespaces/kube-system") or {}).get("metadata", {}).get("uid", "")
        except errors.ClusterUnauthorized:
            uid = ""  # read-only credentials without namespaces: the URL alone identifies the cluster
        return ClusterIdentity(self.cluster.server, uid)

    def server_version(self) -> dict:
        """The API server's /version document (gitVersion, platform, ...)."""
        return self.cluster.get("/version")

    def owned_health(self, sync: str, inventory_namespace: str = inventory.DEFAULT_NAMESPACE) -> dict:
        """Without the source: the health of every object the sync's inventory lists (read fresh)."""
        if not stored_inventory.exists(self.cluster, sync, inventory_namespace):
            raise errors.UsageError(f"sync {sync!r} has no inventory in namespace {inventory_namespace!r} of this cluster "
                                    "(never applied here, or another --context?)")
        return self.health([e.ref for e in stored_inventory.read(self.cluster, sync, inventory_namespace)])

    def health(self, refs: list[ObjectRef]) -> dict:
        """The health of each object, read fresh (a missing object or kind is Missing)."""
        from kubesync.health import assess

        out = {}
        for ref in refs:
            rtype = self.discovery.resource_for(ref.api_version, ref.kind)
            live = self.cluster.get_or_none(rtype.path(ref.namespace, ref.name)) if rtype else None
            out[ref] = assess(live)
        return out


def compare_refs(repo: str, base: str, head: str, subpath: str | None = None, namespace: str = "default") -> Plan:
    """The plan merging `head` into `base` would cause, from the two refs alone: no cluster."""
    from kubesync.compare import compare_states
    from kubesync.sources import SourceSpec, load

    base_spec = SourceSpec(repo=repo, ref=base, subpath=subpath)
    head_spec = SourceSpec(repo=repo, ref=head, subpath=subpath)
    base_state = load(base_spec)
    head_state = load(head_spec, fetch=False)  # one fetch serves both refs
    return compare_states(base_state, head_state, sync=head_spec.default_name(), namespace=namespace)


def fetch_live(cluster: API, discovery: Discovery, resolved: list[Resolved], inv: list[InventoryEntry], sync: str,
               reader: LiveReader | None = None):
    """Live copies of the desired objects (by key) and every object labelled with this sync.

    One labelled LIST per resource type covers the steady state (or the `reader`'s watch cache, no
    request at all); desired objects not found there
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
        if reader is not None:
            managed.update(reader.managed(rtype, namespaces, selector(sync)))
        else:
            managed.update(list_managed(cluster, rtype, namespaces, selector(sync)))
    live = {r.ref.key: managed[r.ref.key] for r in resolved if not r.pending_crd and r.ref.key in managed}
    live.update(_fetch_missing(cluster, resolved, live))
    return live, managed


def _fetch_missing(cluster: API, resolved: list[Resolved], live: dict[tuple, KubeObject]) -> dict[tuple, KubeObject]:
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
            obj = cluster.get_or_none(rtype.path(r.ref.namespace, r.ref.name))
            if obj is not None:
                obj.setdefault("apiVersion", rtype.api_version)
                obj.setdefault("kind", rtype.kind)
                found[r.ref.key] = obj
    return found


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
        if o.result is Result.DELETED:
            uids.pop(key, None)
        elif o.live is not None and o.live.get("metadata", {}).get("uid"):
            uids[key] = (o.action.ref, o.live["metadata"]["uid"])
        elif o.result in (Result.PATCHED, Result.SCALED, Result.UNCHANGED) and o.action.uid:
            uids[key] = (o.action.ref, o.action.uid)
    conflicts = {a.ref.key for a in planned.plan.actions if a.type is ActionType.CREATE} - {
        o.action.ref.key for o in report.outcomes if not o.failed
    }
    return [InventoryEntry(ref, uid) for key, (ref, uid) in sorted(uids.items()) if uid and key not in conflicts]


def record_inventory(cluster: API, spec: SyncSpec, entries: list[InventoryEntry], report: ApplyReport, source: str = "",
                     exists: bool | None = None) -> None:
    """Write the inventory (`exists`: whether one was read); when that fails after some actions failed too, report both."""
    try:
        stored_inventory.write(cluster, spec.name, entries, spec.inventory_namespace, source=source, exists=exists)
    except errors.KubesyncError as e:
        if not report.failures:
            raise
        raise errors.ApplyFailed([o.message for o in report.failures] + [f"the inventory could not be recorded: {e}"],
                                 not_started=len(report.not_started)) from e


def raise_for_failures(report: ApplyReport) -> None:
    if report.failures:  # a cause shared by many objects is one line with their count
        later = len(report.not_started) - report.cut_short
        raise errors.ApplyFailed(report.failure_lines(), not_started=later, failed=len(report.failures))


def stale_objects(cluster: API, discovery: Discovery, plan: Plan) -> list[str]:
    """Every action whose object is no longer as it was when the plan was made."""
    stale = []
    for a in plan.actions:
        rtype = discovery.resource_for(a.ref.api_version, a.ref.kind)
        if rtype is None:
            if a.type is not ActionType.CREATE:
                stale.append(f"{a.ref}: its kind is no longer served by the cluster")
            continue
        live = cluster.get_or_none(rtype.path(a.ref.namespace, a.ref.name))
        if a.type is ActionType.CREATE:
            if live is not None:
                stale.append(f"{a.ref}: to be created, but it exists now")
            continue
        if live is None:
            stale.append(f"{a.ref}: deleted since the plan")
            continue
        meta = live.get("metadata") or {}
        if meta.get("uid") != a.uid:
            stale.append(f"{a.ref}: re-created since the plan (uid {a.uid} -> {meta.get('uid')})")
        elif meta.get("resourceVersion") != a.resource_version:
            stale.append(f"{a.ref}: changed since the plan (resourceVersion {a.resource_version} -> {meta.get('resourceVersion')})")
    return stale


def source_moved(saved: SavedPlan) -> str | None:
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
