"""Pure: the order a plan runs in, as a table (lightkube's RANK_ORDER, Flux's ssa/sort.go).

    creates and updates   Argo CD's sync wave ascending, then the kind's step (WAVES) ascending
    deletions             after them all: sync wave descending, then the step descending
    PruneLast deletions   after every other deletion

Every object is in Argo CD's wave 0 unless `argocd.argoproj.io/sync-wave` (or `helm.sh/hook-weight`,
as gitops-engine reads it) says otherwise, so a source without Argo CD's annotations orders by kind
alone. Within a wave, the steps follow the habits of Helm, kapp and Argo CD: namespaces and CRDs first,
workloads late, admission webhook configurations last of all. `kubesync.io/wave: "<int>"` sets an
object's step. A Namespace or CRD moves up to the first wave of an object that needs it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable

from kubesync.annotations import Option, options, sync_wave
from kubesync.model import WAVE_ANNOTATION, Action, ActionType, KubeObject, ObjectRef, Plan

# Ordering is a table: group_kind -> step. Anything not listed (Ingress, HPA, custom resources,
# webhooks...) goes in the last step, after the workloads it refers to.
WAVES: dict[str, int] = {
    **dict.fromkeys(
        ["Namespace", "CustomResourceDefinition.apiextensions.k8s.io", "PriorityClass.scheduling.k8s.io", "StorageClass.storage.k8s.io"],
        0,
    ),
    **dict.fromkeys(
        [
            "ServiceAccount",
            "ResourceQuota",
            "LimitRange",
            "PodSecurityPolicy.policy",
            "ClusterRole.rbac.authorization.k8s.io",
            "Role.rbac.authorization.k8s.io",
        ],
        1,
    ),
    # Bindings after their roles: a non-admin binder gets 404 "role not found" when they race.
    **dict.fromkeys(["ClusterRoleBinding.rbac.authorization.k8s.io", "RoleBinding.rbac.authorization.k8s.io"], 2),
    **dict.fromkeys(["ConfigMap", "Secret", "PersistentVolume", "PersistentVolumeClaim"], 3),
    **dict.fromkeys(["Service"], 4),
    **dict.fromkeys(
        [
            "Deployment.apps",
            "StatefulSet.apps",
            "DaemonSet.apps",
            "ReplicaSet.apps",
            "ReplicationController",
            "Pod",
            "Job.batch",
            "CronJob.batch",
        ],
        5,
    ),
}
LAST_WAVE = 6
# Admission webhook configurations go last of all, after every object whose kind they could intercept
# (custom resources with a later wave annotation included): a sync never asks a webhook it is itself
# installing, whose pods may not run yet, to admit its own objects. Deleted first, by the same rule.
WEBHOOK_KINDS = frozenset({"ValidatingWebhookConfiguration.admissionregistration.k8s.io",
                           "MutatingWebhookConfiguration.admissionregistration.k8s.io"})


def _annotations(obj: KubeObject | None) -> dict:
    return ((obj or {}).get("metadata") or {}).get("annotations") or {}


def wave_of(ref: ObjectRef, obj: KubeObject | None) -> int:
    """The table's step, unless the object's kubesync.io/wave annotation names one."""
    value = _annotations(obj).get(WAVE_ANNOTATION)
    if value is not None:
        try:
            return int(str(value).strip())
        except ValueError:
            pass  # refused at load (annotations.problems); one from elsewhere falls back to the table
    return WAVES.get(ref.group_kind, LAST_WAVE)


def sync_wave_of(obj: KubeObject | None) -> int:
    """Argo CD's wave of an object (0 without the annotation)."""
    return sync_wave(_annotations(obj))


def prune_last(action: Action) -> bool:
    """A deletion of an object annotated PruneLast=true (read on the live object, which is all a prune has)."""
    return action.type is ActionType.DELETE and Option.PRUNE_LAST in options(_annotations(action.live))


def _stage(a: Action) -> int:
    return 0 if a.type is not ActionType.DELETE else 2 if prune_last(a) else 1


def order(actions: Iterable[Action]) -> tuple[Action, ...]:
    """Creates/updates by sync wave then step ascending; deletions by both descending, PruneLast ones
    after the others; stable by object."""

    def key(a: Action):
        if a.type is ActionType.DELETE:
            return (_stage(a), -a.sync_wave, -a.wave, a.ref.namespace, a.ref.kind, a.ref.name)
        return (0, a.sync_wave, a.wave, a.ref.namespace, a.ref.kind, a.ref.name)

    return tuple(sorted(actions, key=key))


def wave_label(a: Action) -> str:
    """The plan table's WAVE: the kind's step, after Argo CD's sync wave when one is set (`-1:5`)."""
    return f"{a.sync_wave}:{a.wave}" if a.sync_wave else str(a.wave)


def waves(plan: Plan) -> list[list[Action]]:
    """Group the plan's ordered actions into steps that run one after the other."""
    steps: list[list[Action]] = []
    last = None
    for a in plan.actions:
        if a.type is ActionType.NOOP:
            continue
        key = (_stage(a), a.sync_wave, a.wave)
        if key != last:
            steps.append([])
            last = key
        steps[-1].append(a)
    return steps


def webhooks_last(actions: list[Action]) -> list[Action]:
    """Admission webhook configurations (without a wave annotation of their own) in a step after all the others,
    in the last sync wave."""
    def annotated(a: Action) -> bool:
        return WAVE_ANNOTATION in _annotations(a.desired)

    hooks = {id(a) for a in actions if a.ref.group_kind in WEBHOOK_KINDS and not annotated(a)}
    if not hooks:
        return actions
    others = [a for a in actions if a.ref.group_kind not in WEBHOOK_KINDS]
    last = max([LAST_WAVE] + [a.wave for a in others]) + 1
    final = max([a.sync_wave for a in actions])
    return [replace(a, wave=last, sync_wave=final) if id(a) in hooks else a for a in actions]


def dependencies_first(actions: list[Action]) -> list[Action]:
    """A Namespace, or a CRD, in the earliest sync wave of the objects in it, or of its resources (as
    gitops-engine's adjustDeps): a wave annotation never makes an object wait for its own namespace."""
    first: dict[tuple[str, str], int] = {}
    for a in actions:
        for key in (("ns", a.ref.namespace), ("crd", f"{a.ref.group}/{a.ref.kind}")):
            if key[1] and key[1] != "/":
                first[key] = min(first.get(key, a.sync_wave), a.sync_wave)

    def needed(a: Action) -> int | None:
        if a.ref.kind == "Namespace" and not a.ref.group:
            return first.get(("ns", a.ref.name))
        if a.ref.kind == "CustomResourceDefinition":
            spec = (a.desired or a.live or {}).get("spec") or {}
            return first.get(("crd", f"{spec.get('group')}/{(spec.get('names') or {}).get('kind')}"))
        return None

    out = []
    for a in actions:
        wave = needed(a)
        out.append(replace(a, sync_wave=wave) if wave is not None and wave < a.sync_wave else a)
    return out
