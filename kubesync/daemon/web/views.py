"""The documents of /api/v1 (and of the pages, which render the same data): built from sync workers.

A worker is anything with `.sync` (SyncConfig), `.status` (SyncStatus) and `.history` (History).
`detail()` is the status document of `kubesync status -o json` (render/status.py, schema
status.v1.json) plus the daemon's own fields, so the CLI and the API share one schema.

Only facts about now: a failing sync is shown at its current attempt (the revision it tries, that
attempt's plan, its apply's outcomes), objects with the health the watch shows, and a plan made for
another revision only for its object list, with an Unknown sync state.
"""

from __future__ import annotations

import time
from dataclasses import asdict

from kubesync.render.status import rows_from_plan

SOURCE_ERRORS = {"SourceError", "ManifestError", "ConfigError", "ResolveError"}
STATES = ("Failed", "Paused", "OutOfSync", "Unknown", "Synced")
"""Trouble first: the overview sorts by this order."""
HEALTHS = ("Healthy", "Progressing", "Degraded", "Missing")
REASON_CHARS = 240
"""A failure's reason on the overview: one line; the sync's page has the whole error."""


def sync_state(worker) -> str:
    """Synced, OutOfSync, Failed, Paused (a broken source; the last good revision stays) or Unknown."""
    state = worker.status.state
    if state == "failed":
        last = next(iter(worker.history.runs()), None)
        broken_source = last is not None and last.error_type in SOURCE_ERRORS
        return "Paused" if broken_source and worker.status.revision else "Failed"
    return {"synced": "Synced", "drifted": "OutOfSync", "standby": "OutOfSync"}.get(state, "Unknown")


def shown_plan(worker):
    """(the plan whose objects the page lists, whether it is the current attempt's).

    The current attempt's plan when it has one; else (its source could not be read, or its plan
    failed) the last plan made, whose object list is the best there is but whose sync states are not
    facts about the revision being tried."""
    attempt = worker.history.attempt()
    if attempt is not None and attempt.planned is not None:
        return attempt.planned, True
    return worker.history.planned, attempt is None


def _now(row: dict, live: dict, outcomes: dict, current: bool) -> dict:
    """A plan's row made true now: health as the watch shows the object, the apply's outcome over the plan's guess."""
    ref = row["object"]
    if row["sync"] == "Conflict":
        return row
    row = dict(row)
    if ref in live:
        health = live[ref]
        row["health"], row["reason"] = ("Missing", "deleted") if health is None else (health.status.value, health.reason)
    result, message = outcomes.get(ref, ("", ""))
    if not current:
        row["sync"] = "Unknown"  # not compared with the revision being tried
    elif result == "failed":
        row["sync"], row["reason"] = "OutOfSync", message
    elif result and result not in ("skipped", "deleted"):
        row["sync"] = "Synced"
    elif row["sync"] == "Missing" and live.get(ref) is not None:
        row["sync"] = "Unknown"  # it exists now: the plan that found it missing is older than that
    return row


def rows(worker) -> list[dict]:
    planned, current = shown_plan(worker)
    if planned is None:
        return []
    attempt = worker.history.attempt()
    outcomes = attempt.outcomes if attempt is not None and current else {}
    live = worker.history.live()
    return [_now(r, live, outcomes, current) for r in rows_from_plan(planned)
            if outcomes.get(r["object"], ("",))[0] != "deleted"]


def waves(worker) -> dict[str, int]:
    """object -> the apply wave the shown plan put it in (namespaces and CRDs first)."""
    planned, _ = shown_plan(worker)
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


def destination(worker) -> dict:
    """Where the sync applies: its kubeconfig context ('' for the daemon's current one) and default namespace."""
    connections = getattr(worker, "connections", None)
    context = worker.sync.context or getattr(connections, "default_context", None) or ""
    return {"context": context, "namespace": worker.sync.namespace or ""}


def reason(worker, state: str) -> str:
    """One line saying why a sync is not Synced: the failure (redacted when it was stored), the drift, the standby."""
    status = worker.status
    if state in ("Failed", "Paused"):
        line = status.error.splitlines()[0] if status.error else "failed"
        return line if len(line) <= REASON_CHARS else line[:REASON_CHARS - 1] + "\u2026"
    if status.state == "drifted":
        return f"{len(status.drifted)} object(s) changed in the cluster; self-heal is off"
    if status.state == "standby":
        return "changes planned; another replica applies them"
    return ""


def attempt_doc(worker) -> dict | None:
    """The current attempt: the revision tried (and its commit), how far it got, why it failed."""
    attempt = worker.history.attempt()
    if attempt is None:
        return None
    commit = attempt.commit
    return {
        "revision": attempt.revision, "started": attempt.started, "stage": attempt.stage, "error": attempt.error,
        "planned": attempt.planned is not None,
        "commit": None if commit is None else {"sha": commit.sha, "subject": commit.subject, "author": commit.author,
                                               "time": commit.time},
    }


def summary(worker, object_rows: list[dict] | None = None) -> dict:
    """One overview row: name, destination, source and revision, state and why, health counts, the last and next run."""
    object_rows = rows(worker) if object_rows is None else object_rows
    last = next(iter(worker.history.runs()), None)
    state = sync_state(worker)
    failing = state in ("Failed", "Paused")
    return {
        "name": worker.sync.name,
        "destination": destination(worker),
        "source": source(worker),
        "applied_revision": worker.status.revision,
        "state": state,
        "failing": failing,
        "reason": reason(worker, state),
        "trying": attempt_doc(worker) if failing else None,
        "health": health_counts(object_rows),
        "object_count": len(object_rows),
        "last_run": run_doc(last) if last else None,
        "next_run": worker.next_run or None,
        "error": worker.status.error if worker.status.state == "failed" else "",
        "cannot_decrypt": list(worker.status.cannot_decrypt),
    }


def overview(workers) -> list[dict]:
    """Every sync, trouble first (Failed, Paused, OutOfSync, then Degraded or Progressing objects), then by name."""
    docs = [summary(w) for w in workers]

    def trouble(doc: dict) -> tuple:
        return (STATES.index(doc["state"]), -doc["health"]["Degraded"], -doc["health"]["Progressing"], doc["name"])

    return sorted(docs, key=trouble)


def totals(docs: list[dict]) -> dict[str, int]:
    """How many syncs, and how many in each state (the overview's headline)."""
    out = {"syncs": len(docs), **{state: 0 for state in STATES}}
    for doc in docs:
        out[doc["state"]] += 1
    return out


def sync_list(workers) -> dict:
    """GET /api/v1/syncs: every sync, the totals, the names of those failing (Failed or Paused) and of
    those with SOPS files their last run could not decrypt."""
    docs = overview(workers)
    return {"syncs": docs, "totals": totals(docs), "failed": sorted(d["name"] for d in docs if d["failing"]),
            "cannot_decrypt": sorted(d["name"] for d in docs if d["cannot_decrypt"])}


def fold_runs(runs: list[dict]) -> list[dict]:
    """Runs newest first, consecutive failures with the same error folded into one row ("same error x8")."""
    out: list[dict] = []
    for run in runs:
        prev = out[-1] if out else None
        if prev is not None and run["result"] == "error" and prev["result"] == "error" and all(
                run[k] == prev[k] for k in ("error", "error_type", "revision")):
            prev["repeats"] += 1
            prev["since"] = run["started"]
            continue
        out.append({**run, "repeats": 1, "since": run["started"]})
    return out


def diff_text(worker) -> str:
    """The shown plan's unified diff, Secret values masked exactly as `kubesync diff` masks them."""
    from kubesync.render.text import render_diff

    planned, current = shown_plan(worker)
    return render_diff(planned.plan) if current and planned is not None and planned.plan.changes else ""


def hook_rows(worker) -> list[dict]:
    """The hook phases' last steps, newest first (messages redacted: a hook's pod may quote a Secret)."""
    from kubesync.secrets import redact

    return [{"time": at, "phase": step.phase, "event": step.event, "object": step.object, "message": redact(step.message)}
            for at, step in worker.history.hook_steps()]


def detail(worker) -> dict:
    """The status document plus the daemon's fields (summary, the current attempt, its plan's diff, runs, drift)."""
    object_rows = rows(worker)
    planned, current = shown_plan(worker)
    doc = summary(worker, object_rows)
    doc.update({
        "sync": worker.sync.name,
        "revision": planned.plan.revision if planned is not None and current else None,
        "attempt": attempt_doc(worker),
        "objects": object_rows,
        "diff": diff_text(worker),
        "runs": [run_doc(r) for r in worker.history.runs()],
        "drift": [asdict(e) for e in worker.history.drift_events()],
        "hooks": hook_rows(worker),
        "generated": time.time(),
    })
    return doc
