"""The documents of /api/v1 (and of the pages, which render the same data): built from sync workers.

A worker is anything with `.sync` (SyncConfig), `.status` (SyncStatus) and `.history` (History).
`detail()` is the status document of `kubesync status -o json` (render/status.py, schema
status.v1.json) plus the daemon's own fields, so the CLI and the API share one schema.
"""

from __future__ import annotations

import time
from dataclasses import asdict

from kubesync.render.status import rows_from_plan

SOURCE_ERRORS = {"SourceError", "ManifestError", "ConfigError", "ResolveError"}
STATES = ("Failed", "Paused", "OutOfSync", "Unknown", "Synced")
"""Trouble first: the overview sorts by this order."""
HEALTHS = ("Healthy", "Progressing", "Degraded", "Missing")


def sync_state(worker) -> str:
    """Synced, OutOfSync, Failed, Paused (a broken source; the last good revision stays) or Unknown."""
    state = worker.status.state
    if state == "failed":
        last = next(iter(worker.history.runs()), None)
        broken_source = last is not None and last.error_type in SOURCE_ERRORS
        return "Paused" if broken_source and worker.status.revision else "Failed"
    return {"synced": "Synced", "drifted": "OutOfSync", "standby": "OutOfSync"}.get(state, "Unknown")


def rows(worker) -> list[dict]:
    planned = worker.history.planned
    return rows_from_plan(planned) if planned is not None else []


def waves(worker) -> dict[str, int]:
    """object -> the apply wave the last plan put it in (namespaces and CRDs first)."""
    planned = worker.history.planned
    return {str(a.ref): a.wave for a in planned.plan.actions} if planned is not None else {}


def health_counts(object_rows: list[dict]) -> dict[str, int]:
    counts = dict.fromkeys(HEALTHS, 0)
    for r in object_rows:
        key = "Missing" if r["sync"] == "Missing" else r["health"]
        if key in counts:
            counts[key] += 1
    return counts


def source(worker) -> dict:
    src = worker.sync.source
    if src.repo:
        return {"kind": "git", "description": src.describe(), "ref": src.ref or "HEAD", "path": src.subpath or ""}
    return {"kind": "folder", "description": src.describe(), "ref": "", "path": src.path or ""}


def run_doc(run) -> dict:
    doc = asdict(run)
    doc["triggers"] = list(run.triggers)
    doc["actions"] = dict(run.actions)
    return doc


def summary(worker, object_rows: list[dict] | None = None) -> dict:
    """One overview row: name, source and revision, state, health counts, the last run, the next one."""
    object_rows = rows(worker) if object_rows is None else object_rows
    last = next(iter(worker.history.runs()), None)
    return {
        "name": worker.sync.name,
        "source": source(worker),
        "applied_revision": worker.status.revision,
        "state": sync_state(worker),
        "health": health_counts(object_rows),
        "object_count": len(object_rows),
        "last_run": run_doc(last) if last else None,
        "next_run": worker.next_run or None,
        "error": worker.status.error if worker.status.state == "failed" else "",
    }


def overview(workers) -> list[dict]:
    """Every sync, trouble first (Failed, Paused, OutOfSync, then Degraded or Progressing objects), then by name."""
    docs = [summary(w) for w in workers]

    def trouble(doc: dict) -> tuple:
        return (STATES.index(doc["state"]), -doc["health"]["Degraded"], -doc["health"]["Progressing"], doc["name"])

    return sorted(docs, key=trouble)


def diff_text(worker) -> str:
    """The last plan's unified diff, Secret values masked exactly as `kubesync diff` masks them."""
    from kubesync.render.text import render_diff

    planned = worker.history.planned
    return render_diff(planned.plan) if planned is not None and planned.plan.changes else ""


def detail(worker) -> dict:
    """The status document plus the daemon's fields (summary, the last plan's diff, runs, drift)."""
    object_rows = rows(worker)
    planned = worker.history.planned
    doc = summary(worker, object_rows)
    doc.update({
        "sync": worker.sync.name,
        "revision": planned.plan.revision if planned is not None else None,
        "objects": object_rows,
        "diff": diff_text(worker),
        "runs": [run_doc(r) for r in worker.history.runs()],
        "drift": [asdict(e) for e in worker.history.drift_events()],
        "generated": time.time(),
    })
    return doc
