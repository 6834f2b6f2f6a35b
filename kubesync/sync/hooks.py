"""The phases of an apply with hooks (the model: Argo CD's sync phases; kubesync/hooks.py says what a
hook is, kubesync/sync/hookrun.py runs one phase's waves of them):

    PreSync    hooks, wave by wave; a failure stops here: nothing else is applied
    Sync       the plan, sync wave by sync wave, each wave's Sync hooks created with it and waited for
    PostSync   once every object of the sync is Healthy (Degraded fails the phase), hooks wave by wave
    SyncFail   only when a phase failed (not when the run was stopped)

then the hooks' delete policies, and the run record. Hooks run only when the plan has changes to apply
(or --force-hooks), never in a dry run, never in a selective sync (-l): `hooks_to_run` decides.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Callable, Sequence

from kubesync.annotations import POST_SYNC, PRE_SYNC, SYNC, SYNC_FAIL
from kubesync.apply import Applier, ApplyReport, ApplySettings, Outcome
from kubesync.health import DEGRADED, HEALTHY
from kubesync.hooks import steps
from kubesync.model import Action, ActionType, Hook, ObjectRef, Plan, Result
from kubesync.sync import wait as waiting
from kubesync.sync.hookrun import HookRunner, duration


def hooks_to_run(plan: Plan, settings: ApplySettings) -> tuple[Hook, ...]:
    """The hooks this apply runs: none in a dry run, none without changes unless forced."""
    if settings.dry_run or not (plan.has_changes or settings.force_hooks):
        return ()
    return tuple(h for h in plan.hooks if h.phases)


def merge(into: ApplyReport, part: ApplyReport) -> None:
    into.outcomes.extend(part.outcomes)
    into.not_started.extend(part.not_started)
    into.stopped_by = into.stopped_by or part.stopped_by
    into.cut_short += part.cut_short


def run_with_hooks(runner: HookRunner, applier: Applier, plan: Plan, hooks: Sequence[Hook], refs: Sequence[ObjectRef]) -> ApplyReport:
    """PreSync, Sync, PostSync, and SyncFail when one failed; then the delete policies (`runner.finish`)."""
    report = ApplyReport()
    ok = False
    try:
        ok = runner.phase(PRE_SYNC, steps(hooks, PRE_SYNC), report)
        if not ok:
            report.not_started.extend(plan.changes)
        ok = ok and sync_phase(runner, applier, plan, steps(hooks, SYNC), report)
        ok = ok and runner.phase(POST_SYNC, steps(hooks, POST_SYNC), report,
                                 before=lambda deadline: healthy(runner, refs, deadline, report))
        if not ok and not runner.stop.is_set():
            runner.phase(SYNC_FAIL, steps(hooks, SYNC_FAIL), ApplyReport())  # its own failures do not hide the first
    finally:
        runner.finish(ok)
    return report


def sync_phase(runner: HookRunner, applier: Applier, plan: Plan, hook_steps: list[list[Hook]], report: ApplyReport) -> bool:
    """The plan, and its Sync hooks each in the sync wave it names: the plan's creates and updates of that
    wave first, then the wave's hooks, waited for before the next wave; deletions after all of it."""
    if not hook_steps:
        part = applier.apply(plan)
        merge(report, part)
        return not part.failures and not part.not_started
    deadline = time.monotonic() + runner.settings.hook_timeout
    writes = [a for a in plan.actions if a.type is not ActionType.DELETE]
    by_wave = {step[0].wave: step for step in hook_steps}
    waves = sorted({a.sync_wave for a in writes if a.type is not ActionType.NOOP} | set(by_wave))
    runner.progress_step(SYNC, "started", sum(len(s) for s in hook_steps))
    for i, wave in enumerate(waves):
        part = applier.apply(replace(plan, actions=tuple(a for a in writes if a.sync_wave == wave)))
        merge(report, part)
        ok = not part.failures and not part.not_started
        ok = ok and (wave not in by_wave or runner.wave(SYNC, by_wave[wave], report, deadline))
        if not ok:
            report.not_started.extend(a for a in plan.changes if a.type is ActionType.DELETE or a.sync_wave > wave)
            runner.progress_step(SYNC, "interrupted" if runner.stop.is_set() else "failed")
            return False
    part = applier.apply(replace(plan, actions=tuple(a for a in plan.actions if a.type is ActionType.DELETE)))
    merge(report, part)
    runner.progress_step(SYNC, "succeeded" if not part.failures else "failed")
    return not part.failures and not part.not_started


def healthy(runner: HookRunner, refs: Sequence[ObjectRef], deadline: float, report: ApplyReport,
            check: Callable | None = None) -> bool:
    """Before PostSync: until every object of the sync is Healthy; a Degraded one, or the phase's deadline,
    fails the phase (each object named with its reason)."""
    check = check or (lambda: waiting.health(runner.cluster, runner.discovery, refs, runner.sync))
    told = False
    while True:
        found = check()
        bad = {ref: h for ref, h in found.items() if h.status is DEGRADED}
        waiting_for = {ref: h for ref, h in found.items() if h.status is not HEALTHY}
        if not waiting_for:
            return True
        if not told:
            runner.progress_step(POST_SYNC, "waiting", message=f"{len(waiting_for)} object(s) not Healthy yet, "
                                                              f"e.g. {next(iter(waiting_for))}")
            told = True
        if bad or time.monotonic() >= deadline or runner.stop.is_set():
            if runner.stop.is_set():
                return False
            why = "is Degraded" if bad else f"is not Healthy within {duration(runner.settings.hook_timeout)} (--hook-timeout)"
            for ref, h in (bad or waiting_for).items():
                action = Action(ActionType.NOOP, ref)
                report.outcomes.append(Outcome(action, Result.FAILED, f"{ref}: {why}: {h}; PostSync hooks not run",
                                               phase=POST_SYNC))
            return False
        runner.stop.wait(runner.interval)


def new_runner(cluster, discovery, plan: Plan, settings: ApplySettings, progress, stop: threading.Event | None,
               record_namespace: str) -> HookRunner:
    return HookRunner(cluster, discovery, plan.sync, plan.revision, settings, progress or (lambda _: None),
                      stop or threading.Event(), record_namespace)
