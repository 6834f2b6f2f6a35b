"""One SyncWorker per sync: its state and its run (read, plan, apply), on a thread of the daemon's
work queue (daemon/queue.py) whenever a trigger or a timer queues it.

A run is "never worse than before": a source that cannot be read (git unreachable, invalid YAML,
empty) fails the run before anything is planned, so nothing is applied or pruned; the error is
reported (log, metrics, alert) and retried with backoff, while any new trigger retries at once.

Drift: when the plan has changes but the source has not moved since the cluster last matched it,
the changes are drift. With self-heal they are reverted; without, they are reported (log line per
newly drifted object, kubesync_drifted_objects) until the source moves. Only the leader applies;
a follower plans and reports. With shards, a replica runs only the syncs of the shards it holds.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, replace
from typing import Callable

from kubesync import errors
from kubesync.daemon.connections import ErrorCounter
from kubesync.daemon.history import DriftEvent, History, Run, last_manager
from kubesync.config import SyncConfig
from kubesync.daemon.settings import DaemonSettings
from kubesync.cluster.cache import SyncView
from kubesync.daemon.queue import WorkQueue
from kubesync.daemon.triggers import GitPoller, Triggers
from kubesync.health import assess
from kubesync.model import DesiredState, KubeObject, ObjectRef, Result, RunResult, SyncState
from kubesync.secrets import redact

from kubesync.sync import Pipeline, Planned, raise_for_failures
from kubesync.vocab import short_revision

log = logging.getLogger(__name__)

# A sync whose last run converged and which no trigger touched since is not re-planned on its timer,
# except every this many resyncs: the watch cache already shows every change to what it manages.
FULL_EVERY = 10


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
    """One sync's state and its run; the daemon's work queue decides when it runs and on which thread."""

    def __init__(self, sync: SyncConfig, settings: DaemonSettings, connections, metrics, notifier, leader,
                 stop: threading.Event, queue: WorkQueue | None = None, triggers: Triggers | None = None,
                 pipeline: Callable[[object], Pipeline] | None = None, load: Callable[..., DesiredState] | None = None,
                 revision: Callable[..., str] | None = None):
        self.sync = sync
        self.pipeline = pipeline or self._pipeline  # cluster -> the facade (tests inject a stand-in)
        self.load = load  # SourceSpec -> DesiredState; None for kubesync.sources.load
        self.revision = revision  # SourceSpec -> its revision now; None for kubesync.sources.current_revision
        self.settings = settings
        self.connections = connections
        self.metrics = metrics
        self.notifier = notifier
        self.leader = leader  # is_leader(): may this replica write this sync now
        self.stop = stop
        self.queue = queue or WorkQueue(settings.settle)
        self.triggers = triggers
        self.abort = threading.Event()  # stops a running apply after its current wave
        self.running = threading.Event()  # set while a run is in progress (draining waits for it)
        self._events_lock = threading.Lock()
        self._seen_while_running: list[KubeObject] = []  # changes the watch showed during the run
        self.log = SyncLog(log, {"sync": sync.name})
        self.status = SyncStatus()
        self.history = History()  # what the dashboard shows: runs, the last plan, drift events
        self._actions: tuple[tuple[str, int], ...] = ()
        self._reasons: set[str] = set()
        self._quiet = 0  # resyncs in a row that found nothing moved (and skipped the plan)
        self.converged: str | None = None  # the revision the cluster was last seen to match
        self.failures = 0
        self._drifted: set[str] = set()
        self._conflicts: set[str] = set()
        self._standby: tuple = ()
        self._counting = None  # (cluster, its counting wrapper): one per connection
        self._view: SyncView | None = None  # this sync's reads of the shared watch cache
        self.poller: GitPoller | None = None
        metrics.register_sync(sync.name)

    # -- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> "SyncWorker":
        """Register the source's triggers and queue the first run."""
        if self.triggers is not None:
            self.poller = self.triggers.add(self.sync.name, self.sync.source, self.sync.interval, self.wake,
                                            loaded=lambda: self.status.revision or None)
        self.queue.add(self.sync.name, "startup", after=0.0)
        return self

    def wake(self, reason: str) -> None:
        """Queue a run: file changes wait for the folder to be quiet, other triggers only settle."""
        if not self.stop.is_set():
            self.queue.add(self.sync.name, reason, after=self.settings.debounce if reason == "file" else None)

    def trigger(self, reason: str) -> None:
        """An immediate run: `webhook` and `refresh` poll a git source first; `manual` ("Sync now")
        also reverts drift when self-heal is off."""
        if self.poller is not None and reason in ("webhook", "refresh"):
            self.poller.poke(self.sync.name)
        else:
            self.wake(reason)

    def interrupt(self) -> None:
        """Stop after the current write wave (shutdown, or the leadership was lost)."""
        self.abort.set()

    @property
    def next_run(self) -> float:
        """Unix time of the next queued run (0 when none is queued), for the dashboard."""
        due = self.queue.pending(self.sync.name)
        return 0.0 if due is None else time.time() + max(0.0, due - time.monotonic())

    # -- the loop ----------------------------------------------------------------------------------------

    def run(self, reasons: set[str]) -> float:
        """One run on a queue worker's thread; seconds until the next periodic run (or retry)."""
        reasons = set(reasons) - {"stop"} or {"resync"}
        for reason in sorted(reasons):
            self.metrics.triggers.labels(self.sync.name, reason).inc()
        with self._events_lock:
            self.running.set()
        try:
            ok = self.run_once(reasons)
        finally:
            with self._events_lock:
                self.running.clear()
                seen, self._seen_while_running = self._seen_while_running, []
            if any(not self._is_mine(obj) for obj in seen):
                self.wake("watch")  # someone else changed an object while we ran
        if ok:
            return self.sync.resync
        return self._retry_wait()

    def _retry_wait(self) -> float:
        """Seconds before retrying after `failures` failed runs in a row (the last backoff repeats)."""
        backoff = self.settings.retry_backoff
        return backoff[min(self.failures, len(backoff)) - 1]

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
        wait = self._retry_wait()
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

    def spec(self) -> SyncConfig:
        return self.sync

    def _cluster(self):
        """This sync's view of its context's connection: API errors counted for it, writes noted so
        the next read of the shared cache waits for the watch to show them."""
        def count(e: errors.ClusterError) -> None:
            self.metrics.api_errors.labels(self.sync.name, type(e).__name__).inc()

        try:
            cluster = self.connections.get(self.sync.context)
        except errors.ClusterError as e:
            count(e)
            raise
        if self._counting is None or self._counting[0] is not cluster:
            cache = self.connections.cache(self.sync.context)
            counting = cluster.scoped(ErrorCounter(count, on_written=lambda answer: self._view and self._view.wrote(answer)))
            self._view = SyncView(cache, self.sync.name, counting) if cache is not None else None
            if cache is not None:
                cache.subscribe(self.sync.name, self._on_event)
            self._counting = (cluster, counting)
        return self._counting[1]

    def _pipeline(self, cluster) -> Pipeline:
        """The facade on the shared discovery of the sync's context and this sync's cache view."""
        discovery = self.connections.discovery(self.sync.context).view(cluster)
        return Pipeline(cluster, discovery, reader=self._view)

    def _owned(self) -> bool:
        """In sharded mode a replica runs only the syncs of its shards; the others are not even planned.
        (A follower of a single leader still plans every sync and reports what the leader would do.)"""
        return self.settings.shards is None or self.leader.owns(self.sync.name)

    def _may_write(self) -> bool:
        """The leader (single-leader mode) or the holder of the sync's shard, renewed recently enough."""
        return self.leader.owns(self.sync.name)

    def _nothing_moved(self) -> bool:
        """A timer-only run that cannot find anything: the last run converged (Synced), no watch event,
        file change or git move came since (each would have queued the sync with its own reason), and
        the source is still at the converged revision. After FULL_EVERY such resyncs the next one plans."""
        if self._reasons != {"resync"} or self.status.state is not SyncState.SYNCED or self.converged is None:
            return False
        if self._quiet >= FULL_EVERY:
            return False
        from kubesync.sources import current_revision

        try:
            revision = self.poller.seen if self.poller is not None else (self.revision or current_revision)(self.sync.source)
        except errors.KubesyncError:
            return False  # the full run reports it
        return revision == self.converged

    def _sync(self) -> RunResult:
        if not self._owned():
            self.status = replace(self.status, state=SyncState.STANDBY, error="")
            return RunResult.STANDBY
        if self._nothing_moved():
            self._quiet += 1
            self.metrics.success(self.sync.name, self.converged, time.time())
            return RunResult.SUCCESS
        self._quiet = 0
        if self.triggers is not None and self.poller is None:
            self.triggers.watch_files()  # a folder that did not exist at start may exist now
        desired = self._load()
        pipe = self.pipeline(self._cluster())
        spec = self.spec()
        planned = pipe.plan(desired, spec)
        plan = planned.plan
        self.history.planned = planned
        self._actions = tuple((k, n) for k, n in plan.counts().items() if n and k != "noop")
        self._report_conflicts(plan)
        changes = plan.changes
        moved = desired.revision != self.converged
        drift = [] if moved else list(changes)
        self._report_drift(drift, desired.revision)

        if not changes:
            self.converged = desired.revision
            self._succeeded(desired, SyncState.SYNCED)
            return RunResult.SUCCESS
        if not self._may_write():
            seen = (desired.revision, len(changes))
            if seen != self._standby:  # once per state, not on every watch event
                self.log.info("standby: %d change(s) planned at %s; only the leader applies", len(changes), short(desired.revision))
            self._standby = seen
            self.status = replace(self.status, state=SyncState.STANDBY, error="")
            return RunResult.STANDBY
        if drift and not (self.sync.self_heal or "manual" in self._reasons):
            self.status = replace(self.status, state=SyncState.DRIFTED, revision=desired.revision, error="")
            return RunResult.SUCCESS
        return self._apply(pipe, planned, spec, desired, drift)

    def _apply(self, pipe: Pipeline, planned: Planned, spec: SyncConfig, desired: DesiredState, drift: list) -> RunResult:
        self.abort.clear()
        if self.stop.is_set() or not self._may_write():
            return RunResult.STANDBY
        plan = planned.plan
        what = "reverting drift" if drift else f"applying {short(desired.revision)}"
        self.log.info("%s: %s", what, ", ".join(f"{n} {k}" for k, n in plan.counts().items() if n and k != "noop"))
        report = pipe.apply(planned, self.settings.apply, progress=self._progress, stop=self.abort)
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

    def _on_event(self, kind: str, obj: KubeObject, changed: bool) -> None:
        """Health comes from here only: the watch delivers each object's versions in order, where a
        run's copies may be older than what the watch already showed."""
        ref = ObjectRef.of(obj)
        if kind == "DELETED":
            self.notifier.object_gone(self.sync.name, str(ref))
        else:
            self.notifier.object_health(self.sync.name, str(ref), assess(obj))
        self.metrics.degraded.labels(self.sync.name).set(self.notifier.degraded(self.sync.name))
        if not changed or self.stop.is_set():
            return
        with self._events_lock:
            if self.running.is_set():  # our own write's answer may not be back yet: decide after the run
                self._seen_while_running.append(obj)
                return
        if not self._is_mine(obj):
            self.log.debug("%s %s in the cluster", ref, kind.lower())
            self.wake("watch")

    def _is_mine(self, obj: KubeObject) -> bool:
        """The event shows the version our own write produced: no need to run again for it."""
        return self._view is not None and self._view.is_mine(obj)
