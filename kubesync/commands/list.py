"""`kubesync list`: every sync on the cluster, from the inventories (name, source, revision, last apply,
objects, health), as `argocd app list`, `flux get ks -A` and `kapp ls` do."""

from __future__ import annotations

import json

from kubesync.commands.common import pipeline, write_out
from kubesync.vocab import short_revision

COLUMNS = ("NAME", "INVENTORY", "SOURCE", "REVISION", "APPLIED", "OBJECTS", "HEALTH")


def health_text(health: dict) -> str:
    return ", ".join(f"{n} {status}" for status, n in health.items()) or "-"


def table(rows: list[dict]) -> str:
    if not rows:
        return "No syncs on this cluster (no kubesync inventory found)."
    cells = [COLUMNS] + [(r["sync"], r["inventoryNamespace"], r["source"] or "-", short_revision(r["revision"], 12) or "-",
                          r["appliedAt"] or "-", str(r["objects"]), health_text(r["health"])) for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS) - 1)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1] for row in cells)


def run(args) -> int:
    rows = pipeline(args).syncs()
    if args.output == "json":
        write_out(json.dumps(rows, indent=2, sort_keys=True))
    else:
        write_out(table(rows))
    return 0
