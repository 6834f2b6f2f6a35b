"""The writing half of a run: execute a plan (fresh or saved) and record the inventory it leaves."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone
from dataclasses import dataclass, field, replace
from typing import Callable, Mapping, Protocol, Sequence

from kubesync import errors
from kubesync.apply import Applier, ApplyReport, ApplySettings, Outcome
from kubesync.charts import charts_after
from kubesync.cluster import API
from kubesync.cluster import inventory as stored_inventory
from kubesync.inventory import DEFAULT_NAMESPACE
from kubesync.model import Action, ActionType, Chart, InventoryEntry, KubeObject, ObjectRef, Plan, Result
from kubesync.plan import plan_object
from kubesync.prune import PENDING, owned_uid, source_after
from kubesync.sync.hooks import hooks_to_run, new_runner, run_with_hooks
from kubesync.sync.plan import FIELD_VALIDATION, Planned

log = logging.getLogger(__name__)

Progress = Callable[[object], None]
"""Hears each object's Outcome as it is done and, when hooks run, each HookStep (kubesync/hooks.py)."""


class Baseline(Protocol):
    """What a run started from: the plan, the inventory, and the objects found then (a Planned or a SavedRun)."""

    plan: Plan
    inventory: Sequence[InventoryEntry]
    live: Mapping[tuple, KubeObject]
    managed: Mapping[tuple, KubeObject]


@dataclass(frozen=True)
class SavedRun:
    """A saved plan about to be applied: no source to re-diff, nothing read live but the inventory."""

    plan: Plan
    inventory: Sequence[InventoryEntry]
    inventory_source: str = ""
    live: Mapping[tuple, KubeObject] = field(default_factory=dict)
    managed: Mapping[tuple, KubeObject] = field(default_factory=dict)


def apply_planned(cluster: API, discovery, planned: Planned, settings: ApplySettings, progress: Progress | None = None,
                  stop: threading.Event | None = None) -> ApplyReport:
    """Execute the plan (with its hooks' phases around it: sync/hooks.py) and record the new inventory, also
    when some actions failed. Objects about to be created are recorded as pending first: an apply cut short
    (kill -9, an outage) leaves nothing the next prune cannot see. Writes treat unknown fields as the plan's
    --validate said (unless the settings say otherwise)."""
    config = planned.config
    if settings.field_validation is None and config is not None:
        settings = replace(settings, field_validation=FIELD_VALIDATION[config.validation])
    applier = Applier(cluster, discovery, settings, replan=replanner(planned), progress=progress, stop=stop)
    report = ApplyReport()
    hooks = hooks_to_run(planned.plan, settings)
    namespace = config.inventory_namespace if config is not None else DEFAULT_NAMESPACE
    runner = new_runner(cluster, discovery, planned.plan, settings, progress, stop, namespace) if hooks else None
    wrote = not settings.dry_run and config is not None and record_pending(cluster, planned)
    try:
        if runner is not None:
            report = run_with_hooks(runner, applier, planned.plan, hooks, [r.ref for r in planned.resolved])
        else:
            report = applier.apply(planned.plan)
    finally:
        if not settings.dry_run and config is not None:
            source = source_after(planned.inventory_source, config.planning)
            existed = bool(planned.inventory or planned.inventory_source or wrote)
            record_inventory(cluster, config.name, config.inventory_namespace, next_inventory(planned, report), report,
                             source, existed, planned.plan.revision, charts_after(planned.plan))
        if runner is not None:
            runner.write_record(not report.failures and not report.not_started)
    return report


def apply_saved(cluster: API, discovery, saved, settings: ApplySettings, progress: Progress | None = None,
                stop: threading.Event | None = None) -> ApplyReport:
    """Exactly the reviewed actions; conflicts are failures, never re-diffed (there is no source to diff)."""
    sync, namespace = saved.plan.sync, DEFAULT_NAMESPACE
    inv, inv_source = stored_inventory.read_with_source(cluster, sync, namespace)
    run = SavedRun(saved.plan, tuple(inv), inv_source)
    applier = Applier(cluster, discovery, settings, replan=None, progress=progress, stop=stop)
    hooks = hooks_to_run(saved.plan, settings)
    runner = new_runner(cluster, discovery, saved.plan, settings, progress, stop, namespace) if hooks else None
    if runner is not None:  # the objects whose health PostSync waits for: those the plan keeps
        refs = [a.ref for a in saved.plan.actions if a.type is not ActionType.DELETE]
        report = run_with_hooks(runner, applier, saved.plan, hooks, refs)
    else:
        report = applier.apply(saved.plan)
    if not settings.dry_run:
        source = inv_source or (saved.source.identity() if saved.source is not None else "")
        record_inventory(cluster, sync, namespace, next_inventory(run, report), report, source, bool(inv or inv_source),
                         saved.plan.revision, charts_after(saved.plan))
    if runner is not None:
        runner.write_record(not report.failures and not report.not_started)
    return report


def record_pending(cluster: API, planned: Planned) -> bool:
    """Write the inventory with every object the plan creates as a pending entry (no uid yet): one request,
    only when there is something to create (whether it wrote)."""
    known = {e.ref.key for e in planned.inventory}
    pending = [InventoryEntry(a.ref, PENDING) for a in planned.plan.actions
               if a.type in (ActionType.CREATE, ActionType.REPLACE) and a.ref.key not in known]
    if not pending:
        return False
    config = planned.config
    source = planned.inventory_source or config.planning.source
    before = tuple(Chart(c.name, c.before) for c in planned.plan.charts if c.before)  # still what was applied
    stored_inventory.write(cluster, config.name, [*planned.inventory, *pending], config.inventory_namespace, source=source,
                           exists=bool(planned.inventory or planned.inventory_source), revision=planned.plan.revision,
                           charts=before)
    return True


def replanner(planned: Planned):
    """Re-diff one object against a fresh live copy (after a conflict)."""
    by_key = {r.ref.key: r for r in planned.resolved}
    recorded = {e.ref.key for e in planned.inventory}  # what the sync owned before this run: a label is no claim

    def replan(action: Action, live: KubeObject | None) -> Action | None:
        r = by_key.get(action.ref.key)
        if r is None or planned.config is None:  # a deletion: the object changed under us; keep the uid precondition
            return action if live is not None else None
        new, conflict = plan_object(r, live, planned.config.planning, recorded)
        if conflict:
            log.warning("%s", conflict)
        return new

    return replan


def next_inventory(run: Baseline, report: ApplyReport) -> list[InventoryEntry]:
    """Objects this sync owns after the run: what was applied, plus older entries not deleted."""
    uids: dict[tuple, tuple[ObjectRef, str]] = {}
    for e in run.inventory:  # a pending entry of an earlier, interrupted run is confirmed by its live object
        live = run.managed.get(e.ref.key)
        uids[e.ref.key] = (e.ref, (owned_uid(e.uid, live) or "") if live is not None else e.uid)
    for key, obj in run.live.items():
        if key in run.managed:
            uids[key] = (ObjectRef.of(obj), obj["metadata"].get("uid", ""))
    for o in report.outcomes:
        key = o.action.ref.key
        if o.phase:
            continue  # a hook: run, never owned
        if o.result is Result.DELETED:
            uids.pop(key, None)
        elif o.live is not None and o.live.get("metadata", {}).get("uid"):
            uids[key] = (o.action.ref, o.live["metadata"]["uid"])
        elif o.result in (Result.PATCHED, Result.SCALED, Result.UNCHANGED) and o.action.uid:
            uids[key] = (o.action.ref, o.action.uid)
    conflicts = {a.ref.key for a in run.plan.actions if a.type is ActionType.CREATE} - {
        o.action.ref.key for o in report.outcomes if not o.failed and not o.phase
    }
    return [InventoryEntry(ref, uid) for key, (ref, uid) in sorted(uids.items()) if uid and key not in conflicts]


def record_inventory(cluster: API, sync: str, namespace: str, entries: list[InventoryEntry], report: ApplyReport,
                     source: str = "", exists: bool | None = None, revision: str = "",
                     charts: tuple[Chart, ...] = ()) -> None:
    """Write the inventory (`exists`: whether one was read) and the charts applied (the next plan's "before");
    when that fails after some actions failed too, report both."""
    applied_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        stored_inventory.write(cluster, sync, entries, namespace, source=source, exists=exists, revision=revision,
                               applied_at=applied_at, charts=charts)
    except errors.KubesyncError as e:
        if not report.failures:
            raise
        raise errors.ApplyFailed([o.message for o in report.failures] + [f"the inventory could not be recorded: {e}"],
                                 not_started=len(report.not_started)) from e


def raise_for_failures(report: ApplyReport) -> None:
    if report.failures:  # a cause shared by many objects is one line with their count
        later = len(report.not_started) - report.cut_short
        raise errors.ApplyFailed(report.failure_lines(), not_started=later, failed=len(report.failures))
