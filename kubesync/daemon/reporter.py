"""Says what one sync's runs and watch saw: each event (daemon/events.py) becomes its log lines, its
Prometheus series (metrics.py), its alerts (notify.py) and the dashboard's history (history.py).

The texts and series are the daemon's interface (people grep the lines, dashboards graph the
series, tests assert both), so each is written in exactly one handler here. Called from the queue
worker running the sync, from the apply's threads (progress) and from the watch's thread (health):
every handler only logs, sets thread-safe series or appends to the locked history.
"""

from __future__ import annotations

import logging
from functools import singledispatchmethod

from kubesync import errors
from kubesync.daemon.events import (ApiError, Applying, Attempting, Closing, ClusterChanged, ConflictSeen, DriftCleared,
                                    DriftSeen, Event, Failed, HealthSeen, HookProgress, Interrupted, ObjectApplied, PlanMade,
                                    RunFinished, RunStarted, StandingBy, StillSynced, Synced, one_line, short)
from kubesync.daemon.history import APPLYING, DONE, History
from kubesync.daemon.metrics import Metrics
from kubesync.daemon.notify import Notifier
from kubesync.model import Result
from kubesync.secrets import redact

PHASE_ENDS = ("succeeded", "failed", "timed out", "interrupted")  # a hook phase's last step: counted by result

# The logger every sync's lines have carried since the daemon had one module (`logger` in JSON logs).
log = logging.getLogger("kubesync.daemon.loop")


class SyncLog(logging.LoggerAdapter):
    """Prefixes `[sync]` and carries `sync` for the JSON formatter."""

    def process(self, msg, kwargs):
        kwargs.setdefault("extra", {}).update(self.extra)
        return f"[{self.extra['sync']}] {msg}", kwargs


class Reporter:
    """One sync's voice: `report(event)` for each event, in the order they happened."""

    def __init__(self, sync: str, metrics: Metrics, notifier: Notifier, history: History):
        self.sync = sync
        self.metrics = metrics
        self.notifier = notifier
        self.history = history
        self.log = SyncLog(log, {"sync": sync})
        metrics.register_sync(sync)

    def closing(self, events) -> None:
        """The `Closing` events of a run whose other events were reported as they happened."""
        for event in events:
            if isinstance(event, Closing):
                self.report(event)

    @singledispatchmethod
    def report(self, event: Event) -> None:
        raise TypeError(f"no handler for {type(event).__name__}: add one to daemon/reporter.py")

    # -- a run ---------------------------------------------------------------------------------------

    @report.register
    def _(self, event: RunStarted) -> None:
        for reason in event.reasons:
            self.metrics.triggers.labels(self.sync, reason).inc()
        self.log.debug("run (%s)", ", ".join(event.reasons))

    @report.register
    def _(self, event: Attempting) -> None:
        self.history.attempting(event.at, event.revision, event.commit, event.read)

    @report.register
    def _(self, event: PlanMade) -> None:
        self.history.planned = event.planned
        self.history.update(planned=event.planned)

    @report.register
    def _(self, event: ConflictSeen) -> None:
        self.log.warning("%s", one_line(event.text))

    @report.register
    def _(self, event: DriftSeen) -> None:
        for drift in event.new:
            self.history.drifted(drift)
        how = "reverting (self-heal)" if event.self_heal else "reported only (self-heal is off)"
        for ref in sorted(d.object for d in event.new):
            self.log.warning("drift: %s differs from revision %s; %s", ref, short(event.revision), how)
        self.metrics.drifted.labels(self.sync).set(event.count)

    @report.register
    def _(self, event: StandingBy) -> None:
        self.log.info("standby: %d change(s) planned at %s; only the leader applies", event.changes, short(event.revision))

    @report.register
    def _(self, event: Applying) -> None:
        what = "reverting drift" if event.reverting else f"applying {short(event.revision)}"
        self.history.update(stage=APPLYING)
        self.log.info("%s: %s", what, ", ".join(f"{n} {k}" for k, n in event.counts))

    @report.register
    def _(self, event: ObjectApplied) -> None:
        outcome = event.outcome
        self.metrics.objects.labels(self.sync, outcome.result).inc()
        self.history.applied(str(outcome.action.ref), outcome.result.value, errors.cut(redact(one_line(outcome.message)), 500))
        if outcome.failed:
            self.log.warning("%s", one_line(outcome.message))
        elif outcome.result is not Result.UNCHANGED:
            extra = f" ({outcome.message})" if outcome.message else ""
            self.log.info("%s %s%s", outcome.result, outcome.action.ref, extra)

    @report.register
    def _(self, event: HookProgress) -> None:
        step = event.step
        self.history.hooked(step)
        if step.event in PHASE_ENDS:
            self.metrics.hook_phases.labels(self.sync, step.phase, step.event).inc()
        if step.event in ("failed", "timed out", "hook failed"):
            self.log.warning("hook %s", one_line(str(step)))
        else:
            self.log.info("hook %s", one_line(str(step)))

    @report.register
    def _(self, event: Interrupted) -> None:
        self.log.warning("apply interrupted: %d action(s) done, %d abandoned, %d not started; the next leader run continues",
                         event.done, event.abandoned, event.not_started)

    @report.register
    def _(self, event: DriftCleared) -> None:
        self.metrics.drifted.labels(self.sync).set(0)

    # -- a run's outcome -----------------------------------------------------------------------------

    @report.register
    def _(self, event: Synced) -> None:
        if event.recovered:
            self.log.info("syncing again at %s", short(event.revision))
        self.metrics.success(self.sync, event.revision, event.at)
        self.notifier.sync_result(self.sync, True, f"synced at {short(event.revision)}", event.revision)

    @report.register
    def _(self, event: StillSynced) -> None:
        self.metrics.success(self.sync, event.revision, event.at)

    @report.register
    def _(self, event: Failed) -> None:
        if event.unexpected is not None:
            self.log.error("unexpected error", exc_info=event.unexpected)
        self.log.error("sync failed; nothing more applied, retrying in %gs: %s", event.retry_in, event.message)
        self.history.update(error=errors.cut(redact(event.message)))
        self.notifier.sync_result(self.sync, False, errors.cut(event.message, 1000), event.revision)

    @report.register
    def _(self, event: RunFinished) -> None:
        run = event.run
        self.metrics.run(self.sync, run.result, run.duration, run.error_type)
        self.history.record(run)
        if not run.error_type:
            self.history.update(stage=DONE)

    # -- between runs --------------------------------------------------------------------------------

    @report.register
    def _(self, event: ApiError) -> None:
        self.metrics.api_errors.labels(self.sync, event.error).inc()

    @report.register
    def _(self, event: HealthSeen) -> None:
        self.history.seen(event.ref, event.health)
        if event.health is None:
            self.notifier.object_gone(self.sync, event.ref)
        else:
            self.notifier.object_health(self.sync, event.ref, event.health)
        self.metrics.degraded.labels(self.sync).set(self.notifier.degraded(self.sync))

    @report.register
    def _(self, event: ClusterChanged) -> None:
        self.log.debug("%s %s in the cluster", event.ref, event.kind.lower())
