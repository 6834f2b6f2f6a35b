"""A sync worker end to end, with the pipeline stubbed: run_sync (daemon/reactor.py) decides when it
applies, reports drift, stands by or fails; the reporter says it in metrics, alerts and the history;
the worker publishes the state. The decisions alone, event by event: tests/unit/test_daemon_reactor.py."""

from __future__ import annotations

import threading

import pytest

from kubesync import errors
from kubesync.apply import ApplyReport, Outcome
from kubesync.daemon import loop, reactor
from kubesync.daemon.events import one_line, short
from kubesync.daemon.metrics import Metrics
from kubesync.daemon.notify import Notifier
from kubesync.config import SyncConfig
from kubesync.daemon.settings import DaemonSettings
from kubesync.model import Action, ActionType, DesiredState, Manifest, ObjectRef, Plan
from kubesync.cluster.api import Client
from kubesync.sources import SourceSpec
from kubesync.sync import Planned

REF = ObjectRef("", "v1", "ConfigMap", "shop", "conf")


class Leader:
    def __init__(self, leading=True):
        self.leading = leading
        self.identity = "me"

    def is_leader(self):
        return self.leading

    def owns(self, sync):
        return self.leading


class Connections:
    """One context's connection (a Client over nothing: the stand-in pipeline never sends), no watch cache."""

    def get(self, context=None):
        return Client(None)

    def cache(self, context=None):
        return None


class Pipeline:
    """Stands in for the source and the facade (injected into the worker); records what it was asked for."""

    cluster = None

    def __init__(self):
        self.revision = "rev-1"
        self.manifests = (Manifest(REF, {"apiVersion": "v1", "kind": "ConfigMap"}),)
        self.changes = [Action(ActionType.UPDATE, REF)]
        self.source_error: Exception | None = None
        self.planned = 0
        self.applied: list[threading.Event] = []

    def load(self, spec, fetch=True, keys=None):
        if self.source_error:
            raise self.source_error
        return DesiredState(self.manifests, "src", self.revision)

    def plan(self, desired, spec):
        self.planned += 1
        plan = Plan(spec.name, desired.source, desired.revision, tuple(self.changes))
        return Planned(plan, [], spec, [])

    def apply(self, planned, settings, progress=None, stop=None):
        self.applied.append(stop)
        outcomes = [Outcome(a, "patched") for a in planned.plan.changes]
        for o in outcomes:
            progress(o)
        self.changes = []  # the cluster now matches
        return ApplyReport(outcomes)


class Recorder(Notifier):
    def __init__(self):
        super().__init__(None)
        self.events = []

    def _emit(self, alert):
        self.events.append(alert.event)


@pytest.fixture
def pipeline():
    return Pipeline()


def worker(tmp_path, pipeline, leader=None, **sync):
    settings = SyncConfig(name="shop", source=SourceSpec(path=str(tmp_path)), **sync)
    w = loop.SyncWorker(settings, DaemonSettings(syncs=(settings,)), Connections(), Metrics(), Recorder(), leader or Leader(),
                        threading.Event(), pipeline=lambda cluster: pipeline, load=pipeline.load,
                        revision=lambda spec: pipeline.revision)
    return w


def value(w, name, **labels):
    return w.reporter.metrics.registry.get_sample_value(name, {"sync": "shop", **labels})


def test_the_first_run_applies(tmp_path, pipeline):
    w = worker(tmp_path, pipeline)
    assert w.run_once({"startup"}) is True
    assert len(pipeline.applied) == 1 and pipeline.applied[0] is w.abort
    assert w.status.state == "synced" and w.status.converged == "rev-1"
    assert value(w, "kubesync_objects_total", action="patched") == 1
    assert value(w, "kubesync_sync_runs_total", result="success") == 1


def test_drift_without_self_heal_is_reported_not_reverted(tmp_path, pipeline):
    w = worker(tmp_path, pipeline)
    w.run_once({"startup"})
    pipeline.changes = [Action(ActionType.UPDATE, REF)]  # someone edited the object
    assert w.run_once({"watch"}) is True
    assert len(pipeline.applied) == 1
    assert value(w, "kubesync_drifted_objects") == 1 and w.status.state == "drifted"
    pipeline.revision = "rev-2"  # the source moved: apply, drift included
    w.run_once({"file"})
    assert len(pipeline.applied) == 2 and value(w, "kubesync_drifted_objects") == 0


def test_drift_with_self_heal_is_reverted(tmp_path, pipeline):
    w = worker(tmp_path, pipeline, self_heal=True)
    w.run_once({"startup"})
    pipeline.changes = [Action(ActionType.UPDATE, REF)]
    w.run_once({"watch"})
    assert len(pipeline.applied) == 2
    assert value(w, "kubesync_drifted_objects") == 0 and w.status.state == "synced"


def test_a_follower_plans_but_never_applies(tmp_path, pipeline):
    w = worker(tmp_path, pipeline, leader=Leader(False))
    assert w.run_once({"startup"}) is True
    assert pipeline.planned == 1 and pipeline.applied == []
    assert w.status.state == "standby"
    assert value(w, "kubesync_sync_runs_total", result="standby") == 1


def test_an_empty_source_is_an_error_unless_allowed(tmp_path, pipeline):
    pipeline.manifests = ()
    w = worker(tmp_path, pipeline, prune=True)
    assert w.run_once({"startup"}) is False
    assert pipeline.planned == 0 and pipeline.applied == []
    assert value(w, "kubesync_sync_errors_total", error="SourceError") == 1
    allowed = worker(tmp_path, pipeline, prune=True, allow_empty=True)
    assert allowed.run_once({"startup"}) is True and pipeline.planned == 1


def test_a_broken_source_fails_alerts_once_and_recovers(tmp_path, pipeline):
    w = worker(tmp_path, pipeline)
    w.run_once({"startup"})
    pipeline.source_error = errors.ManifestError(["cm.yaml:1: invalid YAML"])
    pipeline.changes = [Action(ActionType.UPDATE, REF)]
    for _ in range(3):
        assert w.run_once({"retry"}) is False
    assert len(pipeline.applied) == 1 and w.status.failures == 3
    assert w.status.state == "failed" and "invalid YAML" in w.status.error
    assert value(w, "kubesync_sync_failing") == 1
    pipeline.source_error = None
    pipeline.revision = "rev-2"
    assert w.run_once({"file"}) is True
    assert w.status.failures == 0 and value(w, "kubesync_sync_failing") == 0
    assert w.reporter.notifier.events == ["sync_failed", "sync_recovered"]


def test_a_failed_git_poll_is_a_source_error(tmp_path, pipeline):
    w = worker(tmp_path, pipeline)
    w.poller = type("Poller", (), {"error": "cannot poll repo@main: connection refused", "seen": None})()
    assert w.run_once({"git"}) is False
    assert "connection refused" in w.status.error and pipeline.planned == 0


def test_nothing_is_applied_once_shutdown_began(tmp_path, pipeline):
    w = worker(tmp_path, pipeline)
    w.stop.set()
    w.run_once({"startup"})
    assert pipeline.applied == []


def test_interrupt_sets_the_event_the_applier_watches(tmp_path, pipeline):
    w = worker(tmp_path, pipeline)
    w.run_once({"startup"})
    w.interrupt()
    assert pipeline.applied[0].is_set()


@pytest.mark.parametrize("text, want", [
    ("2 problems:\n  a.yaml:1: x\n  b.yaml:2: y", "2 problems: a.yaml:1: x; b.yaml:2: y"),
    ("one line", "one line"),
])
def test_errors_are_logged_on_one_line(text, want):
    assert one_line(text) == want


def test_short_revisions():
    assert short("sha256:0123456789abcdef") == "sha256:0123456789ab"
    assert short("0123456789abcdef0123") == "0123456789ab"


def test_an_apply_cut_short_by_shutdown_is_not_a_failure(tmp_path, pipeline):
    w = worker(tmp_path, pipeline)

    def interrupted(planned, settings, progress=None, stop=None):
        w.interrupt()  # SIGTERM arrives during the first wave
        first, *rest = planned.plan.changes
        return ApplyReport([Outcome(first, "failed", "abandoned")], not_started=list(rest))

    pipeline.apply = interrupted
    pipeline.changes = [Action(ActionType.UPDATE, REF), Action(ActionType.UPDATE, REF.with_namespace("other"))]
    assert w.run_once({"startup"}) is True
    assert value(w, "kubesync_sync_runs_total", result="aborted") == 1
    assert w.reporter.notifier.events == [] and w.status.converged is None


def test_sync_now_reverts_drift_once_without_self_heal(tmp_path, pipeline):
    w = worker(tmp_path, pipeline)
    w.run_once({"startup"})
    pipeline.changes = [Action(ActionType.UPDATE, REF)]
    w.run_once({"watch"})
    assert len(pipeline.applied) == 1 and w.status.state == "drifted"
    w.run_once({"manual"})  # the dashboard's "Sync now"
    assert len(pipeline.applied) == 2 and w.status.state == "synced"


def test_every_run_is_recorded_for_the_dashboard(tmp_path, pipeline):
    w = worker(tmp_path, pipeline)
    w.run_once({"startup"})
    pipeline.changes = [Action(ActionType.UPDATE, REF, patch=({"op": "replace", "path": "/data/a", "value": "x"},),
                               live={"metadata": {"managedFields": [
        {"manager": "kube-controller-manager", "time": "2026-01-01T00:00:00Z"},
        {"manager": "kubectl-edit", "time": "2026-01-02T00:00:00Z", "fieldsV1": {"f:data": {"f:a": {}}}},
        {"manager": "kube-controller-manager", "time": "2026-01-03T00:00:00Z", "fieldsV1": {"f:status": {}}}]},
                                     "data": {"a": "y"}})]
    w.run_once({"watch"})
    pipeline.source_error = errors.ManifestError(["cm.yaml:1: invalid YAML"])
    w.run_once({"file", "retry"})
    latest, drifted, first = w.history.runs()
    assert (first.triggers, first.result, first.actions) == (("startup",), "success", (("update", 1),))
    assert (drifted.triggers, drifted.result, drifted.revision) == (("watch",), "success", "rev-1")
    assert (latest.triggers, latest.result, latest.error_type) == (("file", "retry"), "error", "ManifestError")
    assert "invalid YAML" in latest.error and first.error == ""
    (event,) = w.history.drift_events()
    assert (event.object, event.manager, event.paths) == (str(REF), "kubectl-edit", ("/data/a",))
    assert w.history.planned.plan.revision == "rev-1"


def test_a_timer_run_after_convergence_skips_the_plan_unless_something_moved(tmp_path, pipeline):
    w = worker(tmp_path, pipeline)
    assert w.run_once({"startup"})  # applies: now Synced at rev-1
    planned = pipeline.planned
    assert w.run_once({"resync"}) and pipeline.planned == planned  # nothing moved: no plan, no request
    assert w.run_once({"watch"}) and pipeline.planned == planned + 1  # an event: a full run
    pipeline.revision = "rev-2"
    assert w.run_once({"resync"}) and pipeline.planned == planned + 2  # the source moved under the timer
    for _ in range(reactor.FULL_EVERY):
        w.run_once({"resync"})
    assert pipeline.planned == planned + 2
    w.run_once({"resync"})
    assert pipeline.planned == planned + 3  # after FULL_EVERY quiet resyncs, the next one plans anyway
    assert value(w, "kubesync_sync_runs_total", result="success") == 4 + reactor.FULL_EVERY + 1


def test_a_runs_outcome_is_announced_after_its_state_and_before_its_count(tmp_path, pipeline):
    """Whoever sees a failing metric or an alert and then asks GET /api/v1/syncs finds the run's state;
    whoever sees the run counted (every sync has run) finds its metrics and history."""
    w = worker(tmp_path, pipeline)
    pipeline.source_error = errors.ManifestError(["cm.yaml:1: invalid YAML"])
    seen = []
    report = w.reporter.report

    def spy(event):
        seen.append((type(event).__name__, w.status.state, w.status.runs, len(w.history.runs())))
        report(event)

    w.reporter.report = spy
    w.run_once({"startup"})
    assert seen[0] == ("RunStarted", "starting", 0, 0)
    assert seen[-2:] == [("Failed", "failed", 0, 0), ("RunFinished", "failed", 0, 0)]
    assert (w.status.runs, len(w.history.runs())) == (1, 1)
