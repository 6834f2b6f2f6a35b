"""Pure: what a sync hook is and in which order hooks run (the model: Argo CD's resource hooks and
gitops-engine's `pkg/sync`). The runner that creates and waits for them is kubesync/sync/hooks.py.

    PreSync   before anything is applied; a failure stops the sync with nothing else applied
    Sync      with the apply, in the wave of its sync-wave
    PostSync  once every object of the sync is Healthy
    SyncFail  only when a phase failed

A hook is kept out of the objects a sync owns: it carries `kubesync.io/hook-of: <sync>` instead of the
owner labels (so it is never pruned, never drift, never in the inventory), and a finalizer of its own
until its outcome is read (a Job with `ttlSecondsAfterFinished: 0` would vanish before). Within a phase:
wave, then kind (Helm's order, as Argo CD), then name; a Namespace or CRD hook moves up to the wave of
the first hook that needs it. A `generateName` hook gets `<generateName><revision[:7]>-<phase>-<start>`:
one stable name per run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable

from kubesync import annotations as notes
from kubesync.model import INVENTORY_NAMESPACE, MANAGED_BY_LABEL, MANAGED_BY_VALUE, Hook, KubeObject, Manifest, ObjectRef, Plan, json_copy

GENERATED = "<…>"  # a generateName hook's name until it runs
HOOK_LABEL = "kubesync.io/hook-of"  # on a hook object: the sync that runs it (never the owner labels)
FINALIZER = "kubesync.io/hook-finalizer"  # held until the run has read the hook's outcome
RECORD_FOR_LABEL = "kubesync.io/hooks-for"
RECORD_FORMAT = "kubesync.io/hooks/v1"

# Helm's kind order (releaseutil/kind_sorter.go), which gitops-engine orders a wave by; other kinds after.
KIND_ORDER = ("Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy", "PodDisruptionBudget",
              "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass", "PersistentVolume",
              "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole", "ClusterRoleList", "ClusterRoleBinding",
              "ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList", "Service", "DaemonSet", "Pod",
              "ReplicationController", "ReplicaSet", "Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job",
              "CronJob", "IngressClass", "Ingress", "APIService")
_KIND_RANK = {kind: i for i, kind in enumerate(KIND_ORDER)}


def manifest_ref(obj: KubeObject) -> ObjectRef:
    """The object's identity; a `generateName` object (only a hook may be one) is `<generateName><…>`."""
    ref = ObjectRef.of(obj)
    meta = obj.get("metadata") or {}
    if not ref.name and isinstance(meta, dict) and isinstance(meta.get("generateName"), str):
        return ObjectRef(ref.group, ref.version, ref.kind, ref.namespace, meta["generateName"] + GENERATED)
    return ref


def hook_of(m: Manifest) -> Hook | None:
    """The hook a manifest is (None: an ordinary object)."""
    annotations = (m.obj.get("metadata") or {}).get("annotations") or {}
    spec = notes.hook(annotations)
    if spec is None:
        return None
    return Hook(m.ref, spec.phases, m.origin, notes.hook_wave(annotations), notes.delete_policies(annotations), m.obj,
                spec.said, spec.skipped)


def split_hooks(manifests: Iterable[Manifest]) -> tuple[tuple[Manifest, ...], tuple[Hook, ...]]:
    """(objects to apply, hooks), each in source order."""
    objects: list[Manifest] = []
    hooks: list[Hook] = []
    for m in manifests:
        hook = hook_of(m)
        if hook is None:
            objects.append(m)
        else:
            hooks.append(hook)
    return tuple(objects), tuple(hooks)


def _waves(hooks: list[Hook]) -> dict[int, int]:
    """Each hook's wave in one phase, a Namespace or CRD hook moved up to the first hook that needs it."""
    out = {id(h): h.wave for h in hooks}
    for h in hooks:
        needs = []
        if h.ref.kind == "Namespace" and not h.ref.group:
            needs = [o.wave for o in hooks if o.ref.namespace == h.ref.name]
        elif h.ref.kind == "CustomResourceDefinition":
            spec = h.obj.get("spec") or {}
            kind = (spec.get("names") or {}).get("kind")
            needs = [o.wave for o in hooks if o.ref.group == spec.get("group") and o.ref.kind == kind]
        out[id(h)] = min([h.wave, *needs])
    return out


def steps(hooks: Iterable[Hook], phase: str) -> list[list[Hook]]:
    """The hooks of one phase, wave by wave; each wave in kind, then name order."""
    mine = [h for h in hooks if phase in h.phases]
    waves = _waves(mine)
    ordered = sorted(mine, key=lambda h: (waves[id(h)], _KIND_RANK.get(h.ref.kind, len(KIND_ORDER)), h.ref.name))
    out: list[list[Hook]] = []
    last = None
    for h in ordered:
        if waves[id(h)] != last:
            out.append([])
            last = waves[id(h)]
        out[-1].append(h)
    return out


def runs(hooks: Iterable[Hook]) -> list[tuple[str, Hook]]:
    """(phase, hook) in run order, then the hooks that never run (phase '')."""
    hooks = list(hooks)
    out = [(phase, h) for phase in notes.PHASES for step in steps(hooks, phase) for h in step]
    return out + [("", h) for h in hooks if not h.phases]


def ordered(hooks: Iterable[Hook]) -> tuple[Hook, ...]:
    """Each hook once, in the order of its first run (never-run hooks last): the plan's order."""
    first: dict[int, Hook] = {}
    for _, h in runs(hooks):
        first.setdefault(id(h), h)
    return tuple(first.values())


def run_name(hook: Hook, revision: str, phase: str, started: int) -> str:
    """The hook's name in this run: its own, or `<generateName><revision[:7]>-<phase>-<start>` (gitops-engine's;
    a folder's `sha256:` revision counts from its digest)."""
    if not hook.generate_name:
        return hook.ref.name
    return hook.generate_name + f"{revision.rpartition(':')[2][:7]}-{phase}-{started}".lower()


def hook_object(hook: Hook, name: str, sync: str) -> KubeObject:
    """What is created: the hook as written, named, labelled as this sync's hook, holding the finalizer."""
    obj = json_copy(hook.obj)
    obj.pop("status", None)
    meta = obj.setdefault("metadata", {})
    meta.pop("generateName", None)
    meta["name"] = name
    if hook.ref.namespace:
        meta["namespace"] = hook.ref.namespace
    meta["labels"] = {**(meta.get("labels") or {}), HOOK_LABEL: sync}
    meta["finalizers"] = [*[f for f in meta.get("finalizers") or () if f != FINALIZER], FINALIZER]
    return obj


def is_hook_of(live: KubeObject | None, sync: str) -> bool:
    """Whether a live object is a hook this sync created (only those may be deleted by a delete policy)."""
    return ((live or {}).get("metadata") or {}).get("labels", {}).get(HOOK_LABEL) == sync


def describe(phase: str, hook: Hook) -> str:
    """One plan line: `PreSync   batch/v1 Job shop/migrate-<…>  wave -1  HookSucceeded  (jobs.yaml:3)`."""
    if not phase:
        return f"{'never':<9} {hook.ref}  ({hook.said}: {hook.skipped}; {hook.origin})"
    return f"{phase:<9} {hook.ref}  wave {hook.wave}  {','.join(hook.delete_policies)}  ({hook.origin})"


def plan_title(plan: Plan) -> str:
    """The heading of a plan's hooks: whether this apply runs them."""
    runs_ = sum(len(h.phases) for h in plan.hooks)
    if not runs_:
        return f"Hooks (never run: {len(plan.hooks)})"
    if plan.has_changes:
        return f"Hooks (run around this apply: {runs_})"
    return f"Hooks (not run: nothing to apply; `apply --force-hooks` runs them: {runs_})"


def plan_lines(plan: Plan) -> list[str]:
    """One line per run of a hook, in run order, then the hooks never run."""
    return [describe(phase, h) for phase, h in runs(plan.hooks)]


@dataclass(frozen=True)
class HookStep:
    """A hook phase's progress, passed to the apply's progress callback beside the objects' outcomes."""

    phase: str
    event: str
    """started, succeeded, failed, timed out, interrupted (the phase); hook succeeded, hook failed,
    deleted (one hook, named by `object`)."""
    object: str = ""
    message: str = ""
    hooks: int = 0
    """How many hooks the phase runs (with `started`)."""

    def __str__(self) -> str:
        what = f"{self.phase} hook {self.object}" if self.object else f"{self.phase} phase"
        count = f" ({self.hooks} hook(s))" if self.hooks else ""
        return f"{what}: {self.event}{count}" + (f": {self.message}" if self.message else "")


@dataclass(frozen=True)
class HookResult:
    """One hook of a run, for the run record."""

    phase: str
    object: str
    result: str
    """succeeded, failed, timed out, interrupted, kept (an existing named hook without BeforeHookCreation)."""
    message: str = ""


def record_name(sync: str) -> str:
    return f"kubesync-hooks-{sync}"


def record(sync: str, results: Iterable[HookResult], revision: str, started: str, finished: str, outcome: str,
           namespace: str = INVENTORY_NAMESPACE) -> KubeObject:
    """The run record of a sync's last hook run: a ConfigMap beside its inventory (hooks are not owned objects)."""
    rows = [{"phase": r.phase, "object": r.object, "result": r.result, "message": r.message} for r in results]
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": record_name(sync), "namespace": namespace,
                     "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE, RECORD_FOR_LABEL: sync}},
        "data": {"format": RECORD_FORMAT, "revision": revision, "startedAt": started, "finishedAt": finished,
                 "result": outcome, "hooks": json.dumps(rows, indent=1)},
    }
