"""Pure: the plan a merge of `head` into `base` would cause, object by object, with no cluster.

The base ref's objects stand in for live objects, as the server would store what kubesync applied
(its labels and field set, `stringData` folded into `data`: `normalize_desired`, the normalisation
the cluster plan uses), so the same diff and planning rules produce the same actions and risk flags a
cluster plan would show. Defaults the server would add are not guessed: both sides lack them alike.
"""

from __future__ import annotations

from dataclasses import replace

from kubesync.charts import chart_changes
from kubesync.hooks import ordered
from kubesync.diff import normalize_desired
from kubesync.model import DesiredState, Plan
from kubesync.model import InventoryEntry
from kubesync.plan import build_plan, owned_object
from kubesync.settings import PlanSettings
from kubesync.resolve import offline_lookup, resolve, with_schemas
from kubesync.vocab import short_revision


def short(revision: str) -> str:
    """A git sha as `git log --oneline` shows it."""
    return short_revision(revision, 7)


def compare_states(base: DesiredState, head: DesiredState, sync: str, namespace: str = "default", prune: bool = True) -> Plan:
    """The plan; with `prune` off (a sync whose policy is not to prune), what the merge removes is listed
    as what a prune would delete (`Plan.would_prune`), not as deletions."""
    # no server schema offline; a CRD in either state still speaks for its custom resources
    base_resolved = with_schemas(resolve(base.manifests, offline_lookup, namespace), {})
    head_resolved = with_schemas(resolve(head.manifests, offline_lookup, namespace), {})
    live = {}
    for r in base_resolved:
        obj = normalize_desired(owned_object(r.obj, sync, schema=r.schema))
        obj.setdefault("metadata", {})["uid"] = ""  # no cluster: no uid or resourceVersion preconditions
        live[r.ref.key] = obj
    inventory = [InventoryEntry(r.ref, "") for r in base_resolved]
    settings = PlanSettings(sync=sync, prune=prune, force=True, allow_empty=True, offline=True)
    plan = build_plan(head_resolved, live, live, inventory, settings, source=head.source, revision=head.revision)
    plan = replace(plan, sides=(("base", short(base.revision)), ("head", short(head.revision))))
    if base.charts or head.charts or head.hooks:
        plan = replace(plan, charts=chart_changes(base.charts, head.charts), hooks=ordered(head.hooks))
    return plan
