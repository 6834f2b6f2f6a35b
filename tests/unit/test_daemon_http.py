"""The daemon's HTTP endpoints and the Prometheus series they serve."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kubesync.daemon.http import StatusServer, parse_listen
from kubesync.daemon.metrics import Metrics
from kubesync.daemon.settings import ReceiverSettings
from kubesync.daemon.web.app import Hooks, build_app
from kubesync.errors import UsageError


@pytest.mark.parametrize("text, want", [
    ("127.0.0.1:9090", ("127.0.0.1", 9090)),
    (":9090", ("0.0.0.0", 9090)),
    ("0.0.0.0:80", ("0.0.0.0", 80)),
    ("[::1]:9090", ("::1", 9090)),
    ("[::]:80", ("::", 80)),
])
def test_parse_listen(text, want):
    assert parse_listen(text) == want


@pytest.mark.parametrize("text", ["9090", "host:", "host:port", "h:70000"])
def test_parse_listen_refuses_nonsense(text):
    with pytest.raises(UsageError, match="HOST:PORT"):
        parse_listen(text)


@pytest.mark.parametrize("text", ["::1:9090", "[::1:9090", "::1]:9090"])
def test_parse_listen_wants_ipv6_in_brackets(text):
    with pytest.raises(UsageError, match="brackets"):
        parse_listen(text)


def call(server, path, method="GET", body=None):
    req = urllib.request.Request(f"http://{server.address}{path}", data=body, method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read(), resp.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


@pytest.fixture
def served():
    state = {"healthy": True, "ready": False, "triggered": []}
    metrics = Metrics()
    metrics.register_sync("shop")
    hooks = Hooks(
        health=lambda: (state["healthy"], {"ok": state["healthy"]}),
        ready=lambda: (state["ready"], {"ready": state["ready"]}),
        metrics=metrics.render,
        trigger=state["triggered"].append,
        syncs=lambda: {"shop"},
    )
    app = build_app(hooks, receiver=ReceiverSettings(insecure=True, quiet=0.05))
    server = StatusServer("127.0.0.1:0", app).start()
    yield server, state, metrics
    server.stop()


def test_health_and_readiness(served):
    server, state, _ = served
    assert call(server, "/healthz")[0] == 200
    assert call(server, "/readyz")[0] == 503
    state["ready"] = True
    status, body, headers = call(server, "/readyz")
    assert status == 200 and json.loads(body) == {"ready": True} and headers["Content-Type"] == "application/json"
    state["healthy"] = False
    assert call(server, "/healthz")[0] == 500
    assert call(server, "/nope")[0] == 404


def test_webhook_triggers_a_known_sync_only(served):
    server, state, _ = served
    assert call(server, "/webhook/shop", "POST", b'{"ref": "refs/heads/main"}')[0] == 202
    assert call(server, "/webhook/other", "POST", b"{}")[0] == 404
    assert call(server, "/webhook/", "POST", b"")[0] == 404
    deadline = time.monotonic() + 5
    while not state["triggered"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert state["triggered"] == ["shop"]


def test_metrics_names_every_series(served):
    server, _, metrics = served
    metrics.run("shop", "success", 0.4)
    metrics.run("shop", "error", 0.1, "ManifestError")
    metrics.success("shop", "abc123", 1_800_000_000)
    metrics.objects.labels("shop", "created").inc(2)
    metrics.drifted.labels("shop").set(1)
    metrics.api_errors.labels("shop", "ClusterConflict").inc()
    metrics.triggers.labels("shop", "file").inc()
    status, body, headers = call(server, "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(body.decode()) for s in f.samples}
    assert samples[("kubesync_sync_runs_total", (("result", "success"), ("sync", "shop")))] == 1
    assert samples[("kubesync_sync_runs_total", (("result", "error"), ("sync", "shop")))] == 1
    assert samples[("kubesync_sync_duration_seconds_count", (("result", "success"), ("sync", "shop")))] == 1
    assert samples[("kubesync_sync_errors_total", (("error", "ManifestError"), ("sync", "shop")))] == 1
    assert samples[("kubesync_sync_failing", (("sync", "shop"),))] == 1
    assert samples[("kubesync_objects_total", (("action", "created"), ("sync", "shop")))] == 2
    assert samples[("kubesync_drifted_objects", (("sync", "shop"),))] == 1
    assert samples[("kubesync_degraded_objects", (("sync", "shop"),))] == 0
    assert samples[("kubesync_last_success_timestamp_seconds", (("sync", "shop"),))] == 1_800_000_000
    assert samples[("kubesync_last_success_revision_info", (("revision", "abc123"), ("sync", "shop")))] == 1
    assert samples[("kubesync_api_errors_total", (("error", "ClusterConflict"), ("sync", "shop")))] == 1
    assert samples[("kubesync_triggers_total", (("sync", "shop"), ("trigger", "file")))] == 1
    assert not [name for name, _ in samples if name.endswith("_created")]


def test_listening_on_a_busy_port_is_a_usage_error(served):
    server, _, _ = served
    with pytest.raises(UsageError, match="cannot listen"):
        StatusServer(server.address, app=None)
