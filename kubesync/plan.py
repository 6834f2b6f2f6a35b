"""Pure planning: resolved desired objects x live objects x inventory -> an ordered Plan.

No I/O: the facade (kubesync.sync) gathers live state and the inventory, this module decides. Waves follow the
habits of Helm, kapp and Argo CD (namespaces and CRDs first, workloads late); deletions run after
every create and update, in the reverse order. `kubesync.io/wave: "<int>"` overrides an object's wave.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Collection, Iterable, Sequence

from kubesync.diff import diff as diff_objects
from kubesync.diff import normalize_desired
from kubesync.diff import fieldset
from kubesync.errors import PlanRefused
from kubesync.model import (
    ADOPTABLE_LABEL,
    InventoryEntry,
    LAST_APPLIED_ANNOTATION,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    SOPS_DIGEST_ANNOTATION,
    SYNC_LABEL,
    WAVE_ANNOTATION,
    Action,
    ActionType,
    KubeObject,
    ObjectRef,
    Plan,
    Risk,
    json_copy,
)
from kubesync.resolve import Resolved
from kubesync.prune import ADOPT_ANNOTATION, PENDING, adoption_asked, check_prune_safety, kept_by_adoption, owned_uid, squatted, check_prune_source, owned_count, same_source, source_after  # noqa: F401
from kubesync.settings import PlanSettings

# Ordering is a table: group_kind -> wave. Anything not listed (Ingress, HPA, custom resources,
# webhooks...) goes in the last wave, after the workloads it refers to.
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

# Fields the API server refuses to change in place: (group_kind, JSON pointer prefix).
IMMUTABLE: tuple[tuple[str, str], ...] = (
    ("Deployment.apps", "/spec/selector"),
    ("ReplicaSet.apps", "/spec/selector"),
    ("DaemonSet.apps", "/spec/selector"),
    ("StatefulSet.apps", "/spec/selector"),
    ("StatefulSet.apps", "/spec/serviceName"),
    ("StatefulSet.apps", "/spec/volumeClaimTemplates"),
    ("StatefulSet.apps", "/spec/podManagementPolicy"),
    ("Job.batch", "/spec/selector"),
    ("Job.batch", "/spec/template"),
    ("Job.batch", "/spec/completions"),
    ("Service", "/spec/clusterIP"),
    ("PersistentVolumeClaim", "/spec/storageClassName"),
    ("PersistentVolumeClaim", "/spec/accessModes"),
    ("PersistentVolumeClaim", "/spec/volumeName"),
    ("PersistentVolumeClaim", "/spec/selector"),
    ("PersistentVolumeClaim", "/spec/volumeMode"),
    ("Secret", "/type"),
    ("RoleBinding.rbac.authorization.k8s.io", "/roleRef"),
    ("ClusterRoleBinding.rbac.authorization.k8s.io", "/roleRef"),
)
RBAC_GROUP = "rbac.authorization.k8s.io"


def wave_of(ref: ObjectRef, obj: KubeObject | None) -> int:
    """The table's wave, unless the object's annotation names one."""
    annotations = ((obj or {}).get("metadata") or {}).get("annotations") or {}
    value = annotations.get(WAVE_ANNOTATION)
    if value is not None:
        try:
            return int(str(value).strip())
        except ValueError:
            pass  # refused at load (manifests._check_wave); one from elsewhere falls back to the table
    return WAVES.get(ref.group_kind, LAST_WAVE)


_json_copy = json_copy


def owned_object(obj: KubeObject, sync: str, ignore: Sequence = (), live: KubeObject | None = None, schema=None) -> KubeObject:
    """The desired object as kubesync sends it: our labels, plus the set of fields we set
    (ignored fields, including those other managers own in `live`, are left out of that set)."""
    return _owned(obj, sync, ignore, live, schema)[0]


def _owned(obj: KubeObject, sync: str, ignore: Sequence, live: KubeObject | None, schema=None) -> tuple[KubeObject, fieldset.FieldSet]:
    out = _json_copy(obj)
    out.pop("status", None)
    meta = out.setdefault("metadata", {})
    labels = meta.get("labels") or {}
    meta["labels"] = {**labels, MANAGED_BY_LABEL: MANAGED_BY_VALUE, SYNC_LABEL: sync}
    annotations = dict(meta.get("annotations") or {})
    annotations.pop(LAST_APPLIED_ANNOTATION, None)
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    fields = fieldset.fieldset_of(normalize_desired(out), ignore=ignore, live=live, schema=schema)
    meta.setdefault("annotations", {})[LAST_APPLIED_ANNOTATION] = fieldset.encode(fields)
    return out, fields


def ownership(live: KubeObject, sync: str) -> str | None:
    """None when the live object is ours; otherwise why it is not."""
    labels = (live.get("metadata") or {}).get("labels") or {}
    manager = labels.get(MANAGED_BY_LABEL)
    if manager == MANAGED_BY_VALUE:
        owner = labels.get(SYNC_LABEL)
        return None if owner == sync else f"managed by kubesync sync {owner!r}"
    if manager:
        return f"managed by {manager!r}"
    if labels.get(ADOPTABLE_LABEL) == "true":
        return None  # created unowned on purpose (e.g. the inventory's namespace): any sync may own it
    return "exists and is not managed by kubesync (use --adopt to take it over)"


def _previous(live: KubeObject, desired: KubeObject, fields: fieldset.FieldSet):
    """The live object's field set. In the steady state its annotation is the one just computed for
    `desired`: then it is `fields` itself (decoding would give the same set, or the same set with large
    maps hashed, which the diff reads alike)."""
    raw = ((live.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED_ANNOTATION)
    if raw and raw == desired["metadata"]["annotations"][LAST_APPLIED_ANNOTATION]:
        return fields
    return fieldset.decode(raw) if raw else None


def _risks_for_patch(ref: ObjectRef, patch: Sequence[dict], live: KubeObject | None, desired: KubeObject | None) -> tuple[list[Risk], str]:
    risks: list[Risk] = []
    note = ""
    immutable = [p for gk, p in IMMUTABLE if gk == ref.group_kind]
    touched = [op["path"] for op in patch]
    hits = sorted({t for t in touched for p in immutable if t == p or t.startswith(p + "/")})
    if hits:
        risks.append(Risk.IMMUTABLE)
        note = f"immutable field(s) {', '.join(hits)} changed: the server rejects this update; delete and re-create the object"
    if ref.kind in ("ConfigMap", "Secret") and not ref.group and (live or {}).get("immutable") is True:
        data = [t for t in touched if t.split("/")[1] in ("data", "binaryData", "stringData", "immutable")]
        if data:
            risks.append(Risk.IMMUTABLE)
            note = f"{ref.kind} {ref.short} is immutable (immutable: true): the server rejects this update; delete and re-create it"
    if any(t.endswith("/image") for t in touched):
        risks.append(Risk.IMAGE)
    if ref.group == RBAC_GROUP:
        risks.append(Risk.RBAC)
    if desired is not None and live is not None:
        want = (desired.get("spec") or {}).get("replicas")
        had = (live.get("spec") or {}).get("replicas")
        if want == 0 and had not in (0, None) and any(t == "/spec/replicas" for t in touched):
            risks.append(Risk.SCALE_TO_ZERO)
    return risks, note


def plan_object(r: Resolved, live: KubeObject | None, settings: PlanSettings,
                recorded: Collection[tuple] | None = None) -> tuple[Action | None, str | None]:
    """The action for one desired object, or a conflict message when it belongs to someone else.
    `recorded`: the keys of the sync's inventory (pending ones too); a live object labelled as this
    sync's but not among them is not ours (None: not checked, as for a plan made without an inventory)."""
    ref = r.ref
    wave = wave_of(ref, r.obj)
    rules = rules_for(ref, settings.ignore)
    desired, fields = _owned(r.obj, settings.sync, rules, live, r.schema)
    if live is None:
        risks = [Risk.RBAC] if ref.group == RBAC_GROUP else []
        return Action(ActionType.CREATE, ref, wave, r.manifest.origin, desired=desired, risks=tuple(risks)), None
    why = ownership(live, settings.sync)
    claim = why is None and squatted(live, ref.key, recorded)
    if claim:
        why = ("carries this sync's labels but is not in its inventory (a label is no claim: pass --adopt, or "
               f"annotate it {ADOPT_ANNOTATION}: \"true\" in the source, to take it over)")
    adopting = False
    if why is not None:
        unmanaged = not ((live.get("metadata") or {}).get("labels") or {}).get(MANAGED_BY_LABEL)
        if not (adoption_asked(r.obj, settings) and (unmanaged or claim)):
            return None, f"{r.manifest.origin}: {ref}: {why}; left alone"
        adopting = True
    meta = live.get("metadata") or {}
    previous = None if adopting else _previous(live, desired, fields)
    result = diff_objects(desired, live, previous, ignore=rules, schema=r.schema)
    common = dict(
        ref=ref,
        wave=wave,
        origin=r.manifest.origin,
        desired=desired,
        live=live,
        uid=meta.get("uid", ""),
        resource_version=meta.get("resourceVersion", ""),
    )
    kept = kept_by_adoption(live, desired) if adopting else ""
    if not result.patch:
        return Action(ActionType.NOOP, note=kept, **common), None
    risks, note = _risks_for_patch(ref, result.patch, live, desired)
    note = "; ".join(n for n in (note, kept) if n)
    if r.rtype.has_scale and all(op["path"] == "/spec/replicas" for op in result.patch):
        replicas = ((live.get("spec") or {}).get("replicas"), (desired.get("spec") or {}).get("replicas"))
        return Action(ActionType.SCALE, patch=tuple(result.patch), replicas=replicas, risks=tuple(risks), **common), None
    return Action(ActionType.UPDATE, patch=tuple(result.patch), risks=tuple(risks), note=note, **common), None


CHANGED_ENCRYPTED = "changed (encrypted): its ciphertext changed; values are compared only with the key"


def _digest(obj: KubeObject | None) -> str | None:
    return ((obj or {}).get("metadata") or {}).get("annotations", {}).get(SOPS_DIGEST_ANNOTATION)


def plan_sealed(r: Resolved, live: KubeObject | None, settings: PlanSettings) -> tuple[Action | None, str | None]:
    """A SOPS-encrypted Secret read without the key (Manifest.sealed): compared by its ciphertext's digest,
    never written. Against a cluster it stays as it is (a noop, so it is never pruned either) and a changed
    or missing one is a warning; in `compare` (offline) a changed digest is an update "changed (encrypted)"."""
    ref, origin = r.ref, r.manifest.origin
    wave = wave_of(ref, r.obj)
    if settings.offline:
        if live is None:
            return Action(ActionType.CREATE, ref, wave, origin, desired=r.obj, note="encrypted: values not shown"), None
        if _digest(live) == _digest(r.obj):
            return Action(ActionType.NOOP, ref, wave, origin, desired=live, live=live), None
        op = {"op": "replace", "path": "/metadata/annotations/" + SOPS_DIGEST_ANNOTATION.replace("/", "~1"), "value": _digest(r.obj)}
        return Action(ActionType.UPDATE, ref, wave, origin, patch=(op,), desired=r.obj, live=live, note=CHANGED_ENCRYPTED), None
    if live is None:
        return None, (f"{origin}: {ref}: SOPS-encrypted and no key was given to decrypt it: not created by this plan "
                      "(applying it needs the key)")
    why = ownership(live, settings.sync)
    if why is not None:
        return None, f"{origin}: {ref}: {why}; left alone"
    meta = live.get("metadata") or {}
    noop = Action(ActionType.NOOP, ref, wave, origin, desired=live, live=live, uid=meta.get("uid", ""),
                  resource_version=meta.get("resourceVersion", ""))
    if _digest(live) == _digest(r.obj):
        return noop, None
    return noop, f"{origin}: {ref}: {CHANGED_ENCRYPTED}; left as it is (applying it needs the key)"


def rules_for(ref: ObjectRef, rules: Iterable) -> tuple:
    return tuple(rule for rule in rules if rule.matches(ref))


def plan_prune(
    desired_keys: set[tuple],
    managed_live: dict[tuple, KubeObject],
    inventory: Iterable[InventoryEntry],
    settings: PlanSettings,
) -> tuple[list[Action], list[str]]:
    """Deletions: only objects in the inventory AND labelled with this sync AND with the recorded uid."""
    actions: list[Action] = []
    warnings: list[str] = []
    inventory_uids = {e.ref.key: e.uid for e in inventory}
    for key, live in sorted(managed_live.items()):
        if key in desired_keys:
            continue
        ref = ObjectRef.of(live)
        meta = live.get("metadata") or {}
        if ownership(live, settings.sync) is not None:
            continue
        if meta.get("deletionTimestamp"):
            continue  # already going away
        recorded = owned_uid(inventory_uids.get(key), live)
        if recorded is None:
            warnings.append(f"{ref}: carries this sync's label but is not in its inventory; not pruned")
            continue
        if recorded != meta.get("uid"):
            warnings.append(f"{ref}: uid differs from the inventory (re-created by someone else?); not pruned")
            continue
        risks = (Risk.DELETE, Risk.NAMESPACE_DELETE) if ref.kind == "Namespace" and not ref.group else (Risk.DELETE,)
        actions.append(
            Action(
                ActionType.DELETE,
                ref,
                wave_of(ref, live),
                None,
                live=live,
                uid=meta.get("uid", ""),
                resource_version=meta.get("resourceVersion", ""),
                risks=risks,
            )
        )
    return actions, warnings


def order(actions: Iterable[Action]) -> tuple[Action, ...]:
    """Creates/updates by wave ascending, then deletions by wave descending; stable by object."""

    def key(a: Action):
        if a.type is ActionType.DELETE:
            return (1, -a.wave, a.ref.namespace, a.ref.kind, a.ref.name)
        return (0, a.wave, a.ref.namespace, a.ref.kind, a.ref.name)

    return tuple(sorted(actions, key=key))


def selected(resolved: Sequence[Resolved], settings: PlanSettings) -> list[Resolved]:
    """The desired objects the run's label selector (-l) picks: all without one."""
    if not settings.selector:
        return list(resolved)
    from kubesync.selector import matches

    return [r for r in resolved if matches(settings.selector, r.obj)]


def build_plan(
    resolved: Sequence[Resolved],
    live: dict[tuple, KubeObject],
    managed_live: dict[tuple, KubeObject],
    inventory: Iterable[InventoryEntry],
    settings: PlanSettings,
    source: str = "",
    revision: str = "",
    inventory_source: str = "",
) -> Plan:
    """The whole plan. `live` holds desired objects that exist (by ref key); `managed_live` holds
    every object carrying this sync's label (prune candidates); `inventory_source` is the source the
    inventory was written from."""
    resolved = selected(resolved, settings)
    if settings.selector:
        from kubesync.selector import matches

        managed_live = {k: v for k, v in managed_live.items() if matches(settings.selector, v)}
    inventory = list(inventory)
    recorded = {e.ref.key for e in inventory}
    actions: list[Action] = []
    conflicts: list[str] = []
    sealed: list[str] = []
    for r in resolved:
        if r.manifest.sealed:
            action, warning = plan_sealed(r, live.get(r.ref.key), settings)
            sealed += [warning] if warning else []
        else:
            action, conflict = plan_object(r, live.get(r.ref.key), settings, recorded)
            conflicts += [conflict] if conflict else []
        if action is not None:
            actions.append(action)
    warnings = [r.warning for r in resolved if r.warning] + sealed
    if not same_source(inventory_source, settings) and not settings.prune:
        warnings.append(f"sync {settings.sync!r} was applied from {inventory_source}, not from this source "
                        f"({settings.source}); a prune from here will be refused (give this source its own --name)")
    actions = webhooks_last(actions)
    desired_keys = {r.ref.key for r in resolved}
    would_prune: list[Action] = []
    if settings.prune:
        check_prune_source(inventory_source, settings)
        deletions, prune_warnings = plan_prune(desired_keys, managed_live, inventory, settings)
        warnings += prune_warnings
        check_prune_safety(len(resolved), len(deletions), owned_count(managed_live, inventory), settings)
        actions.extend(deletions)
    elif same_source(inventory_source, settings):  # a review shows what a prune-on sync would delete
        would_prune, _ = plan_prune(desired_keys, managed_live, inventory, settings)
    return Plan(settings.sync, source, revision, order(actions), tuple(conflicts), tuple(warnings),
                would_prune=order(would_prune))


def webhooks_last(actions: list[Action]) -> list[Action]:
    """Admission webhook configurations (without a wave annotation of their own) in a wave after all the others."""
    def annotated(a: Action) -> bool:
        return WAVE_ANNOTATION in (((a.desired or {}).get("metadata") or {}).get("annotations") or {})

    hooks = {id(a) for a in actions if a.ref.group_kind in WEBHOOK_KINDS and not annotated(a)}
    if not hooks:
        return actions
    last = max([LAST_WAVE] + [a.wave for a in actions if a.ref.group_kind not in WEBHOOK_KINDS]) + 1
    return [replace(a, wave=last) if id(a) in hooks else a for a in actions]


def waves(plan: Plan) -> list[list[Action]]:
    """Group the plan's ordered actions into steps that run one after the other."""
    steps: list[list[Action]] = []
    last = None
    for a in plan.actions:
        if a.type is ActionType.NOOP:
            continue
        key = (a.type is ActionType.DELETE, a.wave)
        if key != last:
            steps.append([])
            last = key
        steps[-1].append(a)
    return steps
