"""The facade: the pipeline wired once (source -> manifests -> resolve -> live -> diff -> plan -> apply).

Commands, the daemon, tests and the benchmark call a `Pipeline` and nothing below it. One file per
capability (the model: fluxcd/pkg ssa's manager_*.go):

    plan.py    read-only: resolve, live state, inventory, diff, plan, server validation (Planned)
    apply.py   write: execute a plan or a saved plan, record the inventory
    saved.py   whether a saved plan is stale (objects changed, source moved)
    wait.py    health read fresh, one labelled LIST per resource type per poll
    listing.py every sync on the cluster, from the inventories (`kubesync list`)

A new source kind (Helm, Jsonnet) plugs in below `sources.load`, which hands every kind to the
pipeline as the same DesiredState; a new apply phase (hooks) plugs into `apply.py`, around
`Applier.apply`, with its own wait from `wait.py`.
"""

from __future__ import annotations

import threading
from typing import Callable

from kubesync import errors
from kubesync.apply import ApplyReport, ApplySettings
from kubesync.cluster import API
from kubesync.cluster import inventory as stored_inventory
from kubesync.cluster.discovery import Discovery
from kubesync.inventory import DEFAULT_NAMESPACE
from kubesync.model import NAMESPACES, SECRETS, DesiredState, ObjectRef, Plan
from kubesync.settings import SyncConfig
from kubesync.sync import saved as saved_plans
from kubesync.sync.rendertarget import render_target
from kubesync.sync import wait as waiting
from kubesync.sync.apply import Progress, apply_planned, apply_saved, next_inventory, raise_for_failures
from kubesync.sync.plan import LiveReader, Planned, fetch_live, plan_desired, selector, with_deltas
from kubesync.sync.saved import reopen as reopen_saved

__all__ = ["Pipeline", "Planned", "LiveReader", "compare_refs", "decryption_keys", "fetch_live", "load_for", "next_inventory",
           "raise_for_failures", "reopen_saved", "selector"]


class Pipeline:
    """One cluster connection and its discovery, with every pipeline step as one call."""

    def __init__(self, cluster: API | None = None, discovery: Discovery | None = None, *,
                 connect: Callable[[], API] | None = None, reader: LiveReader | None = None):
        """Give a cluster (a cluster.api.Client), or `connect` to open one on first use (a bad source then
        fails before the kubeconfig is even read). `reader`: where live state is read when not from the
        cluster (the daemon's shared watch cache, cluster/cache.SyncView)."""
        self._cluster = cluster
        self._connect = connect
        self._discovery = discovery
        self.reader = reader

    @classmethod
    def connect(cls, kubeconfig: str | None = None, context: str | None = None, settings=None, overrides=None) -> "Pipeline":
        """`settings`: cluster.client.ClientSettings (--request-timeout); `overrides`: kubeconfig.Overrides (--as...)."""
        def open_cluster() -> API:
            from kubesync.cluster.api import Client

            return Client.connect(kubeconfig, context, settings, overrides)

        return cls(connect=open_cluster)

    @property
    def cluster(self) -> API:
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

    def plan(self, desired: DesiredState, config: SyncConfig) -> Planned:
        """Everything read-only: resolve, read live state and the inventory, plan, validate."""
        return plan_desired(self.cluster, self.discovery, desired, config, self.reader)

    def plan_source(self, config: SyncConfig, *, deltas: bool = False, sealed_ok: bool = False) -> Planned:
        """Load the sync's source and plan it; with `deltas`, add resource deltas and quota warnings. With
        `sealed_ok` (a review: plan, diff), SOPS-encrypted Secrets nobody here can decrypt are left as they are."""
        planned = self.plan(self.load(config, sealed_ok=sealed_ok), config)
        return with_deltas(self.cluster, planned) if deltas else planned

    def load(self, config: SyncConfig, *, fetch: bool = True, sealed_ok: bool = False) -> DesiredState:
        """Load the sync's source: SOPS-encrypted Secrets opened with its keys, a Helm chart rendered for its
        name, namespace and this cluster's versions (asked only when a chart renders; an unchanged chart is
        served from the render cache)."""
        return load_for(self, config, fetch=fetch, keys=self.keys(config), sealed_ok=sealed_ok)

    def keys(self, config: SyncConfig):
        """The age keys that open the sync's SOPS-encrypted Secrets (sources/keys.py): its key files, sops's
        variables, and its decryption Secret, read from the cluster on each call (a rotated key is used at once)."""
        return decryption_keys(config, lambda ns, name: self.cluster.get(SECRETS, ns, name))

    def unverifiable(self, saved) -> list[str]:
        """What a saved plan lacks to be checked (its cluster, source or settings): refused when anything."""
        return saved_plans.unverifiable(saved)

    def forged(self, saved, config: SyncConfig) -> list[str]:
        """How a saved plan differs from a fresh plan of its recorded source, revision and settings (`config`)
        against this cluster (empty: it is exactly what planning gives now, so it may run)."""
        try:
            fresh = self.plan_source(config).plan
        except errors.ClusterError:
            raise
        except errors.KubesyncError as e:  # the source cannot be planned again here: the plan cannot be checked
            raise errors.SourceError(f"{e}\n(apply --plan plans the saved plan's source again to check it before "
                                     "anything is applied; nothing was applied)") from e
        return saved_plans.differences(saved.plan, fresh, saved.reopen)

    def stale(self, saved) -> list[str]:
        """Why a saved plan (planfile.SavedPlan) may no longer run (empty: it may)."""
        return saved_plans.stale(self.cluster, self.discovery, saved)

    def identity(self):
        """Which cluster this is (planfile.ClusterIdentity): its API server URL and kube-system's uid."""
        from kubesync.planfile import ClusterIdentity

        try:
            uid = (self.cluster.get(NAMESPACES, "", "kube-system") or {}).get("metadata", {}).get("uid", "")
        except errors.ClusterUnauthorized:
            uid = ""  # read-only credentials without namespaces: the URL alone identifies the cluster
        return ClusterIdentity(self.cluster.server, uid)

    def server_version(self) -> dict:
        """The API server's /version document (gitVersion, platform, ...)."""
        return self.cluster.version()

    # -- writes -----------------------------------------------------------------------------------------

    def apply(self, planned: Planned, settings: ApplySettings, progress: Progress | None = None,
              stop: threading.Event | None = None) -> ApplyReport:
        """Execute the plan and record the new inventory, also when some actions failed."""
        return apply_planned(self.cluster, self.discovery, planned, settings, progress, stop)

    def apply_saved(self, saved, settings: ApplySettings, progress: Progress | None = None) -> ApplyReport:
        """Exactly the reviewed actions; conflicts are failures, never re-diffed (there is no source to diff)."""
        return apply_saved(self.cluster, self.discovery, saved, settings, progress)

    # -- health -----------------------------------------------------------------------------------------

    def wait(self, planned: Planned, timeout: float, **options) -> int:
        """Until every desired object is Healthy (see sync/wait.py); returns how many."""
        refs = [r.ref for r in planned.resolved]
        return waiting.wait(self.cluster, self.discovery, refs, planned.plan.sync, timeout, **options)

    def owned_health(self, sync: str, inventory_namespace: str = DEFAULT_NAMESPACE) -> dict:
        """Without the source: the health of every object the sync's inventory lists (read fresh)."""
        if not stored_inventory.exists(self.cluster, sync, inventory_namespace):
            raise errors.UsageError(f"sync {sync!r} has no inventory in namespace {inventory_namespace!r} of this cluster "
                                    "(never applied here, or another --context?)")
        return self.health([e.ref for e in stored_inventory.read(self.cluster, sync, inventory_namespace)], sync)

    def health(self, refs: list[ObjectRef], sync: str) -> dict:
        """The health of each object, read fresh (a missing object or kind is Missing)."""
        return waiting.health(self.cluster, self.discovery, refs, sync)

    def syncs(self) -> list[dict]:
        """Every sync on the cluster, from the inventories (sync/listing.py)."""
        from kubesync.sync.listing import list_syncs

        return list_syncs(self.cluster, self.discovery, (DEFAULT_NAMESPACE, self.cluster.namespace))


def decryption_keys(config: SyncConfig, read_secret: Callable[[str, str], dict | None] | None = None):
    """Local keys (key files, sops's variables) and, given a way to read it, the sync's decryption Secret."""
    from kubesync.sources import keys as age

    found = age.local(config.decryption.key_files)
    ref = config.decryption.secret_ref
    if ref is not None and read_secret is not None:
        where = f"{ref[0]}/{ref[1]}"
        try:
            secret = read_secret(*ref)
        except errors.ClusterError as e:
            raise errors.DecryptionError(f"decryption Secret {where}: cannot be read: {e}") from None
        found += age.from_secret(secret, where)
    return found



def load_for(pipeline, config: SyncConfig, *, fetch: bool = True, keys=None, sealed_ok: bool = False) -> DesiredState:
    """`config`'s source, SOPS-encrypted Secrets opened with `keys`, a chart rendered for the sync and for
    `pipeline`'s cluster (anything with `cluster` and `discovery`, opened only if a chart renders)."""
    from kubesync.sources import load

    target = render_target(pipeline, config.source, config.name, config.namespace)
    return load(config.source, fetch=fetch, keys=keys, sealed_ok=sealed_ok, target=target)


def compare_refs(repo: str, base: str, head: str, subpath: str | None = None, namespace: str = "default", *,
                 sync: str | None = None, prune: bool = True, fetch: bool = True, key_files: tuple[str, ...] = (),
                 source=None, target=None) -> Plan:
    """The plan merging `head` into `base` would cause, from the two refs alone: no cluster. `sync` and
    `prune` are the sync's own name and policy (kubesync.yaml), when compared for one. SOPS-encrypted Secrets
    are decrypted with the local keys (`key_files`, sops's variables) for a masked value-level diff; without
    one they are compared by ciphertext: unchanged, or "changed (encrypted)". Both refs render with the same
    Helm/Jsonnet options (`source`, a SourceSpec) and `target` (the versions charts render for)."""
    from dataclasses import replace

    from kubesync.compare import compare_states
    from kubesync.sources import SourceSpec, keys as age, load

    keys = age.local(key_files)
    source = source or SourceSpec(repo=repo, subpath=subpath)
    base_spec, head_spec = (replace(source, repo=repo, ref=ref, subpath=subpath) for ref in (base, head))
    base_state = load(base_spec, fetch=fetch, keys=keys, sealed_ok=True, target=target)
    head_state = load(head_spec, fetch=False, keys=keys, sealed_ok=True, target=target)  # one fetch serves both refs
    return compare_states(base_state, head_state, sync=sync or head_spec.default_name(), namespace=namespace, prune=prune)


def compare_config(repo: str, base: str, head: str, config, key_files: tuple[str, ...] = ()) -> list[tuple[SyncConfig, Plan]]:
    """`compare` for every sync of a kubesync.yaml (settings.Config) that reads this repository, each
    with its own path, namespace and prune policy."""
    from dataclasses import replace

    from kubesync.sources import Target
    from kubesync.sources.identity import syncs_reading

    found = syncs_reading(repo, config.syncs)
    if not found:
        raise errors.UsageError(f"{config.path or 'kubesync.yaml'}: no sync reads the repository {repo!r} "
                                "(compare needs syncs whose source is that repository or a folder inside it)")
    out = []
    for i, (sync, subpath) in enumerate(found):
        source, target = replace(sync.source, path=None, root=None), Target(sync.name, sync.namespace or "default")
        plan = compare_refs(repo, base, head, subpath, sync.namespace or "default", sync=sync.name, prune=sync.prune,
                            fetch=i == 0, key_files=key_files + sync.decryption.key_files, source=source, target=target)
        out.append((sync, plan))
    return out
