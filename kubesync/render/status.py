"""The status document: one row per object a sync owns or wants (sync state, health, reason).

`kubesync status -o json` prints it and the daemon's API (/api/v1/syncs/<name>) serves it; both
follow kubesync/schema/status.v1.json.
"""

from __future__ import annotations

from kubesync.health import assess
from kubesync.model import ActionType, ObjectRef

SYNC_STATE = {
    ActionType.NOOP: "Synced",
    ActionType.UPDATE: "OutOfSync",
    ActionType.SCALE: "OutOfSync",
    ActionType.REPLACE: "OutOfSync",
    ActionType.CREATE: "Missing",
    ActionType.DELETE: "Extra",
}


def rows_from_plan(planned, health: dict | None = None) -> list[dict]:
    """One row per object: desired ones from the plan, plus owned objects no longer desired (Extra).

    `health` (ObjectRef -> Health, read fresh by the facade, workloads explained by their pods) wins
    over the plan's live copy where it has the object."""
    rows = []
    desired_keys = set()
    health = health or {}
    for a in planned.plan.actions:
        desired_keys.add(a.ref.key)
        live = a.live if a.type is not ActionType.CREATE else None
        h = health.get(a.ref) if live is not None and a.ref in health else assess(live)
        rows.append({"object": str(a.ref), "sync": SYNC_STATE[a.type], "health": h.status.value, "reason": h.reason,
                     "origin": str(a.origin) if a.origin else ""})
    for conflict in planned.plan.conflicts:
        rows.append({"object": conflict, "sync": "Conflict", "health": "", "reason": "", "origin": ""})
    for key, live in sorted(planned.managed.items()):
        if key in desired_keys:
            continue
        h = assess(live)
        rows.append({"object": str(ObjectRef.of(live)), "sync": "Extra", "health": h.status.value, "reason": h.reason, "origin": ""})
    return rows


def rows_from_inventory(health: dict) -> list[dict]:
    """Without the source: every owned object with its health; its sync state cannot be known."""
    return [{"object": str(ref), "sync": "Unknown", "health": h.status.value, "reason": h.reason, "origin": ""}
            for ref, h in sorted(health.items(), key=lambda item: str(item[0]))]
