"""One run's hooks: each phase's waves created, waited for and judged; at the end, deleted by their
policies and recorded (kubesync/hooks.py says what a hook is; kubesync/sync/hooks.py orders the phases).

A wave of hooks: an existing object of a hook's name is deleted first when its policy says
BeforeHookCreation (and only when it is this sync's hook: anything else of that name is a failure,
never touched), kept and judged as it is otherwise (Argo CD: a named hook is created once); the rest
are created by an Applier given the run's `stop`. Then every hook of the wave is read once a second
until none runs: a failure or the phase's deadline fails the phase, with the Job's reason and its
pod's last container's words. The wait returns as soon as `stop` is set (a shutdown, a lost
leadership): a worker is never held beyond the phase's deadline.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Callable

from kubesync import errors
from kubesync.annotations import BEFORE_HOOK_CREATION, HOOK_FAILED, HOOK_SUCCEEDED
from kubesync.apply import Applier, ApplyReport, ApplySettings, Outcome
from kubesync.cluster import API
from kubesync.health.hooks import FAILED, RUNNING, SUCCEEDED, explain, hook_state, last_words, pod_selector
from kubesync.hooks import FINALIZER, HookResult, HookStep, hook_object, is_hook_of, record, record_name, run_name
from kubesync.model import CONFIGMAPS, PODS, Action, ActionType, Hook, KubeObject, ObjectRef, PatchType, Plan, ResourceType, Result

log = logging.getLogger(__name__)


def duration(seconds: float) -> str:
    """600 -> 10m, 90 -> 1m30s, 5 -> 5s: how --hook-timeout was probably written."""
    minutes, rest = divmod(int(seconds), 60)
    return (f"{minutes}m" if minutes else "") + (f"{rest}s" if rest or not minutes else "")


@dataclass
class Running:
    """One hook object of this run: what it is, where it runs, and how it ended."""

    hook: Hook
    phase: str
    ref: ObjectRef
    rtype: ResourceType
    uid: str = ""
    state: str = RUNNING
    message: str = ""
    kept: bool = False
    """An existing hook of that name judged as it is (no BeforeHookCreation): Argo CD creates a named hook once."""


@dataclass
class HookRunner:
    """The hooks of one apply: phases run one by one (`phase`), then `finish`. Progress (objects' Outcomes,
    HookSteps) goes to `progress` as it happens."""

    cluster: API
    discovery: object
    sync: str
    revision: str
    settings: ApplySettings
    progress: Callable[[object], None]
    stop: threading.Event
    record_namespace: str
    started: float = field(default_factory=time.time)
    interval: float = 1.0
    ran: list[Running] = field(default_factory=list)

    def progress_step(self, phase: str, event: str, hooks: int = 0, message: str = "") -> None:
        self.progress(HookStep(phase, event, hooks=hooks, message=message))

    def phase(self, phase: str, steps: list[list[Hook]], report: ApplyReport, before: Callable[[float], bool] | None = None) -> bool:
        """Run the phase's waves of hooks (`before(deadline)` first, when given); whether it succeeded."""
        if not steps:
            return True
        deadline = time.monotonic() + self.settings.hook_timeout
        self.progress(HookStep(phase, "started", hooks=sum(len(s) for s in steps)))
        ok = before(deadline) if before is not None else True
        for step in steps:
            if not ok:
                break
            ok = self.wave(phase, step, report, deadline)
        event = "succeeded" if ok else "interrupted" if self.stop.is_set() else \
            "timed out" if time.monotonic() >= deadline else "failed"
        self.progress(HookStep(phase, event))
        return ok

    def wave(self, phase: str, hooks: list[Hook], report: ApplyReport, deadline: float) -> bool:
        """Create one wave of hooks and wait until none runs; whether all succeeded."""
        runs = [self._prepare(phase, h, report) for h in hooks]
        runs = [r for r in runs if r is not None]
        if len(runs) < len(hooks):
            return False
        created = self._create([r for r in runs if not r.kept], report)
        self.ran += [r for r in runs if r.uid]
        if not created:
            return False
        while any(r.state == RUNNING for r in runs):
            for r in runs:
                if r.state == RUNNING:
                    self._judge(r)
            if not any(r.state == RUNNING for r in runs) or self.stop.is_set():
                break
            if time.monotonic() >= deadline:
                self._timed_out([r for r in runs if r.state == RUNNING])
                break
            self.stop.wait(self.interval)
        for r in runs:
            if r.state == FAILED:
                self._fail(r, report)
        return all(r.state == SUCCEEDED for r in runs)

    # -- one hook --------------------------------------------------------------------------------------

    def _prepare(self, phase: str, hook: Hook, report: ApplyReport) -> Running | None:
        """The hook's object for this run: a BeforeHookCreation hook's previous object deleted, another
        existing one kept as it is; None (a failure reported) when the name belongs to something else."""
        name = run_name(hook, self.revision, phase, int(self.started))
        ref = ObjectRef(hook.ref.group, hook.ref.version, hook.ref.kind, hook.ref.namespace, name)
        rtype = self.discovery.resource_for(ref.api_version, ref.kind)
        if rtype is None:  # a CRD this apply created: discovery has not seen it yet
            self.discovery.invalidate(ref.api_version)
            rtype = self.discovery.resource_for(ref.api_version, ref.kind)
        if rtype is None:
            self._report(report, phase, ref, hook, f"the cluster does not serve {ref.api_version} {ref.kind}")
            return None
        live = self.cluster.get(rtype, ref.namespace, ref.name)
        run = Running(hook, phase, ref, rtype)
        if live is None:
            return run
        if not is_hook_of(live, self.sync):
            self._report(report, phase, ref, hook, f"exists and is not a hook of sync {self.sync!r} (another tool's "
                                                   "object of that name?); left alone, the hook not run")
            return None
        if BEFORE_HOOK_CREATION not in hook.delete_policies:
            return replace(run, uid=live["metadata"].get("uid", ""), kept=True)
        why = self._delete(rtype, ref, live)
        if why:
            self._report(report, phase, ref, hook, f"the previous one could not be deleted (BeforeHookCreation): {why}")
            return None
        return run

    def _create(self, runs: list[Running], report: ApplyReport) -> bool:
        """Create the hooks of a wave (one Applier, the run's `stop`); their uids noted."""
        if not runs:
            return True
        actions = [Action(ActionType.CREATE, r.ref, r.hook.wave, r.hook.origin, desired=hook_object(r.hook, r.ref.name, self.sync))
                   for r in runs]
        by_ref = {r.ref: r for r in runs}

        def told(outcome: Outcome) -> None:
            self.progress(replace(outcome, phase=by_ref[outcome.action.ref].phase))

        applier = Applier(self.cluster, self.discovery, self.settings, replan=lambda action, live: None, progress=told,
                          stop=self.stop)
        done = applier.apply(Plan(self.sync, "", self.revision, tuple(actions)))
        for o in done.outcomes:
            run = by_ref[o.action.ref]
            report.outcomes.append(replace(o, phase=run.phase))
            run.uid = ((o.live or {}).get("metadata") or {}).get("uid", "")
        return not done.failures and not done.not_started

    def _judge(self, run: Running) -> None:
        live = self.cluster.get(run.rtype, run.ref.namespace, run.ref.name)
        if live is not None and live["metadata"].get("uid") != run.uid:
            live = None  # someone replaced it: not the hook this run created
        run.state, run.message = hook_state(live)
        if run.state == FAILED:
            run.message = explain(run.message, self._pod_words(run, live))
        elif run.state == SUCCEEDED:
            self.progress(HookStep(run.phase, "hook succeeded", str(run.ref), run.message))

    def _timed_out(self, runs: list[Running]) -> None:
        for run in runs:
            live = self.cluster.get(run.rtype, run.ref.namespace, run.ref.name)
            words = explain(run.message, self._pod_words(run, live))
            run.state, run.message = FAILED, f"did not finish within {duration(self.settings.hook_timeout)} (--hook-timeout): {words}"

    def _pod_words(self, run: Running, live: KubeObject | None) -> str:
        """The last words of the hook's pods: a Job's (by its selector), or a Pod's own."""
        if live is None:
            return ""
        if run.ref.kind == "Pod" and not run.ref.group:
            return last_words([live])
        selector = pod_selector(live) if run.ref.kind == "Job" else None
        return last_words(self.cluster.list(PODS, run.ref.namespace, selector=selector).items) if selector else ""

    def _fail(self, run: Running, report: ApplyReport) -> None:
        self.progress(HookStep(run.phase, "hook failed", str(run.ref), run.message))
        self._report(report, run.phase, run.ref, run.hook, run.message)

    def _report(self, report: ApplyReport, phase: str, ref: ObjectRef, hook: Hook, why: str) -> None:
        action = Action(ActionType.CREATE, ref, hook.wave, hook.origin)
        outcome = Outcome(action, Result.FAILED, f"{hook.origin}: {ref}: {phase} hook failed: {why}", phase=phase)
        report.outcomes.append(outcome)
        self.progress(outcome)

    # -- deleting, releasing, recording ----------------------------------------------------------------

    def _delete(self, rtype: ResourceType, ref: ObjectRef, live: KubeObject) -> str:
        """Release the finalizer, delete that uid and wait until it is gone (an Applier's deletion); '' once
        gone, else why not."""
        self._release(rtype, ref)
        action = Action(ActionType.DELETE, ref, live=live, uid=live["metadata"].get("uid", ""))
        if self.stop.is_set():
            return "stopped (shutting down)"
        try:
            said = Applier(self.cluster, self.discovery, self.settings, stop=self.stop).execute(action).message
        except errors.KubesyncError as e:
            return str(e)
        return "" if said == "already gone" else said

    def _release(self, rtype: ResourceType, ref: ObjectRef) -> None:
        """Take kubesync's finalizer off the hook (its outcome is read), whatever else holds it."""
        for _ in range(5):
            live = self.cluster.get(rtype, ref.namespace, ref.name)
            finalizers = ((live or {}).get("metadata") or {}).get("finalizers") or []
            if FINALIZER not in finalizers:
                return
            body = {"metadata": {"resourceVersion": live["metadata"]["resourceVersion"],
                                 "finalizers": [f for f in finalizers if f != FINALIZER]}}
            try:
                self.cluster.patch(rtype, ref.namespace, ref.name, body, PatchType.MERGE)
                return
            except (errors.ClusterConflict, errors.ClusterNotFound):
                continue

    def finish(self, succeeded: bool) -> None:
        """Delete the hooks their policies say (HookSucceeded, HookFailed), release the others, record the run."""
        for run in self.ran:
            policy = HOOK_SUCCEEDED if run.state == SUCCEEDED else HOOK_FAILED if run.state == FAILED else ""
            try:
                live = self.cluster.get(run.rtype, run.ref.namespace, run.ref.name)
                if live is None or live["metadata"].get("uid") != run.uid:
                    continue
                if policy in run.hook.delete_policies:
                    why = self._delete(run.rtype, run.ref, live)
                    if why:
                        log.warning("hook %s: not deleted (%s): %s", run.ref, policy, why)
                    else:
                        self.progress(HookStep(run.phase, "deleted", str(run.ref), policy))
                else:
                    self._release(run.rtype, run.ref)
            except errors.KubesyncError as e:  # the run's outcome stands; the object is left as it is
                log.warning("hook %s: could not be cleaned up: %s", run.ref, e)

    def write_record(self, succeeded: bool) -> None:
        """The run record beside the inventory (written after it: the inventory creates the namespace)."""
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        started = datetime.fromtimestamp(self.started, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        results = [HookResult(r.phase, str(r.ref), "kept" if r.kept and r.state == SUCCEEDED else r.state, r.message)
                   for r in self.ran]
        body = record(self.sync, results, self.revision, started, now, "succeeded" if succeeded else "failed",
                      self.record_namespace)
        try:
            try:
                self.cluster.put(CONFIGMAPS, body)
            except errors.ClusterNotFound:
                self.cluster.create(CONFIGMAPS, body)
        except errors.KubesyncError as e:
            log.warning("the hooks' run record %s/%s could not be written: %s", self.record_namespace,
                        record_name(self.sync), e)
