"""`kubesync apply --wait` against the real controllers: Healthy once the pods run (kwok plays the
kubelet of the embedded control plane's nodes), and a failure when they do not: a crash-looping
container is named, and a deadline the deployment controller declares exceeded is reported."""

from __future__ import annotations

import json

from tests.support import cli as support_cli
from tests.support.fixtures import require_simulated_nodes
from tests.support.manifests import deployment, simulated, write, yaml_text


def rollout(deadline: int, failure: str | None = None) -> str:
    obj = deployment(replicas=2, spec={"progressDeadlineSeconds": deadline})
    return yaml_text(simulated(obj, failure) if failure else obj)


def run_apply(folder, namespace, kubeconfig, timeout):
    proc = support_cli.run("apply", str(folder), "-n", namespace, "--name", f"w-{namespace[-6:]}", "--yes", "--wait",
                           "--timeout", timeout, kubeconfig=kubeconfig, timeout=120)
    return proc, proc.stdout, proc.stderr


def test_wait_returns_when_the_rollout_is_available(kubeconfig, namespace, tmp_path):
    folder = write(tmp_path / "w", {"deploy.yaml": rollout(600)})
    proc, out, err = run_apply(folder, namespace, kubeconfig, "90s")
    assert proc.returncode == 0, f"stdout:\n{out}\nstderr:\n{err}"
    assert out.rstrip().endswith("All 1 object(s) are Healthy.")


def test_wait_fails_naming_the_crash_looping_container(kubeconfig, namespace, tmp_path):
    require_simulated_nodes()
    folder = write(tmp_path / "w", {"deploy.yaml": rollout(600, "crash-loop")})
    proc, out, err = run_apply(folder, namespace, kubeconfig, "15s")
    assert proc.returncode == 1, f"stdout:\n{out}\nstderr:\n{err}"
    assert "Waiting for 1 object(s):" in out
    assert "timed out after 15s waiting for 1 object(s) to become Healthy:" in err
    line = next(line for line in err.splitlines() if f"apps/v1 Deployment {namespace}/web: " in line)
    assert f"apps/v1 Deployment {namespace}/web: Degraded: Waiting for rollout to finish: 0 of 2 updated replicas are available; pod web-" in line
    assert ": container web: CrashLoopBackOff after exit code 1 (Error): back-off " in line
    # `status` explains it the same way, read fresh.
    status = support_cli.run("status", str(folder), "-n", namespace, "--name", f"w-{namespace[-6:]}", "-o", "json",
                             kubeconfig=kubeconfig)
    row = next(r for r in json.loads(status.stdout)["objects"] if r["object"] == f"apps/v1 Deployment {namespace}/web")
    assert row["health"] == "Degraded" and ": container web: CrashLoopBackOff after exit code 1 (Error)" in row["reason"], row


def test_wait_fails_with_the_reason_when_the_deadline_is_exceeded(kubeconfig, namespace, tmp_path):
    require_simulated_nodes()
    folder = write(tmp_path / "w", {"deploy.yaml": rollout(2, "readiness-failure")})
    proc, out, err = run_apply(folder, namespace, kubeconfig, "20s")
    assert proc.returncode == 1, f"stdout:\n{out}\nstderr:\n{err}"
    assert f"apps/v1 Deployment {namespace}/web: Degraded:" in err
    assert "progress deadline exceeded: ReplicaSet" in err and "has timed out progressing" in err
    assert "ContainersNotReady: containers with unready status: [web]" in err
