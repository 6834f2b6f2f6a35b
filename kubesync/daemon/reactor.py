"""One run of one sync as one function: `run_sync(sync, pipeline, state, clock, ...)` returns the
run's result, the sync's new state (daemon/state.py) and the events it saw (daemon/events.py).

It decides; it does not log, count or alert (reporter.py turns the events into that), and it owns no
thread, queue or connection (loop.py's SyncWorker wires those). Everything it uses is an argument:
the facade (`plan(desired, config)`, `apply(planned, settings, progress, stop)`), the source loader,
the source's revision now, whether this replica may write, the shutdown and abort events, a clock.
The model is kopf's reactor (`_core/reactor/processing.py`): the handling of one cause with its
collaborators passed in and the object's memory handed back.

A run is "never worse than before": a source that cannot be read (git unreachable, invalid YAML,
empty) fails the run before anything is planned, so nothing is applied or pruned; the failure is
retried with backoff, while any new trigger retries at once.

Drift: when the plan has changes but the source has not moved since the cluster last matched it,
the changes are drift. With self-heal they are reverted; without, they are reported until the source
moves (or "Sync now" reverts them once). Only the leader (or the shard's holder) applies; a follower
plans and reports. A timer-only run after convergence skips the plan when nothing moved.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Protocol

from kubesync import errors
from kubesync.apply import ApplyReport, Outcome
from kubesync.daemon.events import (Applying, Attempting, Closing, ConflictSeen, DriftCleared, DriftSeen, Event, Failed,
                                    HookProgress, Interrupted, ObjectApplied, PlanMade, RunFinished, RunStarted, StandingBy,
                                    StillSynced, Synced, one_line)
from kubesync.daemon.history import DriftEvent, Run
from kubesync.daemon.settings import DaemonSettings
from kubesync.daemon.state import SyncStatus, retry_wait
from kubesync.diff.managers import owner_of_paths
from kubesync.model import CommitInfo, DesiredState, Plan, RunResult, SyncState
from kubesync.secrets import redact
from kubesync.settings import SyncConfig
from kubesync.sync import Planned, raise_for_failures

# A sync whose last run converged and which no trigger touched since is not re-planned on its timer,
# except every this many resyncs: the watch cache already shows every change to what it manages.
FULL_EVERY = 10


class Clock(Protocol):
    """Wall time for what people read (run starts, drift events), monotonic time for durations.
    The `time` module is one; tests pass a fake."""

    def time(self) -> float: ...

    def monotonic(self) -> float: ...


class Facade(Protocol):
    """What a run needs of kubesync.sync.Pipeline."""

    def plan(self, desired: DesiredState, config: SyncConfig) -> Planned: ...

    def apply(self, planned: Planned, settings, progress=None, stop: threading.Event | None = None) -> ApplyReport: ...


@dataclass
class _Run:
    """One run in progress: its collaborators, the state so far (a new record at each step), the
    changes it planned and what it told. Local to run_sync: never shared, never outlives the call."""

    sync: SyncConfig
    pipeline: Facade
    clock: Clock
    reasons: frozenset[str]
    load: Callable[[], DesiredState]
    revision: Callable[[], str]
    may_write: Callable[[], bool]
    stop: threading.Event | None
    abort: threading.Event
    settings: DaemonSettings
    state: SyncStatus
    emit: Callable[[Event], None] | None
    describe: Callable[[str], CommitInfo | None]
    actions: tuple[tuple[str, int], ...] = ()
    tried: str = ""
    """The source revision this run read, or tried to ('' until known)."""
    events: list[Event] = field(default_factory=list)

    def update(self, **changes) -> None:
        self.state = replace(self.state, **changes)

    def tell(self, event: Event) -> None:
        """Called from the apply's threads too (progress): a list append and the reporter are thread-safe."""
        self.events.append(event)
        if self.emit is not None and not isinstance(event, Closing):
            self.emit(event)


def run_sync(sync: SyncConfig, pipeline: Facade, state: SyncStatus, clock: Clock = time, *, reasons: Iterable[str],
             load: Callable[[], DesiredState], revision: Callable[[], str], abort: threading.Event,
             settings: DaemonSettings, owned: bool = True, may_write: Callable[[], bool] = lambda: True,
             stop: threading.Event | None = None, emit: Callable[[Event], None] | None = None,
             describe: Callable[[str], CommitInfo | None] = lambda revision: None,
             ) -> tuple[RunResult, SyncStatus, tuple[Event, ...]]:
    """One read-plan-apply of `sync` from `state`; never raises (a failure is a result and an event).

    `load()` reads the source (DesiredState); `revision()` is the source's revision now, without
    reading it (asked only by a resync that may skip the plan); `owned`: this replica runs the sync
    at all (sharded mode); `may_write()`: it may apply now (asked again right before the apply);
    `stop`: the daemon is shutting down; `abort`: cleared before the apply, which stops after its
    current wave once it is set; `settings`: the apply's settings and the retry backoff. `emit`
    hears every event but the `Closing` ones as it happens (the log of a long apply is live); the
    returned events are all of them, in order. `describe(revision)`: the commit behind a revision
    (subject, author), for the dashboard's current attempt; None for a folder."""
    run = _Run(sync, pipeline, clock, frozenset(reasons), load, revision, may_write, stop, abort,
               settings, state, emit, describe)
    started, ticks = clock.time(), clock.monotonic()
    triggers = tuple(sorted(run.reasons))
    run.tell(RunStarted(triggers))
    error = ""
    try:
        result = _decide(run, owned)
    except errors.KubesyncError as e:
        result, error = RunResult.ERROR, type(e).__name__
        down = isinstance(e, (errors.ClusterUnreachable, errors.ClusterTransient)) or "cannot reach " in str(e)
        _fail(run, one_line(str(e)), files=e.files if isinstance(e, errors.DecryptionError) else (), api_down=down)
    except Exception as e:  # a bug must not kill the worker: report it like any failure
        result, error = RunResult.ERROR, type(e).__name__
        _fail(run, f"unexpected {type(e).__name__}: {errors.cut(str(e))}", unexpected=e)
    done = run.state
    run.tell(RunFinished(Run(started, clock.monotonic() - ticks, triggers, result, run.actions, run.tried,
                             done.error if error else "", error)))
    run.update(runs=done.runs + 1, failures=done.failures if error else 0)
    return result, run.state, tuple(run.events)


def _decide(run: _Run, owned: bool) -> RunResult:
    if not owned:  # sharded: another replica's sync, not even planned here
        run.update(state=SyncState.STANDBY, error="")
        return RunResult.STANDBY
    if _nothing_moved(run):
        run.update(quiet=run.state.quiet + 1)
        run.tell(StillSynced(run.state.revision, run.clock.time()))
        return RunResult.SUCCESS
    run.update(quiet=0)
    desired = _load(run)
    planned = run.pipeline.plan(desired, run.sync)
    plan = planned.plan
    run.tell(PlanMade(planned))
    run.actions = tuple((k, n) for k, n in plan.counts().items() if n and k != "noop")
    _conflicts(run, plan)
    moved = desired.revision != run.state.converged
    drift = [] if moved else list(plan.changes)
    _drift(run, drift, desired.revision)

    if not plan.changes:
        return _synced(run, desired.revision)
    if not run.may_write():
        return _standby(run, desired.revision, len(plan.changes))
    if drift and not (run.sync.self_heal or "manual" in run.reasons):
        run.update(state=SyncState.DRIFTED, revision=desired.revision, error="")
        return RunResult.SUCCESS
    return _apply(run, planned, desired.revision, reverting=bool(drift))


def _nothing_moved(run: _Run) -> bool:
    """A timer-only run that cannot find anything: the last run converged (Synced), no watch event,
    file change or git move came since (each would have queued the sync with its own reason), and
    the source is still at the converged revision. After FULL_EVERY such resyncs the next one plans."""
    state = run.state
    if run.reasons != {"resync"} or state.state is not SyncState.SYNCED or state.converged is None:
        return False
    if state.quiet >= FULL_EVERY:
        return False
    try:
        now = run.revision()
    except errors.KubesyncError:
        return False  # the full run reports it
    if now != state.converged:
        return False
    run.tried = now
    return True


def _load(run: _Run) -> DesiredState:
    """The source, announced as the current attempt (a failed read too: the revision it tried, if known)."""
    try:
        desired = run.load()
    except errors.KubesyncError:
        _attempting(run, _revision_tried(run), read=False)
        raise
    _attempting(run, desired.revision, read=True)
    if not desired.manifests and not run.sync.allow_empty:
        raise errors.SourceError(
            f"{desired.source} holds no objects; treated as an error so nothing is applied or pruned "
            "(allow it with --allow-empty)"
        )
    return desired


def _revision_tried(run: _Run) -> str:
    """The revision a failed read was after: a git source's polled commit, a folder's content hash."""
    try:
        return run.revision() or ""
    except (errors.KubesyncError, OSError):
        return ""


def _attempting(run: _Run, revision: str, read: bool) -> None:
    run.tried = revision
    try:
        commit = run.describe(revision) if revision else None
    except errors.KubesyncError:
        commit = None  # the subject and author are for people; never a reason to fail
    run.tell(Attempting(revision, commit, read, run.clock.time()))


def _conflicts(run: _Run, plan: Plan) -> None:
    """Each conflict or warning is told once, until it goes away."""
    now = frozenset(plan.conflicts) | frozenset(plan.warnings)
    for line in sorted(now - run.state.conflicts):
        run.tell(ConflictSeen(line))
    run.update(conflicts=now)


def _drift(run: _Run, drift: list, revision: str) -> None:
    """Each drifted object is told once (who changed it, which fields), until it is reverted or the source moves."""
    before = run.state.drifted
    new = tuple(_drift_event(run, a) for a in drift if str(a.ref) not in before)
    now = frozenset(str(a.ref) for a in drift)
    run.tell(DriftSeen(revision, new, len(now), run.sync.self_heal))
    run.update(drifted=now)


def _drift_event(run: _Run, action) -> DriftEvent:
    """Who changed it: the manager owning the drifted fields (a write through /scale included), not the newest entry."""
    paths = tuple(dict.fromkeys(op["path"] for op in action.patch))
    who = owner_of_paths(action.live, paths)
    return DriftEvent(run.clock.time(), str(action.ref), who.manager if who else "", paths[:10],
                      who.subresource if who else "")


def _synced(run: _Run, revision: str) -> RunResult:
    recovered = run.state.state is SyncState.FAILED
    run.update(state=SyncState.SYNCED, revision=revision, error="", cannot_decrypt=())
    run.tell(Synced(revision, run.clock.time(), recovered))
    return RunResult.SUCCESS


def _standby(run: _Run, revision: str, changes: int) -> RunResult:
    seen = (revision, changes)
    if seen != run.state.standby:  # once per state, not on every watch event
        run.tell(StandingBy(revision, changes))
    run.update(state=SyncState.STANDBY, error="", standby=seen)
    return RunResult.STANDBY


def _apply(run: _Run, planned: Planned, revision: str, reverting: bool) -> RunResult:
    run.abort.clear()
    if (run.stop is not None and run.stop.is_set()) or not run.may_write():
        return RunResult.STANDBY
    run.tell(Applying(revision, reverting, run.actions))
    report = run.pipeline.apply(planned, run.settings.apply, progress=lambda o: run.tell(_progress(o)), stop=run.abort)
    if run.abort.is_set():
        # Shutdown or a lost leadership cut the apply short: not the source's fault, no alert.
        done = sum(1 for o in report.outcomes if not o.failed)
        run.tell(Interrupted(done, len(report.failures), len(report.not_started)))
        return RunResult.ABORTED
    raise_for_failures(report)
    run.tell(DriftCleared(revision))
    run.update(drifted=frozenset())
    return _synced(run, revision)


def _progress(told) -> Event:
    """The apply's progress as an event: an object's Outcome, or a hook phase's step."""
    return ObjectApplied(told) if isinstance(told, Outcome) else HookProgress(told)


def _fail(run: _Run, message: str, unexpected: BaseException | None = None, files: tuple[str, ...] = (),
          api_down: bool = False) -> None:
    failures = run.state.failures + 1
    run.update(state=SyncState.FAILED, error=errors.cut(redact(message)), failures=failures, cannot_decrypt=files,
               api_down=api_down)
    run.tell(Failed(message, retry_wait(run.settings.retry_backoff, failures), run.state.revision, unexpected))
