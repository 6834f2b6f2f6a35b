"""Alerts: transitions only, the leader only, JSON or Slack bodies, retried delivery."""

from __future__ import annotations

import json
import logging

import pytest

from kubesync.daemon.notify import Alert, Notifier, Transitions, payload
from kubesync.daemon.settings import AlertSettings
from kubesync.health import Health, HealthStatus
from tests.support.webhooks import AlertReceiver

@pytest.fixture(autouse=True)
def _propagate(monkeypatch):
    """caplog listens on the root logger; a CLI test earlier in the run may have cut kubesync's off."""
    monkeypatch.setattr(logging.getLogger("kubesync"), "propagate", True)
    monkeypatch.setattr(logging.getLogger("kubesync"), "level", logging.INFO)


DEGRADED = Health(HealthStatus.DEGRADED, "progress deadline exceeded")
HEALTHY = Health(HealthStatus.HEALTHY, "ok")
PROGRESSING = Health(HealthStatus.PROGRESSING, "rolling out")


class Recorder(Notifier):
    """A notifier that records what it would send."""

    def __init__(self, **kwargs):
        super().__init__(AlertSettings(url="http://example.invalid/hook"), **kwargs)
        self.sent: list[Alert] = []

    def _emit(self, alert):
        if self.may_send(alert.sync):
            self.sent.append(alert)


def test_transitions_report_only_changes():
    t = Transitions()
    assert t.update(("s", ""), "ok", "ok") is None
    assert t.update(("s", ""), "failed", "ok") == "ok"
    assert t.update(("s", ""), "failed", "ok") is None
    assert t.update(("s", ""), "ok", "ok") == "failed"


def test_a_failing_sync_alerts_once_and_once_more_when_it_recovers():
    n = Recorder()
    n.sync_result("shop", True)  # healthy from the start: nothing to say
    for _ in range(5):
        n.sync_result("shop", False, "invalid YAML")
    n.sync_result("shop", True, "synced")
    n.sync_result("shop", True, "synced")
    assert [a.event for a in n.sent] == ["sync_failed", "sync_recovered"]
    assert n.sent[0].message == "invalid YAML"


def test_object_health_alerts_on_degraded_and_on_recovery_only():
    n = Recorder()
    ref = "apps/v1 Deployment shop/web"
    n.object_health("shop", ref, HEALTHY)
    n.object_health("shop", ref, PROGRESSING)
    n.object_health("shop", ref, DEGRADED)
    n.object_health("shop", ref, DEGRADED)
    assert n.degraded("shop") == 1
    n.object_health("shop", ref, PROGRESSING)  # not yet recovered
    n.object_health("shop", ref, HEALTHY)
    assert [(a.event, a.object) for a in n.sent] == [("object_degraded", ref), ("object_recovered", ref)]
    assert n.degraded("shop") == 0


def test_objects_are_tracked_per_sync_and_forgotten_when_deleted():
    n = Recorder()
    n.object_health("a", "v1 Pod x/p", DEGRADED)
    n.object_health("b", "v1 Pod x/p", DEGRADED)
    assert len(n.sent) == 2
    n.object_gone("a", "v1 Pod x/p")
    assert n.degraded("a") == 0 and n.degraded("b") == 1


def test_followers_remember_but_do_not_send():
    leading = {"now": False}
    n = Recorder(may_send=lambda sync: leading["now"])
    n.sync_result("shop", False, "broken")
    assert n.sent == []
    leading["now"] = True
    n.sync_result("shop", False, "broken")  # the new leader knows: no repeat
    n.sync_result("shop", True)
    assert [a.event for a in n.sent] == ["sync_recovered"]


def test_payload_formats():
    alert = Alert("sync_failed", "shop", "invalid YAML", revision="sha256:0123456789abcdef", time="2026-01-01T00:00:00Z")
    body = json.loads(payload(alert, "json"))
    assert body == {"event": "sync_failed", "sync": "shop", "message": "invalid YAML",
                    "revision": "sha256:0123456789abcdef", "time": "2026-01-01T00:00:00Z"}
    slack = json.loads(payload(alert, "slack"))
    assert list(slack) == ["text"]
    assert "sync shop failed" in slack["text"] and "sha256:0123456789ab)" in slack["text"]


@pytest.fixture
def hook():
    hooks = []

    def make(statuses=()):
        h = AlertReceiver(statuses, query="token=secret")
        hooks.append(h)
        return h

    yield make
    for h in hooks:
        h.close()


def test_delivery_retries_server_errors(hook, caplog):
    h = hook([500, 503])
    n = Notifier(AlertSettings(url=h.url, retry_backoff=(0.01, 0.01, 0.01)))
    assert n.deliver(Alert("sync_failed", "shop", "boom")) is True
    assert len(h.bodies) == 3
    assert "token=secret" not in caplog.text


def test_delivery_does_not_retry_a_refusal(hook):
    h = hook([400])
    n = Notifier(AlertSettings(url=h.url, retry_backoff=(0.01, 0.01)))
    assert n.deliver(Alert("sync_failed", "shop", "boom")) is False
    assert len(h.bodies) == 1


def test_delivery_gives_up_after_the_backoff(caplog):
    n = Notifier(AlertSettings(url="http://127.0.0.1:1/hook?token=secret", retry_backoff=(0.01, 0.01), timeout=1))
    assert n.deliver(Alert("sync_failed", "shop", "boom")) is False
    assert "given up after 3 attempts" in caplog.text
    assert "token=secret" not in caplog.text


def test_the_sender_thread_delivers_in_order_and_counts(hook):
    h = hook()
    results = []
    n = Notifier(AlertSettings(url=h.url), on_result=results.append).start()
    n.sync_result("shop", False, "broken")
    n.sync_result("shop", True, "fixed")
    n.stop(timeout=5)
    assert [b["event"] for b in h.bodies] == ["sync_failed", "sync_recovered"]
    assert results == ["sent", "sent"]


def test_an_alert_never_carries_a_secret_value_the_process_has_seen(hook, caplog):
    import base64

    from kubesync import secrets as mask

    canary = "alert-canary-Zq81xT"
    mask.remember([{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "stringData": {"password": canary}}])
    try:
        h = hook()
        n = Notifier(AlertSettings(url=h.url)).start()
        encoded = base64.b64encode(canary.encode()).decode()
        n.sync_result("shop", False, f"admission webhook denied: password {canary!r} (data: {encoded}) is too weak")
        n.stop(timeout=5)
        body = json.dumps(h.bodies)
        assert "admission webhook denied: password" in body
        assert canary not in body and encoded not in body
        assert canary not in caplog.text and encoded not in caplog.text
    finally:
        mask.REDACTOR.forget()
