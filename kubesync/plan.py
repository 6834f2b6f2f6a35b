"""Pure planning: resolved desired objects x live objects x inventory -> an ordered Plan.

No I/O: the facade (kubesync.sync) gathers live state and the inventory, this module decides. The
order is kubesync/ordering.py's table (Argo CD's sync waves, then the kinds' steps; deletions after,
reversed); what an object's Argo CD and Flux annotations ask (no prune, create only, ...) is honoured
here and in kubesync/prune.py, or warned about (kubesync/annotations.py).
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
    Action,
    ActionType,
    KubeObject,
    ObjectRef,
    Plan,
    Risk,
    json_copy,
)
from kubesync.annotations import ARGO_SYNC_OPTIONS, FLUX_PRUNE, FLUX_SSA, Option, options, unhonoured
from kubesync.ordering import LAST_WAVE, WAVES, WEBHOOK_KINDS, dependencies_first, order, sync_wave_of, wave_of, waves, webhooks_last  # noqa: F401
from kubesync.resolve import Resolved
from kubesync.prune import ADOPT_ANNOTATION, PENDING, adoption_asked, check_prune_safety, kept_by_adoption, owned_uid, squatted, check_prune_source, owned_count, same_source, source_after  # noqa: F401
from kubesync.settings import PlanSettings

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
    wave, sync_wave = wave_of(ref, r.obj), sync_wave_of(r.obj)
    rules = rules_for(ref, settings.ignore)
    desired, fields = _owned(r.obj, settings.sync, rules, live, r.schema)
    if live is None:
        risks = [Risk.RBAC] if ref.group == RBAC_GROUP else []
        return Action(ActionType.CREATE, ref, wave, r.manifest.origin, desired=desired, risks=tuple(risks),
                      sync_wave=sync_wave), None
    asked = options(_annotations(r.obj))
    if Option.IF_NOT_PRESENT in asked:  # Flux: created when missing, whoever holds it now, never updated
        return Action(ActionType.NOOP, ref, wave, r.manifest.origin, desired=desired, live=live, sync_wave=sync_wave,
                      note=f"exists; never updated ({FLUX_SSA}: IfNotPresent)"), None
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
        sync_wave=sync_wave,
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
    replaced = REPLACED_NOTE if Option.REPLACE in asked else ""
    note = "; ".join(n for n in (note, kept, replaced) if n)
    if r.rtype.has_scale and all(op["path"] == "/spec/replicas" for op in result.patch):
        replicas = ((live.get("spec") or {}).get("replicas"), (desired.get("spec") or {}).get("replicas"))
        return Action(ActionType.SCALE, patch=tuple(result.patch), replicas=replicas, risks=tuple(risks), **common), None
    return Action(ActionType.UPDATE, patch=tuple(result.patch), risks=tuple(risks), note=note, **common), None


REPLACED_NOTE = (f"sent whole as a replace ({ARGO_SYNC_OPTIONS}: Replace=true, as kubectl replace): "
                 "fields other writers set are dropped")


def _annotations(obj: KubeObject | None) -> dict:
    return ((obj or {}).get("metadata") or {}).get("annotations") or {}


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
    sync_deleted: bool = False,
) -> tuple[list[Action], list[str]]:
    """Deletions: only objects in the inventory AND labelled with this sync AND with the recorded uid, and
    not kept by their own annotations (Prune=false, Flux's prune: disabled; Delete=false when the whole sync
    is deleted: `sync_deleted`, an empty source pruned with --allow-empty)."""
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
        kept = kept_from_prune(live, sync_deleted)
        if kept:
            warnings.append(f"{ref}: gone from the source; {kept}")
            continue
        risks = (Risk.DELETE, Risk.NAMESPACE_DELETE) if ref.kind == "Namespace" and not ref.group else (Risk.DELETE,)
        confirm = PRUNE_CONFIRM_NOTE if Option.PRUNE_CONFIRM in options(_annotations(live)) else ""
        actions.append(Action(ActionType.DELETE, ref, wave_of(ref, live), None, live=live, uid=meta.get("uid", ""),
                              resource_version=meta.get("resourceVersion", ""), risks=risks, note=confirm,
                              sync_wave=sync_wave_of(live)))
    return actions, warnings


PRUNE_CONFIRM_NOTE = f"{ARGO_SYNC_OPTIONS}: Prune=confirm: pruned only when a person confirms (never by the daemon)"


def kept_from_prune(live: KubeObject, sync_deleted: bool) -> str:
    """Why the live object's own annotations keep it from a prune ('' when they do not)."""
    annotations = _annotations(live)
    asked = options(annotations)
    if Option.NO_PRUNE in asked:
        said = f"{FLUX_PRUNE}: disabled" if FLUX_PRUNE in annotations else f"{ARGO_SYNC_OPTIONS}: Prune=false"
        return f"not pruned ({said})"
    if sync_deleted and Option.NO_DELETE in asked:
        return f"left behind as the sync is deleted ({ARGO_SYNC_OPTIONS}: Delete=false)"
    return ""


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
    actions, conflicts, sealed = _plan_objects(resolved, live, settings, {e.ref.key for e in inventory})
    warnings = [r.warning for r in resolved if r.warning] + sealed + annotation_warnings(resolved)
    if not same_source(inventory_source, settings) and not settings.prune:
        warnings.append(f"sync {settings.sync!r} was applied from {inventory_source}, not from this source "
                        f"({settings.source}); a prune from here will be refused (give this source its own --name)")
    actions = webhooks_last(actions)
    desired_keys = {r.ref.key for r in resolved}
    would_prune: list[Action] = []
    sync_deleted = not resolved and not settings.selector  # an empty source pruned (--allow-empty): the sync goes
    if settings.prune:
        check_prune_source(inventory_source, settings)
        deletions, prune_warnings = plan_prune(desired_keys, managed_live, inventory, settings, sync_deleted)
        warnings += prune_warnings
        check_prune_safety(len(resolved), len(deletions), owned_count(managed_live, inventory), settings)
        actions.extend(deletions)
    elif same_source(inventory_source, settings):  # a review shows what a prune-on sync would delete
        would_prune, _ = plan_prune(desired_keys, managed_live, inventory, settings, sync_deleted)
        would_prune = [a for a in would_prune if Option.IGNORE_EXTRANEOUS not in options(_annotations(a.live))]
    return Plan(settings.sync, source, revision, order(dependencies_first(actions)), tuple(conflicts), tuple(warnings),
                would_prune=order(would_prune))


def _plan_objects(resolved: Sequence[Resolved], live: dict[tuple, KubeObject], settings: PlanSettings,
                  recorded: Collection[tuple]) -> tuple[list[Action], list[str], list[str]]:
    """(actions, conflicts, warnings) of the desired objects, one by one. Flux's `ssa: Ignore` objects are
    left as they are: kept (a no-op) when they exist, never created."""
    actions: list[Action] = []
    conflicts: list[str] = []
    warnings: list[str] = []
    for r in resolved:
        found = live.get(r.ref.key)
        if r.manifest.sealed:
            action, warning = plan_sealed(r, found, settings)
            warnings += [warning] if warning else []
        elif Option.IGNORE in options(_annotations(r.obj)):
            action = None if found is None else Action(ActionType.NOOP, r.ref, wave_of(r.ref, r.obj), r.manifest.origin,
                                                       desired=found, live=found, note=f"{FLUX_SSA}: Ignore")
            warnings += [f"{r.manifest.origin}: {r.ref}: not created ({FLUX_SSA}: Ignore)"] if found is None else []
        else:
            action, conflict = plan_object(r, found, settings, recorded)
            conflicts += [conflict] if conflict else []
        if action is not None:
            actions.append(action)
    return actions, conflicts, warnings


def annotation_warnings(resolved: Sequence[Resolved]) -> list[str]:
    """What objects' Argo CD and Flux annotations ask that kubesync recognises and does not do."""
    return [f"{r.manifest.origin}: {r.ref}: {phrase}" for r in resolved for phrase in unhonoured(_annotations(r.obj))]
