"""Whether a saved plan may still run: its source did not move, and every object it touches is as it
was when the plan was made (Terraform's rule: what was reviewed is what runs, or nothing runs)."""

from __future__ import annotations

from kubesync import errors
from kubesync.cluster import API
from kubesync.model import ActionType, Plan


def stale(cluster: API, discovery, saved) -> list[str]:
    """Why a saved plan may no longer run: its source moved, or objects changed since (empty: it may)."""
    objects = stale_objects(cluster, discovery, saved.plan)
    moved = source_moved(saved)
    return [moved, *objects] if moved else objects


def stale_objects(cluster: API, discovery, plan: Plan) -> list[str]:
    """Every action whose object is no longer as it was when the plan was made."""
    out = []
    for a in plan.actions:
        rtype = discovery.resource_for(a.ref.api_version, a.ref.kind)
        if rtype is None:
            if a.type is not ActionType.CREATE:
                out.append(f"{a.ref}: its kind is no longer served by the cluster")
            continue
        live = cluster.get(rtype, a.ref.namespace, a.ref.name)
        if a.type is ActionType.CREATE:
            if live is not None:
                out.append(f"{a.ref}: to be created, but it exists now")
            continue
        if live is None:
            out.append(f"{a.ref}: deleted since the plan")
            continue
        meta = live.get("metadata") or {}
        if meta.get("uid") != a.uid:
            out.append(f"{a.ref}: re-created since the plan (uid {a.uid} -> {meta.get('uid')})")
        elif meta.get("resourceVersion") != a.resource_version:
            out.append(f"{a.ref}: changed since the plan (resourceVersion {a.resource_version} -> {meta.get('resourceVersion')})")
    return out


def source_moved(saved) -> str | None:
    """The saved plan names its source; if it can be read here, it must still be at the same revision."""
    from kubesync.sources import current_revision

    if saved.source is None:
        return None
    try:  # the revision only (the ciphertext's, no key needed): a chart is not rendered again to tell
        revision = current_revision(saved.source)
    except errors.KubesyncError as e:
        return f"source {saved.plan.source}: cannot be read to check its revision ({e})"
    if revision != saved.plan.revision:
        return f"source {saved.source.describe()}: revision moved {saved.plan.revision} -> {revision}"
    return None


def reopen(saved, keys):
    """The saved plan with the values of its SOPS-decrypted Secrets back (planfile.SavedPlan.reopen): decrypted
    again from the plan's source at the revision the plan was made from, or one clear refusal."""
    from dataclasses import replace

    from kubesync.model import SOPS_DIGEST_ANNOTATION
    from kubesync.sources import load

    if not saved.reopen:
        return saved
    names = ", ".join(saved.reopen[:5]) + (" ..." if len(saved.reopen) > 5 else "")
    if saved.source is None or not keys:
        why = "it names no source to decrypt them from" if saved.source is None else (
            "give the age key (--decryption-key-file, SOPS_AGE_KEY_FILE or SOPS_AGE_KEY): they are decrypted again from "
            "the plan's source")
        raise errors.DecryptionError(f"the saved plan does not keep the values of {len(saved.reopen)} Secret(s) decrypted "
                                     f"from SOPS-encrypted files ({names}); {why}; nothing was applied")
    desired = load(saved.source, keys=keys)
    found = {(m.ref.group, m.ref.kind, m.ref.namespace or saved.namespace, m.ref.name): m for m in desired.manifests}
    actions = []
    for a in saved.plan.actions:
        if str(a.ref) in saved.reopen:
            m = found.get((a.ref.group, a.ref.kind, a.ref.namespace, a.ref.name))
            digest = lambda obj: ((obj or {}).get("metadata") or {}).get("annotations", {}).get(SOPS_DIGEST_ANNOTATION)  # noqa: E731
            if m is None or digest(m.obj) != digest(a.desired):
                raise errors.StalePlan([f"{a.ref}: its SOPS-encrypted file changed since the plan was made"])
            a = _restored(a, m.obj)
        actions.append(a)
    return replace(saved, plan=replace(saved.plan, actions=tuple(actions)))


def _restored(action, obj: dict):
    """The action with desired values and patch values taken from the decrypted manifest."""
    from dataclasses import replace

    from kubesync.secrets import VALUE_FIELDS
    from kubesync.vocab import parse_pointer

    desired = dict(action.desired or {})
    for field in VALUE_FIELDS:
        if field in obj:
            desired[field] = obj[field]
    patch = []
    for op in action.patch:
        tokens = list(parse_pointer(str(op.get("path", ""))))
        if "value" in op and tokens and tokens[0] in VALUE_FIELDS:
            value = desired.get(tokens[0])
            for token in tokens[1:]:
                value = value.get(token) if isinstance(value, dict) else None
            op = {**op, "value": value}
        patch.append(op)
    return replace(action, desired=desired, patch=tuple(patch))


# --- a saved plan that cannot be forged -----------------------------------------------------------------

# What of an action must be the same in a fresh plan of the recorded source: its effect. (live and
# resourceVersion are the staleness check's; a note is text for people.)
EFFECT = ("type", "ref", "wave", "sync_wave", "origin", "patch", "desired", "uid", "replicas", "risks")
# ... and of a hook: what runs, when, and what is left of it (a hook in a plan file runs with the plan).
HOOK_EFFECT = ("phases", "wave", "delete_policies", "desired")


def _effects(plan: Plan, sealed: set[str]) -> dict[str, dict]:
    from kubesync.planfile import sealed_action
    from kubesync.render.json import action_to_dict, hook_to_dict

    out = {}
    for a in plan.actions:
        d = action_to_dict(a, mask=False)
        if str(a.ref) in sealed:  # values decrypted from SOPS files travel as markers: compare those
            d = sealed_action(d)
        out[f"{a.type.value} {a.ref}"] = {k: d[k] for k in EFFECT}
    for h in plan.hooks:
        d = hook_to_dict(h, mask=False)
        out[f"hook {h.ref}"] = {k: d[k] for k in HOOK_EFFECT}
    return out


def differences(saved: Plan, fresh: Plan, sealed: tuple[str, ...] = ()) -> list[str]:
    """How a saved plan differs from a fresh plan of its recorded source, revision and settings against the
    same cluster: every action added, removed or changed (a tampered file, or a world that moved)."""
    out = []
    if fresh.revision != saved.revision:
        out.append(f"source revision {saved.revision} in the plan, {fresh.revision} now")
    mine, theirs = _effects(saved, set(sealed)), _effects(fresh, set(sealed))
    for key in sorted(mine.keys() - theirs.keys()):
        out.append(f"{key}: in the saved plan, not in a fresh plan of its source")
    for key in sorted(theirs.keys() - mine.keys()):
        out.append(f"{key}: in a fresh plan of its source, not in the saved plan")
    for key in sorted(mine.keys() & theirs.keys()):
        changed = [k for k in mine[key] if mine[key][k] != theirs[key][k]]
        if changed:
            out.append(f"{key}: its {', '.join(changed)} differ from a fresh plan of its source")
    return out


def unverifiable(saved) -> list[str]:
    """What a saved plan lacks to be checked against its source and cluster (fail closed: never skipped)."""
    missing = [what for what, present in (("the cluster it was made against", saved.cluster is not None),
                                          ("its source", saved.source is not None),
                                          ("the settings it was made with", saved.settings is not None)) if not present]
    return [f"the saved plan does not record {what}" for what in missing]
