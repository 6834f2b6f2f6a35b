"""`kubesync status`: sync state (Synced, OutOfSync, Missing, Extra) and health of a sync's objects."""

from __future__ import annotations

import json

from kubesync.commands.common import prepare, write_out
from kubesync.model import ActionType

SYNC_STATE = {
    ActionType.NOOP: "Synced",
    ActionType.UPDATE: "OutOfSync",
    ActionType.SCALE: "OutOfSync",
    ActionType.CREATE: "Missing",
    ActionType.DELETE: "Extra",
}


def rows_from_plan(planned) -> list[dict]:
    """One row per object: desired ones from the plan, plus owned objects no longer desired (Extra)."""
    from kubesync.health import assess

    rows = []
    desired_keys = set()
    for a in planned.plan.actions:
        desired_keys.add(a.ref.key)
        live = a.live if a.type is not ActionType.CREATE else None
        h = assess(live)
        rows.append({"object": str(a.ref), "sync": SYNC_STATE[a.type], "health": h.status.value, "reason": h.reason,
                     "origin": str(a.origin) if a.origin else ""})
    for conflict in planned.plan.conflicts:
        rows.append({"object": conflict, "sync": "Conflict", "health": "", "reason": "", "origin": ""})
    for key, live in sorted(planned.managed.items()):
        if key in desired_keys:
            continue
        from kubesync.model import ObjectRef

        h = assess(live)
        rows.append({"object": str(ObjectRef.of(live)), "sync": "Extra", "health": h.status.value, "reason": h.reason, "origin": ""})
    return rows


def table(rows: list[dict]) -> str:
    if not rows:
        return "No objects."
    cols = ("object", "sync", "health", "reason")
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in cols[:-1]}
    head = "  ".join(c.upper().ljust(widths[c]) for c in cols[:-1]) + "  REASON"
    lines = [head]
    for r in rows:
        lines.append("  ".join(r[c].ljust(widths[c]) for c in cols[:-1]) + "  " + r["reason"])
    return "\n".join(lines)


def rows_from_inventory(health: dict) -> list[dict]:
    """Without the source: every owned object with its health; its sync state cannot be known."""
    return [{"object": str(ref), "sync": "Unknown", "health": h.status.value, "reason": h.reason, "origin": ""}
            for ref, h in sorted(health.items(), key=lambda item: str(item[0]))]


def run(args) -> int:
    from kubesync.commands.common import pipeline

    if args.source or args.filename or args.repo:
        _, _, planned = prepare(args)
        doc = {"sync": planned.plan.sync, "revision": planned.plan.revision, "objects": rows_from_plan(planned)}
        note = ""
    else:
        if not args.name:
            from kubesync.errors import UsageError

            raise UsageError("status needs --name SYNC (and, to tell Synced from OutOfSync, the source: PATH or --repo)")
        doc = {"sync": args.name, "revision": None, "objects": rows_from_inventory(pipeline(args).owned_health(args.name))}
        note = "Sync state is unknown without the source (give PATH or --repo to compare); health is read from the cluster."
    if args.output == "json":
        write_out(json.dumps(doc, indent=2, sort_keys=True))
    elif args.output == "yaml":
        import yaml

        write_out(yaml.safe_dump(doc, sort_keys=True))
    else:
        write_out((note + "\n\n" if note else "") + table(doc["objects"]))
    return 0
