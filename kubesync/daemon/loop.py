"""One SyncWorker per sync: the glue between the daemon's machinery and that sync's runs.

It wires the sync to its triggers (file, git: triggers.py) and to the work queue (queue.py), listens
to the shared watch cache for the objects the sync manages (their health; a change by someone else
queues a run), and on a queue worker's thread calls `run_sync` (reactor.py, which decides) and hands
its events to the sync's `Reporter` (reporter.py, which logs, counts, alerts and keeps the history).
The sync's state is one frozen record (state.py), replaced after each run; the dashboard and
/api/v1 read it from the HTTP thread.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from typing import Callable

from kubesync import errors
from kubesync.cluster.cache import SyncView
from kubesync.config import SyncConfig
from kubesync.daemon.connections import ErrorCounter
from kubesync.daemon.events import ApiError, ClusterChanged, Event, HealthSeen
from kubesync.daemon.history import History
from kubesync.daemon.queue import WorkQueue
from kubesync.daemon.reactor import Facade, run_sync
from kubesync.daemon.reporter import Reporter
from kubesync.daemon.settings import DaemonSettings
from kubesync.daemon.state import SyncStatus, retry_wait
from kubesync.daemon.triggers import GitPoller, Triggers
from kubesync.health import assess
from kubesync.model import CommitInfo, DesiredState, KubeObject, ObjectRef, RunResult
from kubesync.sync import Pipeline, load_for

__all__ = ["OnFirstUse", "SyncWorker"]

log = logging.getLogger(__name__)


class OnFirstUse:
    """The facade one run gets, opened at its first plan: the source is read before the sync's
    connection is (a broken source fails as such under a broken context too), and a run that stands
    by or skips its plan opens nothing."""

    def __init__(self, open_pipeline: Callable[[], Facade]):
        self._open = open_pipeline
        self._pipeline: Facade | None = None

    def _get(self) -> Facade:
        if self._pipeline is None:
            self._pipeline = self._open()
        return self._pipeline

    def plan(self, desired, config):
        return self._get().plan(desired, config)

    def apply(self, planned, settings, progress=None, stop=None):
        return self._get().apply(planned, settings, progress=progress, stop=stop)

    def load(self, config, *, fetch: bool = True, keys=None) -> DesiredState:
        """The sync's source, read before anything is opened: the facade (and so the connection) only
        when a Helm chart asks for the cluster's versions."""
        return load_for(self, config, fetch=fetch, keys=keys)

    @property
    def cluster(self):
        return self._get().cluster

    @property
    def discovery(self):
        return self._get().discovery


class SyncWorker:
    """One sync's triggers, watch subscription and state; the daemon's work queue decides when it runs
    and on which thread."""

    def __init__(self, sync: SyncConfig, settings: DaemonSettings, connections, metrics, notifier, leader,
                 stop: threading.Event, queue: WorkQueue | None = None, triggers: Triggers | None = None,
                 pipeline: Callable[[object], Facade] | None = None, load: Callable[..., DesiredState] | None = None,
                 revision: Callable[..., str] | None = None):
        self.sync = sync
        self.settings = settings
        self.connections = connections  # also read by the dashboard (web/pods.py)
        self.leader = leader  # owns(sync): may this replica write this sync now
        self.stop = stop
        self.queue = queue or WorkQueue(settings.settle)
        self.triggers = triggers
        self.pipeline = pipeline or self._pipeline  # cluster -> the facade (tests inject a stand-in)
        self.load = load  # SourceSpec -> DesiredState; None for kubesync.sources.load
        self.revision = revision  # SourceSpec -> its revision now; None for kubesync.sources.current_revision
        self.status = SyncStatus()
        self.history = History()  # what the dashboard shows: runs, the last plan, drift events
        self.reporter = Reporter(sync.name, metrics, notifier, self.history)
        self.abort = threading.Event()  # stops a running apply after its current wave
        self.running = threading.Event()  # set while a run is in progress (draining waits for it)
        self._events_lock = threading.Lock()
        self._seen_while_running: list[KubeObject] = []  # changes the watch showed during the run
        self._claimed: tuple[object, frozenset] = (None, frozenset())  # (the plan, the keys it claims)
        self._counting = None  # (cluster, this sync's scoped view of it): one per connection
        self._view: SyncView | None = None  # this sync's reads of the shared watch cache
        self.poller: GitPoller | None = None
        self._commit: CommitInfo | None = None  # the last revision described (a git source's subject, author)

    # -- triggers ----------------------------------------------------------------------------------------

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

    # -- runs --------------------------------------------------------------------------------------------

    def run(self, reasons: set[str]) -> float:
        """One run on a queue worker's thread; seconds until the next periodic run (or retry)."""
        reasons = set(reasons) - {"stop"} or {"resync"}
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
        return self.sync.resync if ok else retry_wait(self.settings.retry_backoff, self.status.failures)

    def run_once(self, reasons: set[str]) -> bool:
        """One read-plan-apply; True unless it failed. Never raises."""
        name = self.sync.name
        pipeline = OnFirstUse(lambda: self.pipeline(self._cluster()))
        result, status, events = run_sync(
            self.sync, pipeline, self.status, time,
            reasons=reasons, load=lambda: self._load(pipeline), revision=self._revision_now, abort=self.abort, settings=self.settings,
            owned=self.settings.shards is None or self.leader.owns(name),  # a follower of one leader still plans
            may_write=lambda: self.leader.owns(name), stop=self.stop, emit=self.reporter.report, describe=self._describe)
        self._publish(status, events)
        return result is not RunResult.ERROR

    def _publish(self, status: SyncStatus, events: tuple[Event, ...]) -> None:
        """The outcome first, then its announcements (alerts, metrics, the run in the history), then
        the run count: whoever sees a run's metric finds its state, and whoever sees the count
        (the dashboard: every sync has run) finds its metrics and history."""
        self.status = replace(status, runs=self.status.runs)
        self.reporter.closing(events)
        self.status = status

    def _load(self, pipeline: "OnFirstUse | None" = None) -> DesiredState:
        """The source as a run reads it: a git source as its poller fetched it last (a failed poll is the
        run's error); a folder is watched again first (it may not have existed at start). A Helm chart
        renders for this sync and its cluster's versions (asked through `pipeline` only if a chart renders),
        once per digest (sources/rendercache.py)."""
        from kubesync import sources

        if self.triggers is not None and self.poller is None:
            self.triggers.watch_files()
        if self.poller is not None and self.poller.error:
            raise errors.SourceError(self.poller.error)
        keys = self._keys()
        if self.load is None and pipeline is not None:
            return pipeline.load(self.sync, fetch=self.poller is None, keys=keys)
        load = self.load or sources.load
        return load(self.sync.source, fetch=False, keys=keys) if self.poller is not None else load(self.sync.source, keys=keys)

    def _keys(self):
        """The age keys of the sync's SOPS-encrypted Secrets: key files are read once and again only when
        replaced (sources/keys.py); a decryption Secret is read at each run that loads the source."""
        from kubesync.model import SECRETS
        from kubesync.sync import decryption_keys

        def read_secret(namespace: str, name: str):
            return self._cluster().get(SECRETS, namespace, name)

        return decryption_keys(self.sync, read_secret if self.sync.decryption.secret_ref else None)

    def _describe(self, revision: str) -> CommitInfo | None:
        """The commit behind the revision a run tries (the last one remembered: a retry asks again)."""
        from kubesync import sources

        if self._commit is None or self._commit.sha != revision:
            try:
                self._commit = sources.describe_revision(self.sync.source, revision)
            except Exception as e:  # gitpython's own errors too: the subject is for people, never a failure
                log.debug("[%s] cannot describe %s: %s", self.sync.name, revision[:12], errors.cut(str(e)))
                return None
        return self._commit

    def _revision_now(self) -> str:
        from kubesync.sources import current_revision

        if self.poller is not None:
            return self.poller.seen
        return (self.revision or current_revision)(self.sync.source)

    # -- the connection and the watch -------------------------------------------------------------------

    def _cluster(self):
        """This sync's view of its context's connection: API errors counted for it, writes noted so
        the next read of the shared cache waits for the watch to show them."""
        def count(e: errors.ClusterError) -> None:
            self.reporter.report(ApiError(type(e).__name__))

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

    def _on_event(self, kind: str, obj: KubeObject, changed: bool) -> None:
        """Health comes from here only: the watch delivers each object's versions in order, where a
        run's copies may be older than what the watch already showed."""
        if not self._claims(obj):  # labelled as ours by someone, but not ours: no health, no alert, no run
            return
        ref = str(ObjectRef.of(obj))
        self.reporter.report(HealthSeen(ref, None if kind == "DELETED" else assess(obj)))
        if not changed or self.stop.is_set():
            return
        with self._events_lock:
            if self.running.is_set():  # our own write's answer may not be back yet: decide after the run
                self._seen_while_running.append(obj)
                return
        if not self._is_mine(obj):
            self.reporter.report(ClusterChanged(ref, kind))
            self.wake("watch")

    def _claims(self, obj: KubeObject) -> bool:
        """Whether the sync claims the object: it is desired by, or in the inventory of, its last plan. A label
        anyone can set claims nothing (before the first plan, every event counts: it cannot tell yet)."""
        planned = self.history.planned
        if planned is None:
            return True
        if self._claimed[0] is not planned:
            keys = {r.ref.key for r in planned.resolved} | {e.ref.key for e in planned.inventory}
            self._claimed = (planned, frozenset(keys))
        return ObjectRef.of(obj).key in self._claimed[1]

    def _is_mine(self, obj: KubeObject) -> bool:
        """The event shows the version our own write produced: no need to run again for it."""
        return self._view is not None and self._view.is_mine(obj)
