"""The reporter (daemon/reporter.py): each event becomes exactly the log lines, series, alerts and
history entries the daemon has always produced (people grep the lines, dashboards graph the series)."""

from __future__ import annotations

import logging

import pytest

from kubesync.apply import Outcome
from kubesync.daemon import events as ev
from kubesync.daemon.history import DriftEvent, History, Run
from kubesync.daemon.metrics import Metrics
from kubesync.daemon.notify import Notifier
from kubesync.daemon.reporter import Reporter
from kubesync.health import Health, HealthStatus
from kubesync.model import Action, ActionType, ObjectRef

REF = ObjectRef("", "v1", "ConfigMap", "shop", "conf")
REV = "sha256:0123456789abcdef0123"


class Alerts(Notifier):
    def __init__(self):
        super().__init__(None)
        self.sent = []

    def _emit(self, alert):
        self.sent.append((alert.event, alert.message))


@pytest.fixture
def reporter():
    return Reporter("shop", Metrics(), Alerts(), History())


@pytest.fixture(autouse=True)
def every_line(caplog):
    """The sync's logger at DEBUG, whatever an earlier test set on `kubesync` (the CLI's --log-level)."""
    caplog.set_level(logging.DEBUG, logger="kubesync.daemon.loop")


def value(reporter, name, **labels):
    return reporter.metrics.registry.get_sample_value(name, {"sync": "shop", **labels})


def lines(caplog):
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "kubesync.daemon.loop"]


def test_every_sync_is_visible_at_zero_before_its_first_run(reporter):
    assert value(reporter, "kubesync_sync_failing") == 0 and value(reporter, "kubesync_drifted_objects") == 0


def test_drift_is_logged_per_new_object_sorted_and_kept_for_the_dashboard_in_plan_order(reporter, caplog):
    b = DriftEvent(1.0, "v1 ConfigMap shop/b", "kubectl-edit", ("/data/x",))
    a = DriftEvent(1.0, "v1 ConfigMap shop/a")
    reporter.report(ev.DriftSeen(REV, (b, a), 3, self_heal=False))
    assert lines(caplog) == [
        ("WARNING", "[shop] drift: v1 ConfigMap shop/a differs from revision sha256:0123456789ab; reported only (self-heal is off)"),
        ("WARNING", "[shop] drift: v1 ConfigMap shop/b differs from revision sha256:0123456789ab; reported only (self-heal is off)"),
    ]
    assert reporter.history.drift_events() == [a, b]  # newest first
    assert value(reporter, "kubesync_drifted_objects") == 3
    reporter.report(ev.DriftCleared(REV))
    assert value(reporter, "kubesync_drifted_objects") == 0


def test_an_apply_is_announced_then_each_object_counted_and_logged(reporter, caplog):
    reporter.report(ev.Applying(REV, False, (("create", 2), ("update", 1))))
    reporter.report(ev.Applying(REV, True, (("update", 1),)))
    reporter.report(ev.ObjectApplied(Outcome(Action(ActionType.UPDATE, REF), "patched", "3 fields")))
    reporter.report(ev.ObjectApplied(Outcome(Action(ActionType.NOOP, REF), "unchanged")))
    reporter.report(ev.ObjectApplied(Outcome(Action(ActionType.UPDATE, REF), "failed", "PATCH refused:\n  quota")))
    assert lines(caplog) == [
        ("INFO", "[shop] applying sha256:0123456789ab: 2 create, 1 update"),
        ("INFO", "[shop] reverting drift: 1 update"),
        ("INFO", f"[shop] patched {REF} (3 fields)"),
        ("WARNING", "[shop] PATCH refused: quota"),
    ]
    assert value(reporter, "kubesync_objects_total", action="patched") == 1
    assert value(reporter, "kubesync_objects_total", action="unchanged") == 1
    assert value(reporter, "kubesync_objects_total", action="failed") == 1


def test_a_failure_logs_its_retry_alerts_once_and_a_bug_logs_its_traceback(reporter, caplog):
    try:
        raise KeyError("metadata")
    except KeyError as e:
        bug = e
    reporter.report(ev.Failed("unexpected KeyError: 'metadata'", 2.0, REV, unexpected=bug))
    reporter.report(ev.Failed("x" * 1500, 5.0, REV))
    (unexpected, first, second) = [r for r in caplog.records if r.name == "kubesync.daemon.loop"]
    assert unexpected.getMessage() == "[shop] unexpected error" and unexpected.exc_info[1] is bug
    assert first.getMessage() == "[shop] sync failed; nothing more applied, retrying in 2s: unexpected KeyError: 'metadata'"
    assert second.levelname == "ERROR" and first.sync == "shop"  # the JSON formatter's field
    assert reporter.notifier.sent == [("sync_failed", "unexpected KeyError: 'metadata'")]  # a transition alerts once


def test_an_outcome_sets_the_series_and_the_history(reporter, caplog):
    reporter.report(ev.Failed("broken", 1.0, ""))
    reporter.report(ev.RunFinished(Run(10.0, 0.5, ("file",), "error", (), "", "broken", "SourceError")))
    assert value(reporter, "kubesync_sync_failing") == 1
    assert value(reporter, "kubesync_sync_errors_total", error="SourceError") == 1
    reporter.report(ev.Synced(REV, 1234.0, recovered=True))
    reporter.report(ev.RunFinished(Run(20.0, 1.5, ("git",), "success", (("update", 1),), REV)))
    assert ("INFO", "[shop] syncing again at sha256:0123456789ab") in lines(caplog)
    assert value(reporter, "kubesync_last_success_timestamp_seconds") == 1234.0
    assert value(reporter, "kubesync_last_success_revision_info", revision=REV) == 1
    assert value(reporter, "kubesync_sync_failing") == 0 and value(reporter, "kubesync_sync_runs_total", result="success") == 1
    assert [r.result for r in reporter.history.runs()] == ["success", "error"]
    assert [e for e, _ in reporter.notifier.sent] == ["sync_failed", "sync_recovered"]
    reporter.report(ev.StillSynced(REV, 5678.0))
    assert value(reporter, "kubesync_last_success_timestamp_seconds") == 5678.0 and len(reporter.notifier.sent) == 2


def test_closing_reports_only_the_outcome(reporter):
    reporter.closing([ev.RunStarted(("file",)), ev.Synced(REV, 1.0, False),
                      ev.RunFinished(Run(1.0, 0.1, ("file",), "success"))])
    assert value(reporter, "kubesync_triggers_total", trigger="file") is None  # reported as it happened, not again
    assert value(reporter, "kubesync_sync_runs_total", result="success") == 1


def test_triggers_standby_and_conflicts(reporter, caplog):
    reporter.report(ev.RunStarted(("git", "watch")))
    reporter.report(ev.StandingBy(REV, 4))
    reporter.report(ev.ConflictSeen("apps/v1 Deployment shop/web:\n  owned by helm"))
    assert lines(caplog) == [("DEBUG", "[shop] run (git, watch)"),
                             ("INFO", "[shop] standby: 4 change(s) planned at sha256:0123456789ab; only the leader applies"),
                             ("WARNING", "[shop] apps/v1 Deployment shop/web: owned by helm")]
    assert value(reporter, "kubesync_triggers_total", trigger="git") == value(reporter, "kubesync_triggers_total", trigger="watch") == 1


def test_the_watch_reports_health_and_errors(reporter):
    reporter.report(ev.HealthSeen(str(REF), Health(HealthStatus.DEGRADED, "CrashLoopBackOff")))
    assert value(reporter, "kubesync_degraded_objects") == 1
    reporter.report(ev.HealthSeen(str(REF), None))  # deleted: forgotten, no recovery alert
    assert value(reporter, "kubesync_degraded_objects") == 0
    assert reporter.notifier.sent == [("object_degraded", "CrashLoopBackOff")]
    reporter.report(ev.ApiError("ClusterUnreachable"))
    assert value(reporter, "kubesync_api_errors_total", error="ClusterUnreachable") == 1


def test_an_event_without_a_handler_is_a_bug_said_at_once(reporter):
    with pytest.raises(TypeError, match="no handler for Event"):
        reporter.report(ev.Event())


def test_the_current_attempt_follows_a_run_from_its_revision_to_its_outcome(reporter):
    from kubesync.model import CommitInfo, Plan
    from kubesync.secrets import remember_values
    from kubesync.sync import Planned

    commit = CommitInfo("c" * 40, "Bump web", "Ann <ann@example.com>", 1.0)
    reporter.report(ev.Attempting("c" * 40, commit, True, 100.0))
    attempt = reporter.history.attempt()
    assert (attempt.revision, attempt.commit, attempt.stage, attempt.planned) == ("c" * 40, commit, "planning", None)
    planned = Planned(Plan("shop", "src", "c" * 40, (Action(ActionType.UPDATE, REF),)), [], None, [])
    reporter.report(ev.PlanMade(planned))
    reporter.report(ev.Applying("c" * 40, False, (("update", 1),)))
    remember_values(["hunter2-value"])
    reporter.report(ev.ObjectApplied(Outcome(Action(ActionType.UPDATE, REF), "failed", "denied:\n  hunter2-value")))
    reporter.report(ev.Failed("1 object failed: hunter2-value", 1.0, REV))
    attempt = reporter.history.attempt()
    assert attempt.planned is planned and reporter.history.planned is planned and attempt.stage == "applying"
    result, message = attempt.outcomes[str(REF)]
    assert result == "failed" and "hunter2-value" not in message and "\n" not in message
    assert attempt.error.startswith("1 object failed") and "hunter2-value" not in attempt.error
    # The next attempt starts clean; a run that succeeds is done.
    reporter.report(ev.Attempting("d" * 40, None, False, 200.0))
    assert reporter.history.attempt().outcomes == {} and reporter.history.attempt().stage == "reading the source"
    reporter.report(ev.RunFinished(Run(200.0, 0.1, ("git",), "success", (), "d" * 40)))
    assert reporter.history.attempt().stage == "done"


def test_the_watch_keeps_each_objects_live_health_for_the_page(reporter):
    reporter.report(ev.HealthSeen(str(REF), Health(HealthStatus.HEALTHY, "")))
    assert reporter.history.live() == {str(REF): Health(HealthStatus.HEALTHY, "")}
    reporter.report(ev.HealthSeen(str(REF), None))
    assert reporter.history.live() == {str(REF): None}
