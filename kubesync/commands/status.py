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


def run(args) -> int:
    if not args.source and not args.repo:
        from kubesync.errors import UsageError

        raise UsageError("status needs the sync's source (PATH or --repo) to compare against")
    _, _, planned = prepare(args)
    rows = rows_from_plan(planned)
    if args.output == "json":
        write_out(json.dumps({"sync": planned.plan.sync, "revision": planned.plan.revision, "objects": rows}, indent=2, sort_keys=True))
    else:
        write_out(table(rows))
    return 0
