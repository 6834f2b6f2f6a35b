"""Faults in the middle of an apply, on a control plane of the tests' own (see conftest.fault_plane):
the apiserver killed and restarted, etcd briefly gone. Whatever the first run reports, a rerun
converges with nothing lost and nothing duplicated, and a plan after it is empty."""

from __future__ import annotations

import subprocess
import threading
import time

import pytest

from kubesync.cluster.api import Client
from kubesync import inventory
from kubesync.cluster.client import ClientSettings
from kubesync.cluster import inventory as stored_inventory
from tests.support import cli as support_cli
from tests.support.harness import SyncHarness
from tests.support.manifests import configmap, deployment, write

N_CONFIGMAPS = 200
N_DEPLOYMENTS = 3
CLI_TIMEOUT = 240


def write_source(folder):
    """200 ConfigMaps in four files and three Deployments: enough for an apply to take a while."""
    for f in range(4):
        write(folder, {f"configmaps-{f}.yaml": [configmap(f"cm-{i:03d}", {"index": i, "tag": "v1"})
                                               for i in range(f * 50, (f + 1) * 50)]})
    write(folder, {"deployments.yaml": [deployment(f"web-{i}", container={"name": "web"}) for i in range(N_DEPLOYMENTS)]})
    return folder


def run_cli(*args: str, kubeconfig: str) -> subprocess.CompletedProcess:
    return support_cli.run(*args, "--kubeconfig", kubeconfig, "--no-color", timeout=CLI_TIMEOUT)


def labelled(cluster, path: str, sync: str) -> list[dict]:
    return cluster.get(path, labelSelector=f"kubesync.io/sync={sync}")["items"]


def assert_converged(cluster, namespace: str, sync: str, inventory_namespace: str) -> None:
    """Exactly the desired objects, each once, each in the inventory with its live uid."""
    cms = labelled(cluster, f"/api/v1/namespaces/{namespace}/configmaps", sync)
    assert sorted(c["metadata"]["name"] for c in cms) == [f"cm-{i:03d}" for i in range(N_CONFIGMAPS)]
    assert all(c["data"] == {"index": c["metadata"]["name"][3:].lstrip("0") or "0", "tag": "v1"} for c in cms)
    others = [c["metadata"]["name"] for c in cluster.get(f"/api/v1/namespaces/{namespace}/configmaps")["items"]]
    others = [n for n in others if n != "kube-root-ca.crt" and not n.startswith("kubesync-inventory-")]
    assert sorted(others) == [f"cm-{i:03d}" for i in range(N_CONFIGMAPS)]
    deps = cluster.get(f"/apis/apps/v1/namespaces/{namespace}/deployments")["items"]
    assert sorted(d["metadata"]["name"] for d in deps) == [f"web-{i}" for i in range(N_DEPLOYMENTS)]
    live_uids = {("ConfigMap", c["metadata"]["name"]): c["metadata"]["uid"] for c in cms}
    live_uids.update({("Deployment", d["metadata"]["name"]): d["metadata"]["uid"] for d in deps})
    entries = stored_inventory.read(Client(cluster), sync, inventory_namespace)
    assert {(e.ref.kind, e.ref.name): e.uid for e in entries} == live_uids
    assert len(entries) == N_CONFIGMAPS + N_DEPLOYMENTS  # no entry twice
    # No Deployment was rewritten after its creation: the server bumps metadata.generation on every
    # spec change. (Counting ReplicaSets instead depends on how long the controller-manager's own
    # retry backoff lasts after the apiserver came back, which is not what this test is about.)
    assert {d["metadata"]["name"]: d["metadata"]["generation"] for d in deps} == {
        f"web-{i}": 1 for i in range(N_DEPLOYMENTS)
    }


def wait_until_objects_exist(cluster, namespace: str, sync: str, proc_or_thread, at_least: int = 10) -> int:
    """Poll until the apply has created its first objects; fail if it finished before we could interfere."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        n = len(labelled(cluster, f"/api/v1/namespaces/{namespace}/configmaps", sync))
        if n >= at_least:
            return n
        finished = proc_or_thread.poll() is not None if hasattr(proc_or_thread, "poll") else not proc_or_thread.is_alive()
        assert not finished, "the apply ended before the fault could be injected"
        time.sleep(0.03)
    raise AssertionError("the apply created no objects within 120 s")


RETRY_BUDGET = sum(ClientSettings().retry_backoff)  # how long the client keeps retrying one request


@pytest.mark.parametrize("downtime", [1.0, RETRY_BUDGET + 3.0], ids=["within-retry-budget", "beyond-retry-budget"])
def test_apiserver_killed_mid_apply_then_rerun_converges_without_loss_or_duplicates(
    downtime, fault_plane, fault_cluster, fault_namespace, fault_plane_running, tmp_path
):
    kubeconfig = str(fault_plane.kubeconfig)
    sync = f"fault-api-{fault_namespace[-6:]}"
    src = write_source(tmp_path / "app")
    args = ("apply", str(src), "--yes", "-n", fault_namespace, "--name", sync)
    # Output goes to files: the plan of 203 creates is bigger than a pipe's buffer.
    out, err = tmp_path / "first.out", tmp_path / "first.err"
    with open(out, "w") as stdout_f, open(err, "w") as stderr_f:
        first = support_cli.popen(*args, "--kubeconfig", kubeconfig, "--no-color", stdout=stdout_f, stderr=stderr_f)
    try:
        seen = wait_until_objects_exist(fault_cluster, fault_namespace, sync, first)
        api = fault_plane.component("kube-apiserver")
        api.stop(grace=1.0)  # SIGTERM, then SIGKILL after a second: a crash, not a drain
        time.sleep(downtime)
        api.start(tie_to_parent=fault_plane.tie_to_parent)
        first.wait(timeout=CLI_TIMEOUT)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    stderr = err.read_text()
    assert seen < N_CONFIGMAPS, "the apiserver was stopped after the apply had already finished its ConfigMaps"
    print(f"apiserver stopped {downtime:.1f}s with {seen} ConfigMaps created; the interrupted run exited {first.returncode}")

    # The interrupted run either rode it out on the client's retries or failed with one clear line.
    assert first.returncode in (0, 1), stderr
    assert "Traceback" not in stderr and "unexpected" not in stderr, stderr
    if downtime > RETRY_BUDGET:
        assert first.returncode == 1, "requests failed for longer than the retry budget, yet the apply succeeded"
    if first.returncode == 1:
        errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1, stderr
        assert "cannot reach" in stderr, stderr

    fault_plane_running()
    rerun = run_cli(*args, kubeconfig=kubeconfig)
    assert rerun.returncode == 0, rerun.stderr
    assert "! failed" not in rerun.stdout, rerun.stdout

    again = run_cli("plan", str(src), "-n", fault_namespace, "--name", sync, "--exit-code", kubeconfig=kubeconfig)
    assert again.returncode == 0, again.stdout + again.stderr  # 0 = no changes
    assert again.stdout == f"No changes. {N_CONFIGMAPS + N_DEPLOYMENTS} objects in sync.\n", again.stdout
    assert_converged(fault_cluster, fault_namespace, sync, inventory.DEFAULT_NAMESPACE)


class EngineRun:
    """Plan and apply a folder through the facade (kubesync.sync) in a background thread; keep the report or the error."""

    def __init__(self, cluster, folder, sync: str, namespace: str):
        self.harness = SyncHarness(cluster, folder, sync, namespace)
        self.report = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="engine-run", daemon=True)

    def plan(self):
        return self.harness.plan()

    def _run(self):
        try:
            _, self.report = self.harness.apply()
        except BaseException as e:  # kept for the assertions
            self.error = e

    def start(self):
        self.thread.start()
        return self

    def join(self, timeout: float = CLI_TIMEOUT):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"the apply did not finish within {timeout}s"
        return self


def test_etcd_briefly_unavailable_mid_apply_is_ridden_out_or_converges_on_rerun(
    fault_plane, fault_cluster, fault_namespace, fault_plane_running, tmp_path
):
    from kubesync.cluster.client import Cluster

    sync = f"fault-etcd-{fault_namespace[-6:]}"
    src = write_source(tmp_path / "app")
    run = EngineRun(Cluster.connect(str(fault_plane.kubeconfig)), src, sync, fault_namespace).start()
    seen = wait_until_objects_exist(fault_cluster, fault_namespace, sync, run.thread)
    etcd = fault_plane.component("etcd")
    etcd.stop(grace=1.0)
    time.sleep(2.5)
    etcd.start(tie_to_parent=fault_plane.tie_to_parent)
    run.join()
    assert seen < N_CONFIGMAPS, "etcd was stopped after the apply had already finished its ConfigMaps"

    print(f"etcd stopped with {seen} ConfigMaps created; error={run.error!r}, "
          f"failures={len(run.report.failures) if run.report else None}")
    if run.error is None and not run.report.failures:
        carried = True  # the apiserver and the client's retries rode it out
    else:
        carried = False
        messages = [str(run.error)] if run.error else [o.message for o in run.report.failures]
        assert all("unexpected" not in m for m in messages), messages
        fault_plane_running()
        rerun = EngineRun(Cluster.connect(str(fault_plane.kubeconfig)), src, sync, fault_namespace).start().join()
        assert rerun.error is None and not rerun.report.failures, (rerun.error, rerun.report and rerun.report.failures)

    planned = EngineRun(fault_cluster, src, sync, fault_namespace).plan()
    assert not planned.plan.has_changes, (carried, [str(a.ref) for a in planned.plan.changes][:10])
    assert_converged(fault_cluster, fault_namespace, sync, fault_namespace)


def test_a_sync_failed_by_an_outage_runs_again_as_soon_as_the_api_answers(fault_plane, fault_cluster, fault_namespace,
                                                                           fault_plane_running, tmp_path):
    """Issue 31: syncs that failed during a 75 s outage waited 31 s for their backoff timer after the API came
    back. The daemon probes the server while such syncs wait and runs them as soon as it answers."""
    from tests.integration.daemon_harness import DaemonProcess, configmap_yaml
    from tests.support.waits import wait_for as wait_until

    sync = f"outage-{fault_namespace[-6:]}"
    src = tmp_path / "app"
    src.mkdir()
    (src / "cm.yaml").write_text(configmap_yaml("cm", fault_namespace, k="one"))
    args = [str(src), "--name", sync, "-n", fault_namespace, "--interval", "5m"]
    with DaemonProcess(args, str(fault_plane.kubeconfig), tmp_path) as daemon:
        daemon.wait_every_sync_ran(60)
        errors_before = daemon.metric("kubesync_sync_runs_total", sync=sync, result="error") or 0
        api = fault_plane.component("kube-apiserver")
        api.stop(grace=1.0)
        try:
            (src / "cm.yaml").write_text(configmap_yaml("cm", fault_namespace, k="two"))
            # a failed run (each request of it retried for about 8 s first): the sync now waits for its backoff
            wait_until(lambda: (daemon.metric("kubesync_sync_runs_total", sync=sync, result="error") or 0) > errors_before,
                       90, what=f"a failed run; log:\n{daemon.log()}")
        finally:
            api.start(tie_to_parent=fault_plane.tie_to_parent)
        fault_plane_running()  # the server answers /readyz again
        back = time.monotonic()
        wait_until(lambda: (fault_cluster.get_or_none(f"/api/v1/namespaces/{fault_namespace}/configmaps/cm") or {})
                   .get("data") == {"k": "two"}, 30, what=f"the change applied; log:\n{daemon.log()}")
        took = time.monotonic() - back
        print(f"applied {took:.2f}s after the API server answered again")
        assert took < 3.0, f"the failed sync waited {took:.1f}s after the API server came back"
