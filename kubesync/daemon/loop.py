"""One SyncWorker per sync: a thread that sleeps until a trigger, then reads, plans and applies.

A run is "never worse than before": a source that cannot be read (git unreachable, invalid YAML,
empty) fails the run before anything is planned, so nothing is applied or pruned; the error is
reported (log, metrics, alert) and retried with backoff, while any new trigger retries at once.

Drift: when the plan has changes but the source has not moved since the cluster last matched it,
the changes are drift. With self-heal they are reverted; without, they are reported (log line per
newly drifted object, kubesync_drifted_objects) until the source moves. Only the leader applies;
a follower plans and reports.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from dataclasses import dataclass, replace
from typing import Callable

from kubesync import errors
from kubesync.daemon.connections import CountingCluster
from kubesync.daemon.history import DriftEvent, History, Run, last_manager
from kubesync.config import SyncConfig
from kubesync.daemon.settings import DaemonSettings
from kubesync.daemon.triggers import DirectoryWatcher, GitPoller, Wakeup
from kubesync.daemon.watch import ClusterWatcher
from kubesync.health import assess
from kubesync.model import DesiredState, KubeObject, ObjectRef, Result, RunResult, SyncState
from kubesync.render.mask import redact
from kubesync.sync import Pipeline, Planned, SyncSpec, raise_for_failures, selector
from kubesync.vocab import short_revision
from kubesync.validate import unattended

log = logging.getLogger(__name__)


def one_line(text: str) -> str:
    """Log records are one line each: multi-line errors (a list of manifest problems) are joined."""
    text = re.sub(r":[ \t]*\n\s*", ": ", str(text).strip())
    return "; ".join(part.strip() for part in text.splitlines() if part.strip())


def short(revision: str) -> str:
    """A git sha or a `sha256:` content hash, cut to what people compare."""
    return short_revision(revision, 12)


class SyncLog(logging.LoggerAdapter):
    """Prefixes `[sync]` and carries `sync` for the JSON formatter."""

    def process(self, msg, kwargs):
        kwargs.setdefault("extra", {}).update(self.extra)
        return f"[{self.extra['sync']}] {msg}", kwargs


@dataclass(frozen=True)
class SyncStatus:
    """What /readyz reports about one sync."""

    state: SyncState = SyncState.STARTING
    revision: str = ""  # the revision the cluster last matched
    error: str = ""
    runs: int = 0


class SyncWorker:
    def __init__(self, sync: SyncConfig, settings: DaemonSettings, connections, metrics, notifier, leader,
                 stop: threading.Event, pipeline: Callable[[object], Pipeline] = Pipeline,
                 load: Callable[..., DesiredState] | None = None):
        self.sync = sync
        self.pipeline = pipeline  # cluster -> the facade (tests inject a stand-in)
        self.load = load  # SourceSpec -> DesiredState; None for kubesync.sources.load
        self.settings = settings
        self.connections = connections
        self.metrics = metrics
        self.notifier = notifier
        self.leader = leader
        self.stop = stop
        self.abort = threading.Event()  # stops a running apply after its current wave
        self.wakeup = Wakeup()
        self.log = SyncLog(log, {"sync": sync.name})
        self.status = SyncStatus()
        self.history = History()  # what the dashboard shows: runs, the last plan, drift events
        self._actions: tuple[tuple[str, int], ...] = ()
        self._reasons: set[str] = set()
        self.converged: str | None = None  # the revision the cluster was last seen to match
        self.failures = 0
        self._drifted: set[str] = set()
        self._conflicts: set[str] = set()
        self._standby: tuple = ()
        self._counting = None  # (cluster, its counting wrapper): one per connection, so watches survive runs
        self.watcher = ClusterWatcher(sync.name, selector(sync.name), self._on_event, settings.watch_timeout)
        self.poller: GitPoller | None = None
        self.files: DirectoryWatcher | None = None
        self.thread = threading.Thread(target=self._run, name=f"sync-{sync.name}", daemon=True)
        metrics.register_sync(sync.name)

    # -- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> "SyncWorker":
        src = self.sync.source
        if src.repo:
            self.poller = GitPoller(src, self.sync.interval, self.wakeup, self.stop, self.sync.name,
                                    loaded=lambda: self.status.revision or None).start()
        else:
            self._watch_files()
        self.thread.start()
        return self

    def _watch_files(self) -> None:
        """Start the folder watcher (again after a failure: the folder may appear later)."""
        src = self.sync.source
        if not src.path or self.files is not None:
            return
        try:
            self.files = DirectoryWatcher(os.path.abspath(src.path), self.wakeup, self.settings.debounce, self.sync.name).start()
        except OSError as e:  # a missing folder: the run reports it; the next run tries again
            self.log.debug("cannot watch %s yet: %s", src.path, e)

    def trigger(self, reason: str) -> None:
        """An immediate run: `webhook` and `refresh` poll a git source first; `manual` ("Sync now")
        also reverts drift when self-heal is off."""
        if self.poller is not None and reason in ("webhook", "refresh"):
            self.poller.poke()
        else:
            self.wakeup.wake(reason)

    def interrupt(self) -> None:
        """Stop after the current write wave (shutdown, or the leadership was lost)."""
        self.abort.set()
        self.wakeup.wake("stop")

    def close(self) -> None:
        for part in (self.files, self.poller, self.watcher):
            if part is not None:
                part.stop()

    # -- the loop ----------------------------------------------------------------------------------------

    def _run(self) -> None:
        reasons = {"startup"}
        while not self.stop.is_set():
            for reason in sorted(reasons):
                self.metrics.triggers.labels(self.sync.name, reason).inc()
            ok = self.run_once(reasons)
            if self.stop.is_set():
                break
            if ok:
                wait = self.sync.resync
            else:
                backoff = self.settings.retry_backoff
                wait = backoff[min(self.failures, len(backoff)) - 1]
            self.history.next_run = time.time() + wait
            reasons = self.wakeup.wait(wait) or {"resync" if ok else "retry"}
            self.history.next_run = 0.0
            if self.stop.is_set():
                break
            reasons |= self.wakeup.gather(self.settings.settle)
            reasons.discard("stop")
        self.log.debug("worker stopped")

    def run_once(self, reasons: set[str]) -> bool:
        """One read-plan-apply; True unless it failed. Never raises."""
        started, started_at = time.monotonic(), time.time()
        self.log.debug("run (%s)", ", ".join(sorted(reasons)))
        error, self._actions, self._reasons = "", (), set(reasons)
        try:
            result = self._sync()
        except errors.KubesyncError as e:
            result, error = RunResult.ERROR, type(e).__name__
            self._failed(one_line(str(e)))
        except Exception as e:  # a bug must not kill the worker: report it like any failure
            self.log.exception("unexpected error")
            result, error = RunResult.ERROR, type(e).__name__
            self._failed(f"unexpected {type(e).__name__}: {errors.cut(str(e))}")
        self.metrics.run(self.sync.name, result, time.monotonic() - started, error)
        self.history.record(Run(started_at, time.monotonic() - started, tuple(sorted(reasons)), result, self._actions,
                                self.status.revision, self.status.error if error else "", error))
        if result is not RunResult.ERROR:
            self.failures = 0
        self.status = replace(self.status, runs=self.status.runs + 1)
        return result is not RunResult.ERROR

    def _failed(self, message: str) -> None:
        self.failures += 1
        backoff = self.settings.retry_backoff
        wait = backoff[min(self.failures, len(backoff)) - 1]
        self.log.error("sync failed; nothing more applied, retrying in %gs: %s", wait, message)
        self.status = replace(self.status, state=SyncState.FAILED, error=errors.cut(redact(message)))
        self.notifier.sync_result(self.sync.name, False, errors.cut(message, 1000), self.status.revision)

    def _succeeded(self, desired: DesiredState, state: SyncState) -> None:
        if self.status.state is SyncState.FAILED:
            self.log.info("syncing again at %s", short(desired.revision))
        self.status = replace(self.status, state=state, revision=desired.revision, error="")
        self.metrics.success(self.sync.name, desired.revision, time.time())
        self.notifier.sync_result(self.sync.name, True, f"synced at {short(desired.revision)}", desired.revision)

    # -- one run -----------------------------------------------------------------------------------------

    def _load(self) -> DesiredState:
        from kubesync import sources

        if self.poller is not None and self.poller.error:
            raise errors.SourceError(self.poller.error)
        load = self.load or sources.load
        desired = load(self.sync.source, fetch=False) if self.poller is not None else load(self.sync.source)
        if not desired.manifests and not self.sync.allow_empty:
            raise errors.SourceError(
                f"{desired.source} holds no objects; treated as an error so nothing is applied or pruned "
                "(allow it with --allow-empty)"
            )
        return desired

    def spec(self) -> SyncSpec:
        return SyncSpec.of(self.sync)

    def _cluster(self):
        def count(e: errors.ClusterError) -> None:
            self.metrics.api_errors.labels(self.sync.name, type(e).__name__).inc()

        try:
            cluster = self.connections.get(self.sync.context)
        except errors.ClusterError as e:
            count(e)
            raise
        if self._counting is None or self._counting[0] is not cluster:
            self._counting = (cluster, CountingCluster(cluster, count))
        return self._counting[1]

    def _sync(self) -> RunResult:
        if self.thread.is_alive():
            self._watch_files()
        desired = self._load()
        pipe = self.pipeline(self._cluster())  # fresh discovery each run: CRDs come and go
        spec = self.spec()
        planned = pipe.plan(desired, spec)
        plan = planned.plan
        self.history.planned = planned
        self._actions = tuple((k, n) for k, n in plan.counts().items() if n and k != "noop")
        self._watch(pipe, planned)
        self._report_conflicts(plan)
        changes = plan.changes
        moved = desired.revision != self.converged
        drift = [] if moved else list(changes)
        self._report_drift(drift, desired.revision)

        if not changes:
            self.converged = desired.revision
            self._succeeded(desired, SyncState.SYNCED)
            return RunResult.SUCCESS
        if not self.leader.is_leader():
            seen = (desired.revision, len(changes))
            if seen != self._standby:  # once per state, not on every watch event
                self.log.info("standby: %d change(s) planned at %s; only the leader applies", len(changes), short(desired.revision))
            self._standby = seen
            self.status = replace(self.status, state=SyncState.STANDBY, error="")
            return RunResult.STANDBY
        if drift and not (self.sync.self_heal or "manual" in self._reasons):
            self.status = replace(self.status, state=SyncState.DRIFTED, revision=desired.revision, error="")
            return RunResult.SUCCESS

        self.abort.clear()
        if self.stop.is_set() or not self.leader.is_leader():
            return RunResult.STANDBY
        what = "reverting drift" if drift else f"applying {short(desired.revision)}"
        self.log.info("%s: %s", what, ", ".join(f"{n} {k}" for k, n in plan.counts().items() if n and k != "noop"))
        planned.plan, skipped = unattended(planned.plan)  # nobody confirms here: only opted-in replacements run
        for line in skipped:
            self.log.warning("%s", one_line(line))
        report = pipe.apply(planned, spec, self.settings.apply, progress=self._progress, stop=self.abort)
        if self.abort.is_set():
            # Shutdown or a lost leadership cut the apply short: not the source's fault, no alert.
            done = sum(1 for o in report.outcomes if not o.failed)
            self.log.warning("apply interrupted: %d action(s) done, %d abandoned, %d not started; the next leader run continues",
                             done, len(report.failures), len(report.not_started))
            return RunResult.ABORTED
        raise_for_failures(report)
        self.converged = desired.revision
        self._report_drift([], desired.revision)
        self._succeeded(desired, SyncState.SYNCED)
        return RunResult.SUCCESS

    # -- reporting ---------------------------------------------------------------------------------------

    def _progress(self, outcome) -> None:
        self.metrics.objects.labels(self.sync.name, outcome.result).inc()
        if outcome.failed:
            self.log.warning("%s", one_line(outcome.message))
        elif outcome.result is not Result.UNCHANGED:
            extra = f" ({outcome.message})" if outcome.message else ""
            self.log.info("%s %s%s", outcome.result, outcome.action.ref, extra)

    def _report_drift(self, drift, revision: str) -> None:
        now = {str(a.ref) for a in drift}
        for a in drift:
            if str(a.ref) not in self._drifted:
                paths = tuple(dict.fromkeys(op["path"] for op in a.patch))[:10]
                self.history.drifted(DriftEvent(time.time(), str(a.ref), last_manager(a.live), paths))
        for ref in sorted(now - self._drifted):
            how = "reverting (self-heal)" if self.sync.self_heal else "reported only (self-heal is off)"
            self.log.warning("drift: %s differs from revision %s; %s", ref, short(revision), how)
        self._drifted = now
        self.metrics.drifted.labels(self.sync.name).set(len(now))

    def _report_conflicts(self, plan) -> None:
        now = set(plan.conflicts) | set(plan.warnings)
        for line in sorted(now - self._conflicts):
            self.log.warning("%s", one_line(line))
        self._conflicts = now

    def _watch(self, pipe: Pipeline, planned: Planned) -> None:
        watch = pipe.watch_set(planned)
        self.watcher.ensure(pipe.cluster, watch.rtypes, set(watch.namespaces))

    def _on_event(self, kind: str, obj: KubeObject, changed: bool) -> None:
        """Health comes from here only: the watch delivers each object's versions in order, where a
        run's copies may be older than what the watch already showed."""
        ref = ObjectRef.of(obj)
        if kind == "DELETED":
            self.notifier.object_gone(self.sync.name, str(ref))
        else:
            self.notifier.object_health(self.sync.name, str(ref), assess(obj))
        self.metrics.degraded.labels(self.sync.name).set(self.notifier.degraded(self.sync.name))
        if changed and not self.stop.is_set():
            self.log.debug("%s %s in the cluster", ref, kind.lower())
            self.wakeup.wake("watch")
