"""`kubesync apply --plan PLAN.json`: apply exactly the reviewed actions, or refuse when stale.

A plan is stale when an object it touches changed since it was made (uid or resourceVersion
differs, or an object to create now exists) or when its source moved to another revision.
Like Terraform's saved plans: what was reviewed is what runs, or nothing runs.
"""

from __future__ import annotations

import json

from kubesync import engine, errors, inventory
from kubesync.commands.apply import confirm_deletions, progress_printer, settings_from, summary
from kubesync.commands.common import connect, use_color, write_out
from kubesync.model import ActionType, Plan


def read_plan(path: str) -> tuple[Plan, dict]:
    from kubesync.render.json import plan_from_dict

    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as e:
        raise errors.UsageError(f"cannot read the saved plan {path}: {e.strerror}") from e
    except ValueError as e:
        raise errors.UsageError(f"{path}: not a kubesync plan (invalid JSON: {e})") from e
    if not isinstance(data, dict) or data.get("schema") != "kubesync.io/plan/v1":
        raise errors.UsageError(f"{path}: not a kubesync plan (expected schema kubesync.io/plan/v1)")
    return plan_from_dict(data), data


def stale_objects(cluster, discovery, plan: Plan) -> list[str]:
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


def source_moved(data: dict) -> str | None:
    """The saved plan names its source; if it can be read here, it must still be at the same revision."""
    from kubesync.sources import SourceSpec, load

    raw = data.get("source_spec")
    if not raw:
        return None
    try:
        desired = load(SourceSpec(**raw))
    except errors.KubesyncError as e:
        return f"source {data.get('source')}: cannot be read to check its revision ({e})"
    if desired.revision != data.get("revision"):
        return f"source {desired.source}: revision moved {data.get('revision')} -> {desired.revision}"
    return None


def apply_saved(args) -> int:
    plan, data = read_plan(args.plan_file)
    cluster = connect(args)
    from kubesync.cluster.discovery import Discovery

    discovery = Discovery(cluster)
    stale = stale_objects(cluster, discovery, plan)
    moved = source_moved(data)
    if moved:
        stale.insert(0, moved)
    if stale:
        if not args.replan:
            raise errors.StalePlan(stale)
        return replan_and_apply(args, data)
    color = use_color(args)
    confirm_deletions(plan, args)
    spec = engine.SyncSpec(name=plan.sync, namespace=data.get("namespace") or "default")
    inv = inventory.read(cluster, spec.name, spec.inventory_namespace)
    planned = engine.Planned(plan, [], None, inv)
    from kubesync.apply import Applier

    applier = Applier(cluster, discovery, settings_from(args), replan=None, progress=progress_printer(color))
    report = applier.apply(plan)
    if args.dry_run != "server":
        engine.record_inventory(cluster, spec, engine.next_inventory(planned, report), report)
    write_out(summary(report))
    engine.raise_for_failures(report)
    return 0


def replan_and_apply(args, data: dict) -> int:
    """--replan: the saved plan is stale; plan its source again and apply that instead."""
    from kubesync.commands.apply import run

    raw = data.get("source_spec") or {}
    if not raw:
        raise errors.UsageError("--replan needs the plan's source, but the saved plan does not name one")
    args.plan_file = None
    args.source, args.repo, args.ref, args.subpath = raw.get("path"), raw.get("repo"), raw.get("ref"), raw.get("subpath")
    args.name = data.get("sync")
    args.namespace = data.get("namespace")
    write_out("The saved plan is stale; planning again from its source.")
    return run(args)
