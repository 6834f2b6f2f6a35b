"""The plan as JSON (schema ``kubesync.io/plan/v1``, published in kubesync/schema/plan.v1.json).

Two uses, one shape:
- ``kubesync plan -o json`` prints it for people and CI with Secrets masked (``mask=True``, the default);
- ``kubesync plan --out PLAN.json`` saves it for ``apply --plan`` with ``mask=False``: Secret values are
  kept because apply needs them, so the caller writes that file with mode 0600.
A masked plan carries ``"masked": true`` and `plan_from_dict` refuses one that holds Secrets, so a
placeholder can never be applied as a Secret's value.

Everything apply needs round-trips exactly: type, ref, wave, origin, patch, desired, live (minus
``metadata.managedFields``, which nothing downstream reads), uid, resourceVersion, replicas, risks, note.
"""

from __future__ import annotations

import copy
import datetime
import json
from fractions import Fraction
from typing import Any

from kubesync.capacity import Capacity, capacity_to_dict
from kubesync.deltas import Deltas, deltas_to_dict
from kubesync.errors import UsageError
from kubesync.model import Action, ActionType, ChartChange, Hook, KubeObject, ObjectRef, Origin, Plan, Review, Risk
from kubesync.render.mask import mask_pair, mask_patch, plan_secret_values
from kubesync.secrets import redact
from kubesync.vocab import is_secret

SCHEMA = "kubesync.io/plan/v1"
WRITES = (ActionType.CREATE, ActionType.UPDATE, ActionType.SCALE, ActionType.REPLACE)  # actions that send object values


def _strip_managed(obj: KubeObject | None) -> KubeObject | None:
    if obj is None:
        return None
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        obj = {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
    return copy.deepcopy(obj)


def action_to_dict(action: Action, *, mask: bool = True, secrets: set[str] | None = None) -> dict:
    desired, live = action.desired, _strip_managed(action.live)
    patch = [dict(op) for op in action.patch]
    note = action.note
    if mask:
        live, desired = mask_pair(live, desired)
        patch = list(mask_patch(action.ref, patch))
        note = redact(note, secrets or set())
    ref = action.ref
    return {
        "type": action.type.value,
        "ref": {"group": ref.group, "version": ref.version, "kind": ref.kind, "namespace": ref.namespace, "name": ref.name},
        "object": str(ref),  # for people; plan_from_dict reads `ref`
        "wave": action.wave,
        "sync_wave": action.sync_wave,
        "origin": {"path": action.origin.path, "line": action.origin.line} if action.origin else None,
        "patch": patch,
        "desired": copy.deepcopy(desired),
        "live": live,
        "uid": action.uid,
        "resource_version": action.resource_version,
        "replicas": None if action.replicas is None else {"live": action.replicas[0], "desired": action.replicas[1]},
        "risks": [r.value for r in action.risks],
        "note": note,
    }


def plan_to_dict(
    plan: Plan,
    *,
    mask: bool = True,
    generated_at: str | None = None,
    deltas: Deltas | None = None,
    review: Review | None = None,
    capacity: Capacity | None = None,
) -> dict:
    """The plan as plain data. ``mask=False`` only for the saved plan file (written 0600)."""
    secrets = plan_secret_values(plan.actions) if mask else set()
    text = (lambda s: redact(s, secrets)) if mask else (lambda s: s)
    counts = plan.counts()
    return {
        "schema": SCHEMA,
        "sync": plan.sync,
        "source": plan.source,
        "revision": plan.revision,
        "generated_at": generated_at,
        "masked": mask,
        "summary": {**counts, "changes": len(plan.changes), "would_prune": len(plan.would_prune)},
        "actions": [action_to_dict(a, mask=mask, secrets=secrets) for a in plan.actions],
        "would_prune": [action_to_dict(a, mask=mask, secrets=secrets) for a in plan.would_prune],
        **({"target": {"context": review.context, "server": review.server, "cluster_id": review.cluster_id},
            "apply_with": review.apply_with} if review is not None else {}),
        "conflicts": [text(c) for c in plan.conflicts],
        "warnings": [text(w) for w in plan.warnings],
        "deltas": deltas_to_dict(deltas) if deltas is not None else None,
        "charts": [{"name": c.name, "before": c.before, "after": c.after} for c in plan.charts],
        "hooks": [hook_to_dict(h, mask=mask) for h in plan.hooks],
        "capacity": capacity_to_dict(capacity) if capacity is not None else None,
    }


def hook_to_dict(hook: Hook, *, mask: bool = True) -> dict:
    """A hook: what it is, the phases it runs in (none: never), its wave and delete policies, and (a Secret's
    values masked) the object."""
    obj = _strip_managed(hook.obj)
    ref = hook.ref
    return {"ref": {"group": ref.group, "version": ref.version, "kind": ref.kind, "namespace": ref.namespace, "name": ref.name},
            "object": str(hook.ref), "phases": list(hook.phases), "wave": hook.wave,
            "delete_policies": list(hook.delete_policies), "origin": str(hook.origin), "said": hook.said,
            "skipped": hook.skipped, "desired": mask_pair(None, obj)[1] if mask and is_secret(hook.ref) else obj}


def hook_from_dict(d: dict) -> Hook:
    ref = d["ref"]
    origin, _, line = str(d.get("origin") or "").rpartition(":")
    at = Origin(origin, int(line)) if origin and line.isdigit() else Origin(str(d.get("origin") or ""))
    return Hook(ObjectRef(ref["group"], ref["version"], ref["kind"], ref["namespace"], ref["name"]),
                tuple(d.get("phases") or ()), at, int(d.get("wave") or 0),
                tuple(d.get("delete_policies") or ()), d.get("desired") or {}, str(d.get("said") or ""),
                str(d.get("skipped") or ""))


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, Fraction):
        return str(value)
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def dumps(data: Any) -> str:
    """Stable JSON: sorted keys, 2-space indent, a final newline."""
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False, default=_json_default) + "\n"


def render_json(
    plan: Plan,
    deltas: Deltas | None = None,
    *,
    mask: bool = True,
    generated_at: str | None = None,
    review: Review | None = None,
    capacity: Capacity | None = None,
) -> str:
    return dumps(plan_to_dict(plan, mask=mask, generated_at=generated_at, deltas=deltas, review=review, capacity=capacity))


# ---------------------------------------------------------------- reading a saved plan


def _need(d: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(d, dict) or key not in d:
        raise UsageError(f"not a valid kubesync plan: {where}: missing {key!r}")
    value = d[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise UsageError(f"not a valid kubesync plan: {where}.{key}: expected {getattr(kind, '__name__', kind)}, got {type(value).__name__}")
    return value


def action_from_dict(d: dict, where: str = "action") -> Action:
    r = _need(d, "ref", dict, where)
    ref = ObjectRef(*(str(_need(r, k, str, where + ".ref")) for k in ("group", "version", "kind", "namespace", "name")))
    origin = d.get("origin")
    replicas = d.get("replicas")
    try:
        type_ = ActionType(_need(d, "type", str, where))
        risks = tuple(Risk(v) for v in d.get("risks") or ())
    except ValueError as e:
        raise UsageError(f"not a valid kubesync plan: {where}: {e}") from e
    return Action(
        type=type_,
        ref=ref,
        wave=int(d.get("wave") or 0),
        sync_wave=int(d.get("sync_wave") or 0),
        origin=Origin(str(_need(origin, "path", str, where + ".origin")), int(origin.get("line") or 0)) if origin else None,
        patch=tuple(dict(op) for op in d.get("patch") or ()),
        desired=copy.deepcopy(d.get("desired")),
        live=copy.deepcopy(d.get("live")),
        uid=str(d.get("uid") or ""),
        resource_version=str(d.get("resource_version") or ""),
        replicas=None if replicas is None else (replicas.get("live"), replicas.get("desired")),
        risks=risks,
        note=str(d.get("note") or ""),
    )


def plan_from_dict(d: dict) -> Plan:
    """A Plan from `plan_to_dict(..., mask=False)` output. Refuses other schemas and masked Secrets.
    Keys it does not know (the saved file's `source_spec`, `namespace`) are left to the caller."""
    if not isinstance(d, dict) or d.get("schema") != SCHEMA:
        got = d.get("schema") if isinstance(d, dict) else type(d).__name__
        raise UsageError(f"not a kubesync plan: schema is {got!r}, expected {SCHEMA!r}")
    actions = _actions(_need(d, "actions", list, "plan"), "actions")
    would_prune = _actions(d.get("would_prune") or [], "would_prune")
    if d.get("masked"):
        masked = [str(a.ref) for a in actions if is_secret(a.ref) and a.type in WRITES]
        if masked:
            raise UsageError(
                "this plan was printed with Secret values masked (`plan -o json`) and cannot be applied: "
                f"{', '.join(masked)}. Save a plan to apply with `kubesync plan --out PLAN.json`."
            )
    return Plan(
        sync=str(_need(d, "sync", str, "plan")),
        source=str(d.get("source") or ""),
        revision=str(d.get("revision") or ""),
        actions=tuple(actions),
        conflicts=tuple(str(c) for c in d.get("conflicts") or ()),
        warnings=tuple(str(w) for w in d.get("warnings") or ()),
        would_prune=tuple(would_prune),
        charts=tuple(ChartChange(str(c["name"]), str(c.get("before") or ""), str(c.get("after") or ""))
                     for c in d.get("charts") or ()),
        hooks=tuple(hook_from_dict(h) for h in d.get("hooks") or ()),
    )


def _actions(items: list, where: str) -> list[Action]:
    actions = []
    for i, a in enumerate(items):
        try:
            actions.append(action_from_dict(a, f"{where}[{i}]"))
        except (TypeError, ValueError, AttributeError) as e:  # a hand-edited or truncated file
            raise UsageError(f"not a valid kubesync plan: {where}[{i}]: {e}") from e
    return actions
