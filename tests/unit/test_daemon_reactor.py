"""run_sync (daemon/reactor.py) alone: a stand-in facade, a fake clock, a state record in, a state
record and the events out. No worker, no metrics, no threads: what a run decides, event by event.
(The worker around it, with the reporter's metrics and alerts: tests/unit/test_daemon_loop.py.)"""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from kubesync import errors
from kubesync.apply import ApplyReport, Outcome
from kubesync.config import SyncConfig
from kubesync.daemon import events as ev
from kubesync.daemon.history import DriftEvent
from kubesync.daemon.reactor import FULL_EVERY, run_sync
from kubesync.daemon.settings import DaemonSettings
from kubesync.daemon.state import SyncStatus
from kubesync.model import Action, ActionType, CommitInfo, DesiredState, Manifest, ObjectRef, Plan, RunResult, SyncState
from kubesync.sources import SourceSpec
from kubesync.sync import Planned

REF = ObjectRef("", "v1", "ConfigMap", "shop", "conf")
OTHER = REF.with_namespace("other")
SETTINGS = DaemonSettings(syncs=(), retry_backoff=(1.0, 2.0, 5.0))
SYNCED = SyncStatus(state=SyncState.SYNCED, revision="rev-1", runs=1)


class Clock:
    """Wall time starts at a fixed epoch; both clocks move only when a test (or the facade) says."""

    def __init__(self):
        self.wall, self.ticks = 1_700_000_000.0, 100.0

    def time(self):
        return self.wall

    def monotonic(self):
        return self.ticks

    def advance(self, seconds):
        self.wall += seconds
        self.ticks += seconds


class Facade:
    """Stands in for the source and kubesync.sync.Pipeline; records what it was asked for."""

    def __init__(self, clock):
        self.clock = clock
        self.revision = "rev-1"
        self.manifests = (Manifest(REF, {"apiVersion": "v1", "kind": "ConfigMap"}),)
        self.changes = [Action(ActionType.UPDATE, REF)]
        self.conflicts: tuple[str, ...] = ()
        self.source_error: Exception | None = None
        self.loads = 0
        self.planned = 0
        self.applied: list[threading.Event] = []
        self.result = "patched"

    def load(self):
        self.loads += 1
        if self.source_error:
            raise self.source_error
        return DesiredState(self.manifests, "src", self.revision)

    def plan(self, desired, config):
        self.planned += 1
        plan = Plan(config.name, desired.source, desired.revision, tuple(self.changes), conflicts=self.conflicts)
        return Planned(plan, [], config, [])

    def apply(self, planned, settings, progress=None, stop=None):
        self.applied.append(stop)
        self.clock.advance(2.5)  # the apply takes a while
        outcomes = [Outcome(a, self.result, "" if self.result == "patched" else "denied") for a in planned.plan.changes]
        for o in outcomes:
            progress(o)
        if self.result == "patched":
            self.changes = []  # the cluster now matches
        return ApplyReport(outcomes)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def facade(clock):
    return Facade(clock)


def run(facade, state=SyncStatus(), reasons=("startup",), **options):
    options.setdefault("abort", threading.Event())
    sync = SyncConfig(name="shop", source=SourceSpec(path="/src"), **options.pop("sync", {}))
    return run_sync(sync, facade, state, facade.clock, reasons=reasons, load=facade.load,
                    revision=lambda: facade.revision, settings=SETTINGS, **options)


def kinds(events):
    return [type(e).__name__ for e in events]


def test_a_first_run_applies_and_says_so_in_order(facade, clock):
    state = SyncStatus()
    result, after, events = run(facade, state)
    assert result is RunResult.SUCCESS and len(facade.applied) == 1
    assert kinds(events) == ["RunStarted", "Attempting", "PlanMade", "DriftSeen", "Applying", "ObjectApplied", "DriftCleared",
                             "Synced", "RunFinished"]
    assert events[1] == ev.Attempting("rev-1", None, True, 1_700_000_000.0)
    assert events[4] == ev.Applying("rev-1", False, (("update", 1),))
    assert (after.state, after.revision, after.runs, after.failures, after.error) == (SyncState.SYNCED, "rev-1", 1, 0, "")
    assert state == SyncStatus()  # the record handed in is never changed: a new one comes back
    finished = events[-1].run
    assert (finished.started, finished.duration, finished.triggers) == (1_700_000_000.0, 2.5, ("startup",))
    assert (finished.result, finished.actions, finished.revision, finished.error) == ("success", (("update", 1),), "rev-1", "")
    assert events[-2] == ev.Synced("rev-1", 1_700_000_002.5, recovered=False)


def test_emit_hears_each_event_as_it_happens_but_not_the_outcome(facade):
    heard = []

    def apply(planned, settings, progress=None, stop=None):
        assert kinds(heard)[-1] == "Applying"  # said before the apply starts, not after it ends
        progress(Outcome(planned.plan.changes[0], "patched"))
        assert kinds(heard)[-1] == "ObjectApplied"  # each outcome as it comes
        return ApplyReport([Outcome(planned.plan.changes[0], "patched")])

    facade.apply = apply
    _, _, events = run(facade, emit=heard.append)
    assert heard == [e for e in events if not isinstance(e, ev.Closing)]
    assert kinds(e for e in events if isinstance(e, ev.Closing)) == ["Synced", "RunFinished"]


def test_drift_is_told_once_with_who_and_what_until_the_source_moves(facade, clock):
    owners = [{"manager": "kubectl-edit", "operation": "Update", "time": "2026-01-01T00:00:00Z", "fieldsV1": {"f:data": {"f:a": {}}}},
              {"manager": "kubesync", "operation": "Update", "time": "2026-01-02T00:00:00Z", "fieldsV1": {"f:data": {"f:b": {}}}}]
    facade.changes = [Action(ActionType.UPDATE, REF, patch=({"op": "replace", "path": "/data/a", "value": "x"},),
                             live={"metadata": {"managedFields": owners}, "data": {"a": "y", "b": "z"}})]
    result, drifted, events = run(facade, SYNCED, reasons=("watch",))
    assert result is RunResult.SUCCESS and facade.applied == []
    assert drifted.state is SyncState.DRIFTED and drifted.drifted == {str(REF)}
    (seen,) = [e for e in events if isinstance(e, ev.DriftSeen)]
    assert seen == ev.DriftSeen("rev-1", (DriftEvent(clock.wall, str(REF), "kubectl-edit", ("/data/a",)),), 1, False)
    _, again, events = run(facade, drifted, reasons=("watch",))
    assert [e for e in events if isinstance(e, ev.DriftSeen)] == [ev.DriftSeen("rev-1", (), 1, False)]
    facade.revision = "rev-2"  # the source moved: applied, drift included, nothing drifted any more
    _, moved, events = run(facade, again, reasons=("git",))
    assert len(facade.applied) == 1 and moved.drifted == frozenset() and moved.revision == "rev-2"
    assert ev.Applying("rev-2", False, (("update", 1),)) in events


def test_self_heal_or_sync_now_reverts_drift(facade):
    _, healed, events = run(facade, SYNCED, reasons=("watch",), sync={"self_heal": True})
    assert len(facade.applied) == 1 and healed.state is SyncState.SYNCED and healed.drifted == frozenset()
    assert ev.Applying("rev-1", True, (("update", 1),)) in events and ev.DriftCleared("rev-1") in events
    facade.changes = [Action(ActionType.UPDATE, REF)]
    _, manual, _ = run(facade, SYNCED, reasons=("manual",))
    assert len(facade.applied) == 2 and manual.state is SyncState.SYNCED


def test_a_failure_keeps_what_the_run_learned_and_backs_off(facade):
    facade.conflicts = ("apps/v1 Deployment shop/web is owned by helm",)
    facade.result = "failed"
    result, failed, events = run(facade)
    assert result is RunResult.ERROR and failed.state is SyncState.FAILED and failed.failures == 1
    assert failed.conflicts == {"apps/v1 Deployment shop/web is owned by helm"}  # told once, not again next run
    (fail,) = [e for e in events if isinstance(e, ev.Failed)]
    assert fail.retry_in == 1.0 and "denied" in fail.message and fail.unexpected is None
    assert events[-1].run.actions == (("update", 1),) and events[-1].run.error_type == "ApplyFailed"
    for want in (2.0, 5.0, 5.0):  # the last backoff repeats
        _, failed, events = run(facade, failed, reasons=("retry",))
        assert [e.retry_in for e in events if isinstance(e, ev.Failed)] == [want]
        assert not [e for e in events if isinstance(e, ev.ConflictSeen)]
    assert failed.failures == 4 and failed.runs == 4
    facade.result = "patched"
    _, recovered, events = run(facade, failed, reasons=("file",))
    assert recovered.failures == 0 and recovered.error == "" and ev.Synced("rev-1", facade.clock.wall, True) in events


def test_a_source_error_fails_before_anything_is_planned_and_its_text_is_redacted(facade):
    facade.source_error = errors.SourceError("cannot fetch https://bot:tok3n-value@git.example/shop.git:\n  refused")
    result, failed, events = run(facade, SYNCED, reasons=("git",))
    assert result is RunResult.ERROR and facade.planned == 0
    assert "tok3n-value" not in failed.error and "refused" in failed.error and "\n" not in failed.error
    assert failed.revision == "rev-1"  # the last revision the cluster matched stays
    (fail,) = [e for e in events if isinstance(e, ev.Failed)]
    assert fail.revision == "rev-1" and fail.message.endswith("git.example/shop.git: refused")
    assert events[-1].run.error_type == "SourceError" and events[-1].run.error == failed.error


def test_an_empty_source_is_an_error_unless_allowed(facade):
    facade.manifests = ()
    result, failed, _ = run(facade, sync={"prune": True})
    assert result is RunResult.ERROR and "holds no objects" in failed.error and facade.planned == 0
    result, _, _ = run(facade, sync={"prune": True, "allow_empty": True})
    assert result is RunResult.SUCCESS and facade.planned == 1


def test_a_bug_is_a_failure_carrying_its_exception(facade):
    def plan(desired, config):
        raise KeyError("metadata")

    facade.plan = plan
    result, failed, events = run(facade)
    (fail,) = [e for e in events if isinstance(e, ev.Failed)]
    assert result is RunResult.ERROR and isinstance(fail.unexpected, KeyError)
    assert fail.message == "unexpected KeyError: 'metadata'" and events[-1].run.error_type == "KeyError"


def test_a_resync_skips_the_plan_while_nothing_moved(facade, clock):
    result, quiet, events = run(facade, SYNCED, reasons=("resync",))
    assert result is RunResult.SUCCESS and facade.loads == facade.planned == 0
    assert kinds(events) == ["RunStarted", "StillSynced", "RunFinished"] and quiet.quiet == 1
    assert run(facade, replace(SYNCED, quiet=FULL_EVERY), reasons=("resync",))[1].quiet == 0  # every so often it plans
    assert facade.planned == 1
    facade.revision = "rev-2"
    run(facade, SYNCED, reasons=("resync",))
    assert facade.planned == 2  # the source moved under the timer


def test_a_resync_whose_source_cannot_say_its_revision_runs_in_full(facade):
    def revision():
        raise errors.SourceError("repository unreachable")

    sync = SyncConfig(name="shop", source=SourceSpec(path="/src"))
    run_sync(sync, facade, SYNCED, facade.clock, reasons={"resync"}, load=facade.load, revision=revision,
             abort=threading.Event(), settings=SETTINGS)
    assert facade.planned == 1


def test_a_sync_of_another_shard_is_not_even_read(facade):
    result, after, events = run(facade, SYNCED, owned=False)
    assert result is RunResult.STANDBY and facade.loads == 0 and after.state is SyncState.STANDBY
    assert kinds(events) == ["RunStarted", "RunFinished"]


def test_a_follower_plans_and_says_so_once_per_state(facade):
    result, after, events = run(facade, may_write=lambda: False)
    assert result is RunResult.STANDBY and facade.planned == 1 and facade.applied == []
    assert ev.StandingBy("rev-1", 1) in events and after.standby == ("rev-1", 1)
    _, after, events = run(facade, after, reasons=("watch",), may_write=lambda: False)
    assert not [e for e in events if isinstance(e, ev.StandingBy)]
    facade.revision = "rev-2"
    _, after, events = run(facade, after, reasons=("git",), may_write=lambda: False)
    assert ev.StandingBy("rev-2", 1) in events


def test_leadership_lost_while_planning_applies_nothing(facade):
    answers = iter([True, False])  # may write when the plan is made, not any more at the apply
    facade.revision = "rev-2"
    result, after, events = run(facade, SYNCED, reasons=("git",), may_write=lambda: next(answers))
    assert result is RunResult.STANDBY and facade.applied == [] and after.state is SyncState.SYNCED


def test_nothing_is_applied_once_shutdown_began(facade):
    stop = threading.Event()
    stop.set()
    result, _, _ = run(facade, stop=stop)
    assert result is RunResult.STANDBY and facade.applied == []


def test_an_apply_cut_short_is_aborted_not_failed(facade):
    abort = threading.Event()
    facade.changes = [Action(ActionType.UPDATE, REF), Action(ActionType.UPDATE, OTHER)]

    def interrupted(planned, settings, progress=None, stop=None):
        assert stop is abort
        abort.set()  # SIGTERM during the first wave
        first, *rest = planned.plan.changes
        return ApplyReport([Outcome(first, "failed", "abandoned")], not_started=list(rest))

    facade.apply = interrupted
    result, after, events = run(facade, abort=abort)
    assert result is RunResult.ABORTED and ev.Interrupted(0, 1, 1) in events
    assert after.converged is None and after.failures == 0 and not [e for e in events if isinstance(e, ev.Failed)]


def test_an_abort_left_from_before_does_not_stop_the_next_apply(facade):
    abort = threading.Event()
    abort.set()  # a lost shard, since taken back
    result, _, _ = run(facade, abort=abort)
    assert result is RunResult.SUCCESS and facade.applied == [abort] and not abort.is_set()


def test_conflicts_are_told_once_until_they_change(facade):
    facade.changes = []
    facade.conflicts = ("b owned by helm", "a owned by helm")
    _, after, events = run(facade, SYNCED, reasons=("watch",))
    assert [e.text for e in events if isinstance(e, ev.ConflictSeen)] == ["a owned by helm", "b owned by helm"]
    facade.conflicts = ("a owned by helm", "c owned by kapp")
    _, after, events = run(facade, after, reasons=("watch",))
    assert [e.text for e in events if isinstance(e, ev.ConflictSeen)] == ["c owned by kapp"]
    assert after.conflicts == {"a owned by helm", "c owned by kapp"}


@pytest.mark.parametrize("error, down", [
    (errors.ClusterUnreachable("cannot reach https://x: connection refused (GET /x)"), True),
    (errors.ClusterTransient("GET /x: HTTP 503", status=503), True),
    (errors.ApplyFailed(["a.yaml:1: v1 ConfigMap x/y: cannot reach https://x: connection refused (PATCH /y)"]), True),
    (errors.PlanInvalid(["a.yaml:1: v1 ConfigMap x/y: the server would reject this create: bad"]), False),
])
def test_a_failure_to_reach_the_api_server_is_marked_for_the_recovery_probe(facade, error, down):
    """The daemon retries such a sync as soon as the server answers (runner._retry_when_the_api_is_back)."""
    def plan(desired, config):
        raise error

    facade.plan = plan
    result, after, _ = run(facade)
    assert result is RunResult.ERROR and after.state is SyncState.FAILED and after.api_down is down


# -- the current attempt: what a failing sync's page shows ---------------------------------------------

def test_each_run_that_reads_the_source_announces_the_revision_it_tries_with_its_commit(facade):
    described = []

    def describe(revision):
        described.append(revision)
        return CommitInfo(revision, "Bump web to 2 replicas", "Ann <ann@example.com>", 1.0)

    facade.revision = "rev-2"
    facade.result = "failed"
    result, failed, events = run(facade, SYNCED, reasons=("git",), describe=describe)
    assert result is RunResult.ERROR and described == ["rev-2"]
    (attempt,) = [e for e in events if isinstance(e, ev.Attempting)]
    assert attempt == ev.Attempting("rev-2", describe("rev-2"), True, facade.clock.wall - 2.5)
    assert kinds(events).index("Attempting") < kinds(events).index("PlanMade")
    # The run's record names the revision it tried, while the state keeps the one the cluster matched.
    assert events[-1].run.revision == "rev-2" and failed.revision == "rev-1"


def test_a_source_that_cannot_be_read_is_an_attempt_at_the_revision_it_was_after(facade):
    facade.revision = "rev-3"
    facade.source_error = errors.ManifestError("cm.yaml:1: invalid YAML")
    _, failed, events = run(facade, SYNCED, reasons=("git",))
    (attempt,) = [e for e in events if isinstance(e, ev.Attempting)]
    assert (attempt.revision, attempt.read) == ("rev-3", False) and events[-1].run.revision == "rev-3"

    def unknown():
        raise errors.SourceError("cannot poll: connection refused")

    sync = SyncConfig(name="shop", source=SourceSpec(path="/src"))
    _, _, events = run_sync(sync, facade, failed, facade.clock, reasons={"retry"}, load=facade.load, revision=unknown,
                            abort=threading.Event(), settings=SETTINGS)
    assert [(e.revision, e.read) for e in events if isinstance(e, ev.Attempting)] == [("", False)]


def test_a_commit_that_cannot_be_described_fails_nothing(facade):
    def describe(revision):
        raise errors.SourceError("commit rev-1 is not in the clone")

    result, _, events = run(facade, describe=describe)
    assert result is RunResult.SUCCESS and ev.Attempting("rev-1", None, True, 1_700_000_000.0) in events


def test_a_quiet_resync_tells_no_attempt_and_records_the_revision_it_checked(facade):
    _, _, events = run(facade, SYNCED, reasons=("resync",))
    assert not [e for e in events if isinstance(e, ev.Attempting)] and events[-1].run.revision == "rev-1"
