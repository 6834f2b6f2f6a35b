"""`kubesync status`: sync state (Synced, OutOfSync, Missing, Extra) and health of a sync's objects."""

from __future__ import annotations

import json

from kubesync.commands.common import prepare, write_out
from kubesync.render.status import rows_from_inventory, rows_from_plan

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
