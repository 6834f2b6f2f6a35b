"""The daemon process: wires the work queue, triggers, watches, leader election, alerts and HTTP;
stops on a signal.

Threads do not grow with the number of syncs: `--workers` queue workers run the syncs (each a key
of daemon/queue.py), one watch per resource type and context (cluster/cache.py), one watchdog
observer, one git poller per repository and ref, the leader elector, the alert sender and the HTTP
server. The main thread only waits for SIGTERM/SIGINT, then shuts down in order: running applies
stop after their current wave, workers are joined, the Lease is released, queued alerts are sent,
and the exit status is 0.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import threading
import time

from kubesync import __version__, errors
from kubesync.cluster.client import add_request_hook
from kubesync.daemon.connections import Connections, ErrorCounter
from kubesync.daemon.http import StatusServer, parse_listen
from kubesync.daemon.election.leader import AlwaysLeader, LeaderElector
from kubesync.daemon.loop import SyncWorker
from kubesync.daemon.metrics import Metrics
from kubesync.daemon.notify import Notifier
from kubesync.daemon.queue import WorkQueue
from kubesync.daemon.settings import DaemonSettings
from kubesync.daemon.election.shards import ShardElector
from kubesync.daemon.triggers import Triggers
from kubesync.daemon.web.app import Hooks, build_app, probe_app
from kubesync.daemon.web.auth import is_loopback
from kubesync.model import SyncState

log = logging.getLogger(__name__)


class Daemon:
    def __init__(self, settings: DaemonSettings, connections: Connections | None = None):
        self.settings = settings
        self.stop = threading.Event()
        self.metrics = Metrics()
        self.connections = connections or Connections(settings.kubeconfig, settings.context, settings=settings.client,
                                                         overrides=settings.impersonate, watch_timeout=settings.watch_timeout,
                                                         syncs=[s.name for s in settings.syncs])
        self._probed = 0.0  # the last probe of an unreachable API server (see _retry_when_the_api_is_back)
        self.leader = self._elector()
        self.notifier = Notifier(settings.alerts, may_send=self._may_send,
                                 on_result=lambda result: self.metrics.alerts.labels(result).inc())
        self.queue = WorkQueue(settings.settle, max_delay=settings.max_delay, min_interval=settings.min_interval)
        self.triggers = Triggers(self.stop)
        self.workers = {
            s.name: SyncWorker(s, settings, self.connections, self.metrics, self.notifier, self.leader, self.stop,
                               self.queue, self.triggers)
            for s in settings.syncs
        }
        self.pool = [threading.Thread(target=self._work, name=f"worker-{i}", daemon=True)
                     for i in range(max(1, min(settings.workers, len(self.workers))))]
        hooks = Hooks(health=self.health, ready=self.ready, metrics=self._metrics, trigger=self.trigger,
                      syncs=self.workers.keys, workers=lambda: list(self.workers.values()), act=self.act,
                      election=self.election)
        host = parse_listen(settings.listen)[0]
        app = build_app(hooks, settings.http, settings.receiver, settings.ui, is_loopback(host), listen_host=host)
        self.server = StatusServer(settings.listen, app, settings.http)
        self.probes = StatusServer(settings.probe_listen, probe_app(hooks), settings.http, probes=True) if settings.probe_listen else None

    def _elector(self):
        if self.settings.shards is None and not self.settings.lease.enabled:
            self.metrics.leader.set(1)
            return AlwaysLeader()

        def count(e) -> None:
            self.metrics.api_errors.labels("leader-election", type(e).__name__).inc()

        cluster = self.connections.dedicated(None).scoped(ErrorCounter(count))
        if self.settings.shards is not None:
            return ShardElector(cluster, self.settings.shards, on_change=self._shards, drain=self._drain)
        return LeaderElector(cluster, self.settings.lease, on_change=self._leadership)

    def _in_shards(self, shards: frozenset[int]) -> list[SyncWorker]:
        return [w for name, w in self.workers.items() if self.leader.shard_of(name) in shards]

    def _shards(self, owned: frozenset[int]) -> None:
        """Syncs of shards just taken run now; those of shards lost stop writing after their wave."""
        self.metrics.shards_owned.set(len(owned))
        self.metrics.leader.set(1 if owned else 0)
        for name, w in self.workers.items():
            if self.leader.shard_of(name) in owned:
                if w.status.state in (SyncState.STARTING, SyncState.STANDBY) or w.status.runs == 0:
                    w.wake("leader")
            else:
                w.abort.set()

    def _drain(self, shard: int) -> None:
        """Before a shard's Lease is released: its running syncs finish their write wave first."""
        deadline = time.monotonic() + self.settings.shutdown_timeout
        for w in self._in_shards(frozenset({shard})):
            w.abort.set()
            while w.running.is_set() and time.monotonic() < deadline:
                time.sleep(0.05)

    # -- the queue's workers ----------------------------------------------------------------------------

    def _work(self) -> None:
        """Take the next due sync, run it, schedule its next periodic run (or retry); until shutdown."""
        while True:
            item = self.queue.get()
            if item is None:
                return
            name, reasons = item
            worker = self.workers[name]
            wait = self.settings.retry_backoff[-1]
            try:
                wait = worker.run(reasons)
            except Exception:  # run() reports failures itself; this is a bug, and the worker must live on
                log.exception("[%s] run failed unexpectedly", name)
            finally:
                if not self.stop.is_set():
                    timer = "resync" if worker.status.failures == 0 else "retry"
                    # Jitter: syncs started together must not all resync in the same second forever.
                    self.queue.schedule(name, timer, wait * random.uniform(0.9, 1.1) if timer == "resync" else wait)
                self.queue.done(name)

    def _metrics(self) -> bytes:
        self.metrics.lease_conflicts.set(len(self.leader.report()["conflicts"]))
        caches = self.connections.caches()
        self.metrics.runtime(self.queue.depth(), self.queue.running(), [c.watches() for c in caches],
                             sum(c.objects() for c in caches))
        return self.metrics.render()

    def _may_send(self, sync: str) -> bool:
        return self.leader.owns(sync) if sync else self.leader.is_leader()

    # -- callbacks ---------------------------------------------------------------------------------------

    def _leadership(self, leading: bool) -> None:
        self.metrics.leader.set(1 if leading else 0)
        for w in self.workers.values():
            if leading:
                w.wake("leader")  # apply what followers only planned
            else:
                w.abort.set()  # stop writing after the current wave

    def trigger(self, sync: str) -> bool:
        worker = self.workers.get(sync)
        if worker is None:
            return False
        worker.trigger("webhook")
        return True

    def act(self, sync: str, action: str) -> bool:
        """The dashboard's buttons: `sync` runs now and reverts drift; `refresh` re-reads the source."""
        worker = self.workers.get(sync)
        if worker is None:
            return False
        log.info("dashboard: %s of sync %s requested", action, sync)
        worker.trigger("manual" if action == "sync" else "refresh")
        return True

    def health(self) -> tuple[bool, dict]:
        dead = [t.name for t in self.pool if t.ident is not None and not t.is_alive()]
        ok = self.stop.is_set() or not dead
        return ok, {"ok": ok, "dead_workers": dead}

    def ready(self) -> tuple[bool, dict]:
        """About the process, never about a sync: ready while it serves and is not stopping, once its
        election has settled (it holds its Lease or shards, or knows it follows) and every watch cache
        has done its first LIST. A failing sync never makes a replica unready: one bad commit would take
        every replica out of its Service, and the webhook carrying the fix would never arrive. Sync
        failures are in GET /api/v1/syncs, /metrics (kubesync_sync_failing), the alerts and the log.
        Unauthenticated callers read this: it holds no sync's name or error, only how many syncs cannot decrypt
        their SOPS files (which ones, and the files: GET /api/v1/syncs)."""
        checks = {"running": not self.stop.is_set(), "election": self.leader.settled(),
                  "watches": all(c.synced() for c in self.connections.caches())}
        ok = all(checks.values())
        return ok, {"ready": ok, "checks": checks, "leader": self.leader.is_leader(), "identity": self.leader.identity,
                    "conflicts": self.leader.report()["conflicts"],
                    "cannot_decrypt": sum(1 for w in self.workers.values() if w.status.cannot_decrypt)}

    def election(self) -> dict:
        """Who writes: the election's mode, this replica's part in it, and every Lease conflict (holders.py)."""
        return self.leader.report()

    # -- run and stop ------------------------------------------------------------------------------------

    def _on_signal(self, signum, frame) -> None:
        if self.stop.is_set():
            log.warning("second %s: exiting at once", signal.Signals(signum).name)
            os._exit(1)
        log.info("%s received: shutting down", signal.Signals(signum).name)
        self.stop.set()

    def run(self) -> int:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._on_signal)
            signal.signal(signal.SIGINT, self._on_signal)
        self.metrics.info.info({"identity": self.leader.identity or "-", "version": __version__})
        self._unhook = add_request_hook(lambda method, path, attempt: self.metrics.requests.labels(method).inc())
        self.server.start()
        if self.probes is not None:
            self.probes.start()
        self.notifier.start()
        self.leader.start(self.stop)
        for w in self.workers.values():
            w.start()
        self.triggers.start()
        for t in self.pool:
            t.start()
        shown = ", ".join(list(self.workers)[:20]) + (", ..." if len(self.workers) > 20 else "")
        log.info("daemon started: %d sync(s) on %d worker(s): %s", len(self.workers), len(self.pool), shown)
        while not self.stop.wait(0.5):
            self._retry_when_the_api_is_back()
        return self.shutdown()

    def _retry_when_the_api_is_back(self) -> None:
        """Syncs that failed because the API server was unreachable run as soon as it answers again, not when
        their backoff (up to a minute) ends: one probe per context a second while any such sync waits."""
        now = time.monotonic()
        if now - self._probed < 1.0:
            return
        waiting: dict[str | None, list] = {}
        for w in self.workers.values():
            if w.status.state is SyncState.FAILED and w.status.api_down:
                waiting.setdefault(w.sync.context, []).append(w)
        if not waiting:
            return
        self._probed = now
        for context, workers in waiting.items():
            try:
                back = self.connections.get(context).answers()
            except errors.KubesyncError:
                back = False
            if back:
                log.info("the API server answers again; retrying %d sync(s) now", len(workers))
                for w in workers:
                    w.wake("recovered")

    def shutdown(self) -> int:
        self.stop.set()
        self.queue.close()
        for w in self.workers.values():
            w.interrupt()
        deadline = time.monotonic() + self.settings.shutdown_timeout
        for t in self.pool:
            if t.ident is not None:
                t.join(max(0.0, deadline - time.monotonic()))
        stuck = [name for name, w in self.workers.items() if w.running.is_set()]
        if stuck:
            log.warning("sync(s) %s still running after %gs; abandoned", ", ".join(stuck), self.settings.shutdown_timeout)
        self.triggers.close()
        self.connections.close()
        self.leader.release()
        self.notifier.stop()
        self.server.stop()
        if self.probes is not None:
            self.probes.stop()
        getattr(self, "_unhook", lambda: None)()
        log.info("daemon stopped")
        return 0
