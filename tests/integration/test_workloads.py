"""Workloads run on the embedded control plane: kube-scheduler binds pods to the Nodes kwok plays
the kubelet for, real controllers roll them out, and kubesync's health (through the facade, as
`apply --wait` and `status` read it) follows: Healthy when they run, and the reason kubectl or
Argo CD would show when they do not (kwok's stages in kubesync/stages/ make them fail on demand)."""

from __future__ import annotations

import textwrap

import pytest

from kubesync.health import DEGRADED, HEALTHY, PROGRESSING
from kubesync.model import ObjectRef
from tests.support.fixtures import require_simulated_nodes
from tests.support.harness import SyncHarness
from tests.support.manifests import deployment, service, simulated, yaml_text

pytestmark = pytest.mark.integration


def app(name: str, replicas: int = 1, *, simulate: dict | None = None, cpu: str = "100m", deadline: int = 600,
        sidecar: bool = False) -> str:
    """A Deployment whose pods ask kwok for `simulate` (kubesync.io/simulate and -container), if given."""
    obj = deployment(name, replicas=replicas, spec={"progressDeadlineSeconds": deadline},
                     container={"name": "web", "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}}})
    if sidecar:
        obj["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "busybox:1.36"})
    if simulate:
        simulated(obj, simulate["failure"], simulate.get("container"))
    return yaml_text(obj)


def workloads() -> str:
    """A StatefulSet behind its headless Service, a DaemonSet and a Job: the builders' Deployment reshaped."""
    headless = service("db", port=5432, target_port=5432)
    headless["spec"]["clusterIP"] = "None"
    db = {**deployment("db", replicas=2, image="postgres:16"), "kind": "StatefulSet"}
    db["spec"]["serviceName"] = "db"
    agent = {**deployment("agent", replicas=None, image="busybox:1.36"), "kind": "DaemonSet"}
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate"},
           "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
               {"name": "migrate", "image": "busybox:1.36", "command": ["sh", "-c", "echo migrated"]}]}}}}
    return yaml_text(headless, db, agent, job)


def sync(cluster, tmp_path, namespace, text: str) -> SyncHarness:
    folder = tmp_path / "src"
    folder.mkdir(exist_ok=True)
    (folder / "app.yaml").write_text(text)
    harness = SyncHarness(cluster, folder, f"w-{namespace[-6:]}", namespace)
    harness.apply_cleanly()
    return harness


def health_of(harness: SyncHarness, kind: str, name: str):
    planned = harness.plan()
    ref = next(r.ref for r in planned.resolved if r.ref.kind == kind and r.ref.name == name)
    return harness.pipeline.health([ref], harness.spec.name)[ref]


def test_three_nodes_are_ready_with_their_allocatable(cluster):
    require_simulated_nodes()
    nodes = {n["metadata"]["name"]: n for n in cluster.get("/api/v1/nodes")["items"]}
    assert sorted(nodes) == ["kwok-node-0", "kwok-node-1", "kwok-node-2"]
    for node in nodes.values():
        ready = {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"]
        assert ready == "True" and not node["spec"].get("taints")
        assert {k: node["status"]["allocatable"][k] for k in ("cpu", "memory", "pods")} == {"cpu": "4", "memory": "16Gi", "pods": "110"}


def test_a_deployment_of_three_replicas_becomes_available(cluster, namespace, tmp_path):
    harness = sync(cluster, tmp_path, namespace, app("web", 3))
    assert harness.pipeline.wait(harness.plan(), 60) == 1
    live = cluster.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/web")
    assert live["status"]["availableReplicas"] == 3
    pods = cluster.get(f"/api/v1/namespaces/{namespace}/pods")["items"]
    assert len(pods) == 3 and all(p["spec"]["nodeName"].startswith("kwok-node-") for p in pods)
    assert {p["status"]["phase"] for p in pods} == {"Running"}
    assert str(health_of(harness, "Deployment", "web")) == "Healthy: successfully rolled out: 3 of 3 replicas available"


def test_statefulset_daemonset_and_job_become_healthy(cluster, namespace, tmp_path):
    harness = sync(cluster, tmp_path, namespace, workloads())
    assert harness.pipeline.wait(harness.plan(), 90) == 4
    nodes = len(cluster.get("/api/v1/nodes")["items"])
    ds = cluster.get(f"/apis/apps/v1/namespaces/{namespace}/daemonsets/agent")["status"]
    assert ds["desiredNumberScheduled"] == ds["numberAvailable"] == nodes  # one pod on every node
    pods = cluster.get(f"/api/v1/namespaces/{namespace}/pods", labelSelector="app=agent")["items"]
    assert sorted(p["spec"]["nodeName"] for p in pods) == sorted(n["metadata"]["name"] for n in cluster.get("/api/v1/nodes")["items"])
    job = cluster.get(f"/apis/batch/v1/namespaces/{namespace}/jobs/migrate")["status"]
    assert job["succeeded"] == 1 and {c["type"] for c in job["conditions"] if c["status"] == "True"} >= {"Complete"}
    assert cluster.get(f"/apis/apps/v1/namespaces/{namespace}/statefulsets/db")["status"]["readyReplicas"] == 2


def test_a_cronjob_makes_a_job_that_completes(cluster, namespace, tmp_path, server_version, wait_for):
    api = "batch/v1" if server_version >= (1, 21) else "batch/v1beta1"  # CronJob is GA from 1.21
    harness = sync(cluster, tmp_path, namespace, textwrap.dedent(f"""\
        apiVersion: {api}
        kind: CronJob
        metadata: {{name: report}}
        spec:
          schedule: "* * * * *"
          jobTemplate:
            spec:
              template:
                spec:
                  restartPolicy: OnFailure
                  containers: [{{name: report, image: busybox:1.36}}]
        """))
    jobs = f"/apis/batch/v1/namespaces/{namespace}/jobs"
    done = wait_for(lambda: [j for j in cluster.get(jobs)["items"] if (j.get("status") or {}).get("succeeded")], 100,
                    what="a Job made by the CronJob to complete")
    assert done[0]["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    job = ObjectRef("batch", "v1", "Job", namespace, done[0]["metadata"]["name"])
    assert str(harness.pipeline.health([job], harness.spec.name)[job]) == "Healthy: job completed: 1 succeeded"
    assert health_of(harness, "CronJob", "report").status is HEALTHY


FAILURES = [
    # (annotation, extra, status, the words kubectl's STATUS column or Argo CD show)
    ("crash-loop", {}, DEGRADED, "container web: CrashLoopBackOff after exit code 1 (Error): back-off 10s restarting failed container=web"),
    ("oom-killed", {}, DEGRADED, "container web: CrashLoopBackOff after exit code 137 (OOMKilled)"),
    ("image-pull-failure", {}, DEGRADED, 'container web: ImagePullBackOff: Back-off pulling image "nginx:1.25"'),
    ("readiness-failure", {}, PROGRESSING, "ContainersNotReady: containers with unready status: [web]"),
]


@pytest.mark.parametrize("failure, extra, status, words", FAILURES, ids=[f[0] for f in FAILURES])
def test_a_simulated_failure_reads_as_kubectl_shows_it(cluster, namespace, tmp_path, wait_for, failure, extra, status, words):
    require_simulated_nodes()
    harness = sync(cluster, tmp_path, namespace, app("web", simulate={"failure": failure, **extra}))
    health = wait_for(lambda: (h := health_of(harness, "Deployment", "web")) and words in h.reason and h, 60,
                      what=f"{failure} in the Deployment's health")
    assert health.status is status, health
    # The Deployment's own words first (which ones depends on how far its controller got), then the pod's.
    assert health.reason.startswith("Waiting for rollout to finish: 0 ") and "; pod web-" in health.reason, health


def test_a_crash_loop_restarts_with_the_kubelets_container_status(cluster, namespace, tmp_path, wait_for):
    """Only the container named by kubesync.io/simulate-container fails; restartCount and lastState
    are what `kubectl get pods` prints as RESTARTS and `describe` as Last State."""
    require_simulated_nodes()
    sync(cluster, tmp_path, namespace, app("web", simulate={"failure": "crash-loop", "container": "sidecar"}, sidecar=True))
    pods = f"/api/v1/namespaces/{namespace}/pods"

    def statuses():
        items = cluster.get(pods)["items"]
        return items and {c["name"]: c for c in items[0]["status"].get("containerStatuses") or []}

    first = wait_for(statuses, 30, what="container statuses")
    assert first["web"]["ready"] is True and "running" in first["web"]["state"]
    sidecar = first["sidecar"]
    assert sidecar["ready"] is False and sidecar["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert sidecar["restartCount"] == 1
    assert sidecar["lastState"]["terminated"]["exitCode"] == 1 and sidecar["lastState"]["terminated"]["reason"] == "Error"
    # After the first back-off (10s) the kubelet restarts it, and it crashes again.
    again = wait_for(lambda: (s := statuses()) and s["sidecar"]["restartCount"] >= 2 and s, 30, what="a second restart")
    assert again["sidecar"]["state"]["waiting"]["message"].startswith("back-off 20s restarting failed container=sidecar pod=web-")


def test_an_unschedulable_pod_reads_progressing_with_the_schedulers_reason(cluster, namespace, tmp_path, wait_for):
    require_simulated_nodes()
    harness = sync(cluster, tmp_path, namespace, app("big", cpu="64"))
    health = wait_for(lambda: (h := health_of(harness, "Deployment", "big")) and "Unschedulable" in h.reason and h, 60,
                      what="the scheduler's reason")
    assert health.status is PROGRESSING
    assert "; pod big-" in health.reason and ": Unschedulable: 0/3 nodes are available: 3 Insufficient cpu." in health.reason


def test_a_failing_readiness_probe_turns_degraded_at_the_progress_deadline(cluster, namespace, tmp_path, wait_for):
    require_simulated_nodes()
    harness = sync(cluster, tmp_path, namespace, app("web", simulate={"failure": "readiness-failure"}, deadline=3))
    health = wait_for(lambda: (h := health_of(harness, "Deployment", "web")).status is DEGRADED and h, 60, what="Degraded")
    assert health.reason.startswith("progress deadline exceeded: ")
    assert health.reason.endswith(": ContainersNotReady: containers with unready status: [web]")


def test_a_job_whose_pod_crashes_fails_at_its_backoff_limit(cluster, namespace, tmp_path, wait_for):
    require_simulated_nodes()
    harness = sync(cluster, tmp_path, namespace, textwrap.dedent("""\
        apiVersion: batch/v1
        kind: Job
        metadata: {name: migrate}
        spec:
          backoffLimit: 0
          template:
            metadata: {annotations: {kubesync.io/simulate: crash-loop}}
            spec:
              restartPolicy: Never
              containers: [{name: migrate, image: busybox:1.36}]
        """))
    health = wait_for(lambda: (h := health_of(harness, "Job", "migrate")).status is DEGRADED and h, 60, what="the Job to fail")
    assert "BackoffLimitExceeded" in health.reason
    pod = cluster.get(f"/api/v1/namespaces/{namespace}/pods")["items"][0]
    assert pod["status"]["phase"] == "Failed"
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 1
