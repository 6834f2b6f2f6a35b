"""`kubesync apply --wait` against the real controllers: Healthy once pods report Ready (there is no
kubelet, so the test plays the kubelet through the pods' status subresource), Degraded when the
deployment controller itself declares ProgressDeadlineExceeded."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

from tests.support import cli as support_cli
from tests.support.manifests import deployment, write, yaml_text

def rollout(deadline: int) -> str:
    return yaml_text(deployment(replicas=2, spec={"progressDeadlineSeconds": deadline}))


def start_apply(folder, namespace, kubeconfig, timeout):
    return support_cli.popen("apply", folder, "-n", namespace, "--name", f"w-{namespace[-6:]}", "--yes", "--wait",
                             "--timeout", timeout, kubeconfig=kubeconfig)


def mark_pods_ready(cluster, namespace, want: int, deadline: float) -> None:
    """Do what a kubelet would: report each pod Running and Ready."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    done: set[str] = set()
    while len(done) < want and time.monotonic() < deadline:
        for pod in cluster.get(f"/api/v1/namespaces/{namespace}/pods")["items"]:
            name = pod["metadata"]["name"]
            if name in done:
                continue
            status = {
                "phase": "Running",
                "startTime": now,
                "conditions": [{"type": t, "status": "True", "lastTransitionTime": now}
                               for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
                "containerStatuses": [{"name": "web", "ready": True, "restartCount": 0, "image": "nginx:1.25",
                                       "imageID": "", "started": True, "state": {"running": {"startedAt": now}}}],
            }
            cluster.request("PATCH", f"/api/v1/namespaces/{namespace}/pods/{name}/status", body={"status": status},
                            content_type="application/merge-patch+json")
            done.add(name)
        time.sleep(0.3)


def test_wait_returns_when_the_rollout_is_available(kubeconfig, cluster, namespace, tmp_path):
    folder = write(tmp_path / "w", {"deploy.yaml": rollout(600)})
    proc = start_apply(folder, namespace, kubeconfig, "90s")
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    try:
        # Only once kubesync says it is waiting do the pods become ready.
        deadline = time.monotonic() + 60
        while not any("Waiting for 1 object(s):" in line for line in lines) and time.monotonic() < deadline:
            assert proc.poll() is None, f"apply ended early: {''.join(lines)}{proc.stderr.read()}"
            time.sleep(0.1)
        mark_pods_ready(cluster, namespace, 2, time.monotonic() + 60)
        proc.wait(timeout=90)
        reader.join(10)
    finally:
        proc.kill()
    out, err = "".join(lines), proc.stderr.read()
    assert proc.returncode == 0, f"stdout:\n{out}\nstderr:\n{err}"
    assert "Waiting for 1 object(s):" in out
    assert f"apps/v1 Deployment {namespace}/web: Progressing:" in out
    assert out.rstrip().endswith("All 1 object(s) are Healthy.")


def test_wait_fails_with_the_reason_when_the_deadline_is_exceeded(kubeconfig, namespace, tmp_path):
    folder = write(tmp_path / "w", {"deploy.yaml": rollout(2)})
    proc = start_apply(folder, namespace, kubeconfig, "20s")
    try:
        out, err = proc.communicate(timeout=90)
    finally:
        proc.kill()
    assert proc.returncode == 1, f"stdout:\n{out}\nstderr:\n{err}"
    assert f"apps/v1 Deployment {namespace}/web: Degraded:" in err
    assert "progress deadline exceeded: ReplicaSet" in err and "has timed out progressing" in err
