"""Alerts from the daemon: one webhook POST per transition, never one per loop."""

from __future__ import annotations

import re
import secrets

import pytest

from tests.integration.daemon_harness import DaemonProcess, configmap_yaml, wait_until
from tests.support.manifests import deployment, write
from tests.support.webhooks import AlertReceiver
from tests.support.fixtures import require_simulated_nodes
from tests.support.manifests import simulated

pytestmark = pytest.mark.integration


def stuck(namespace: str, crash: bool) -> dict:
    # kwok runs the pods; kubesync.io/simulate makes them crash-loop, so with a 2s progress deadline
    # the deployment controller marks it ProgressDeadlineExceeded (Degraded). Without it, the new
    # version's pods run and the rollout completes (Healthy).
    obj = deployment("stuck", replicas=1, namespace=namespace, spec={"progressDeadlineSeconds": 2}, container={"name": "web"})
    return simulated(obj, "crash-loop") if crash else obj


def alerts_logged(d) -> int:
    """Alerts the daemon decided to send: it logs each one before it queues it for delivery."""
    return len(re.findall(r"\balert (?:sync|object)_\w+: ", d.log()))


def alerts_handled(d) -> float:
    """Alerts the notifier delivered or gave up on."""
    return sum(d.metric("kubesync_alerts_total", result=r) or 0 for r in ("sent", "failed"))


def test_webhook_receives_one_alert_per_transition(kubeconfig, cluster, namespace, tmp_path):
    require_simulated_nodes()
    hook = AlertReceiver()
    src = write(tmp_path / "src", {"deploy.yaml": stuck(namespace, crash=True), "cm.yaml": configmap_yaml("conf", namespace, a="1")})
    name = f"alerts-{secrets.token_hex(3)}"
    token = secrets.token_hex(16)
    (tmp_path / "receiver-secret").write_text(token + "\n")
    args = [str(src), "--name", name, "--interval", "5m", "--alert-webhook", hook.url,
            "--receiver-secret-file", str(tmp_path / "receiver-secret")]
    try:
        with DaemonProcess(args, kubeconfig, tmp_path) as d:
            d.wait_ready()
            wait_until(lambda: "object_degraded" in hook.events(), 30, what=f"degraded alert; got {hook.bodies}")
            first = hook.bodies[0]
            assert first["sync"] == name and first["object"] == f"apps/v1 Deployment {namespace}/stuck"
            assert "progress deadline exceeded" in first["message"]
            assert d.metric("kubesync_degraded_objects", sync=name) == 1

            # A broken source fails every retry, but alerts once.
            (src / "cm.yaml").write_text("data: [\n")
            wait_until(lambda: (d.metric("kubesync_sync_runs_total", sync=name, result="error") or 0) >= 3, 20, what="three failed runs")
            assert hook.events() == ["object_degraded", "sync_failed"]

            # Fixed, and the crash fixed too, so the new version rolls out: each recovery is told once.
            write(src, {"deploy.yaml": stuck(namespace, crash=False)})
            (src / "cm.yaml").write_text(configmap_yaml("conf", namespace, a="1"))
            wait_until(lambda: "object_recovered" in hook.events(), 30, what=f"recovery alerts; got {hook.events()}")
            wait_until(lambda: "sync_recovered" in hook.events(), 5, what="sync recovery alert")

            # More runs (a webhook push, a resync) repeat nothing.
            bearer = {"Authorization": f"Bearer {token}"}
            assert d.http(f"/webhook/{name}", method="POST", body=b"{}", headers=bearer)[0] == 202
            assert d.http("/webhook/no-such-sync", method="POST", body=b"{}", headers=bearer)[0] == 404
            wait_until(lambda: (d.metric("kubesync_triggers_total", sync=name, trigger="webhook") or 0) >= 1, 5, what="webhook run")
            # The webhook's run is over (its alerts, if any, are decided and logged during the run) and
            # the notifier has delivered or given up on every alert the daemon logged.
            wait_until(lambda: d.settled(name), 10, what="the webhook run done")
            wait_until(lambda: alerts_handled(d) == alerts_logged(d), 10, what=f"every alert delivered; log:\n{d.log()}")
            assert sorted(hook.events()) == sorted(["object_degraded", "sync_failed", "sync_recovered", "object_recovered"])
            assert d.metric("kubesync_alerts_total", result="sent") == 4
            assert d.metric("kubesync_degraded_objects", sync=name) == 0
            assert d.terminate() == 0
    finally:
        hook.close()
