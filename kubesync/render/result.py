"""What an apply did, as data (`kubesync apply -o json`, schema `kubesync.io/apply/v1`, published in
kubesync/schema/apply.v1.json): one entry per object with its action, result and error, for CI."""

from __future__ import annotations

from kubesync.model import Plan
from kubesync.secrets import redact

SCHEMA = "kubesync.io/apply/v1"
RESULTS = ("created", "patched", "scaled", "replaced", "deleted", "unchanged", "skipped", "failed")


def _ref(ref) -> dict:
    return {"group": ref.group, "version": ref.version, "kind": ref.kind, "namespace": ref.namespace, "name": ref.name}


def result_to_dict(plan: Plan, report, *, dry_run: str = "none", applied: bool = True) -> dict:
    """`report` is apply.ApplyReport (None when nothing was applied: no changes, or a client dry run)."""
    outcomes = list(report.outcomes) if report is not None else []
    not_started = list(report.not_started) if report is not None else []
    objects = [{
        "object": str(o.action.ref),
        "ref": _ref(o.action.ref),
        "action": o.action.type.value,
        "result": str(o.result),
        "message": "" if o.failed else redact(o.message),
        "error": redact(o.message) if o.failed else "",
        "hook": o.phase,
    } for o in outcomes]
    # The sync's own objects by result; a hook's failure is a failure of the apply too; hooks created apart.
    summary = {r: sum(1 for o in objects if o["result"] == r and (r == "failed" or not o["hook"])) for r in RESULTS}
    summary["hooks"] = sum(1 for o in objects if o["hook"] and o["result"] == "created")
    summary["not_started"] = len(not_started)
    return {
        "schema": SCHEMA,
        "sync": plan.sync,
        "source": plan.source,
        "revision": plan.revision,
        "dry_run": dry_run,
        "applied": applied,
        "succeeded": not summary["failed"] and not not_started,
        "summary": summary,
        "objects": objects,
        "not_started": [{"object": str(a.ref), "ref": _ref(a.ref), "action": a.type.value} for a in not_started],
        "would_prune": [str(a.ref) for a in plan.would_prune],
    }
