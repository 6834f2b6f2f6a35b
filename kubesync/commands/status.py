"""`kubesync status`: sync state (Synced, OutOfSync, Missing, Extra) and health of a sync's objects."""

from __future__ import annotations

import argparse
import json
import sys

from kubesync import errors
from kubesync.secrets import redact

from kubesync.commands.common import write_out
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
    from kubesync.commands.common import pipeline, sync_settings

    error = None
    if args.source or args.filename or args.repo:
        config = sync_settings(args)
        pipe = pipeline(args)
        try:
            planned = pipe.plan_source(config)
        except (errors.SourceError, errors.ResolveError, errors.PlanInvalid, errors.PlanRefused) as e:
            # the source cannot be planned: still show what the sync owns, with the reason above it
            error = e
            doc = {"sync": config.name, "revision": None, "error": str(e),
                   "objects": rows_from_inventory(pipe.owned_health(config.name, config.inventory_namespace))}
            note = "The source cannot be planned (error above); health of what the sync owns, read from the cluster."
        else:
            present = [a.ref for a in planned.plan.actions if a.live is not None]
            health = pipe.health(present, planned.plan.sync)  # fresh, and a workload explained by its pods
            doc = {"sync": planned.plan.sync, "revision": planned.plan.revision, "objects": rows_from_plan(planned, health)}
            note = ""
    elif not args.name:  # which syncs exist here: as `kubesync list`
        from kubesync.commands import list as listing

        return listing.run(argparse.Namespace(**{**vars(args), "output": "json" if args.output == "json" else "text"}))
    else:
        doc = {"sync": args.name, "revision": None, "objects": rows_from_inventory(pipeline(args).owned_health(args.name))}
        note = "Sync state is unknown without the source (give PATH or --repo to compare); health is read from the cluster."
    if error is not None:
        print(f"error: {redact(str(error))}", file=sys.stderr)
    if args.output == "json":
        write_out(json.dumps(doc, indent=2, sort_keys=True))
    elif args.output == "yaml":
        import yaml

        write_out(yaml.safe_dump(doc, sort_keys=True))
    else:
        write_out((note + "\n\n" if note else "") + table(doc["objects"]))
    return 1 if error is not None else 0
