"""Pure: the plan a merge of `head` into `base` would cause, object by object, with no cluster.

The base ref's objects stand in for live objects, as kubesync would have applied them (with its
labels and field set), so the same diff and planning rules produce the same actions and risk flags
a cluster plan would show, minus server defaults and live drift.
"""

from __future__ import annotations

from kubesync.model import DesiredState, Plan
from kubesync.plan import InventoryEntry, PlanSettings, build_plan, owned_object
from kubesync.resolve import offline_lookup, resolve


def compare_states(base: DesiredState, head: DesiredState, sync: str, namespace: str = "default") -> Plan:
    base_resolved = resolve(base.manifests, offline_lookup, namespace)
    head_resolved = resolve(head.manifests, offline_lookup, namespace)
    live = {}
    for r in base_resolved:
        obj = owned_object(r.obj, sync)
        obj["metadata"]["uid"] = ""  # no cluster: no uid or resourceVersion preconditions
        live[r.ref.key] = obj
    inventory = [InventoryEntry(r.ref, "") for r in base_resolved]
    settings = PlanSettings(sync=sync, prune=True, force=True)
    return build_plan(head_resolved, live, live, inventory, settings, source=head.source, revision=head.revision)
