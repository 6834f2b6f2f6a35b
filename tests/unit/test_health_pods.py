"""A workload explained by its pods (kubesync.health.pods): the pod statuses are those a kubelet
writes (and kwok's stages in kubesync/stages/ reproduce) for each failure."""

from __future__ import annotations

import pytest

from kubesync.health import DEGRADED, HEALTHY, PROGRESSING, SUSPENDED, Health, assess
from kubesync.health.pods import explain as explain_with, needs_pods, pod_selector, worst_pod
from kubesync.selector import parse

T0 = "2026-12-08T02:56:00Z"
WAITING = Health(PROGRESSING, "Waiting for rollout to finish: 0 of 1 updated replicas are available")
WEB = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"},
       "spec": {"selector": {"matchLabels": {"app": "web"}}}}


def explain(own, pods, workload=WEB):
    return explain_with(own, workload, pods)


def pod(name="web-5d9c8b7f6d-x2x7q", phase="Running", ready=True, containers=None, conditions=None, **meta):
    status = {"phase": phase, "conditions": conditions or [{"type": "Ready", "status": "True" if ready else "False"}]}
    if containers is not None:
        status["containerStatuses"] = containers
    meta.setdefault("labels", {"app": "web"})
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "shop", **meta},
            "spec": {"restartPolicy": "Always", "containers": [{"name": "web", "image": "nginx:1.25"}]}, "status": status}


def crash_looping(name="web-5d9c8b7f6d-crash", reason="Error", code=1):
    return pod(name, ready=False, containers=[{
        "name": "web", "ready": False, "restartCount": 2, "image": "nginx:1.25",
        "state": {"waiting": {"reason": "CrashLoopBackOff",
                              "message": f"back-off 20s restarting failed container=web pod={name}_shop(uid)"}},
        "lastState": {"terminated": {"exitCode": code, "reason": reason, "startedAt": T0, "finishedAt": T0}},
    }])


def unschedulable(name="big-86b4766648-f45th"):
    message = "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    return pod(name, phase="Pending", conditions=[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message}])


def test_a_crash_looping_pod_makes_a_progressing_workload_degraded_naming_the_container():
    h = explain(WAITING, [pod("web-5d9c8b7f6d-aaaaa"), crash_looping()])
    assert h.status is DEGRADED
    assert h.reason == (
        "Waiting for rollout to finish: 0 of 1 updated replicas are available; pod web-5d9c8b7f6d-crash: "
        "container web: CrashLoopBackOff after exit code 1 (Error): back-off 20s restarting failed container=web "
        "pod=web-5d9c8b7f6d-crash_shop(uid)"
    )


def test_an_oom_kill_reads_as_one():
    h = explain(WAITING, [crash_looping(reason="OOMKilled", code=137)])
    assert h.status is DEGRADED and "CrashLoopBackOff after exit code 137 (OOMKilled)" in h.reason


def test_an_unschedulable_pod_keeps_the_workload_progressing_with_the_schedulers_words():
    h = explain(WAITING, [unschedulable()])
    assert h.status is PROGRESSING
    assert h.reason.endswith("; pod big-86b4766648-f45th: Unschedulable: 0/3 nodes are available: 3 Insufficient cpu. "
                             "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.")


def test_a_degraded_workload_keeps_its_reason_first():
    own = Health(DEGRADED, "progress deadline exceeded: ReplicaSet \"web-5d9c8b7f6d\" has timed out progressing.")
    h = explain(own, [pod(ready=False, containers=[{"name": "web", "ready": False, "restartCount": 0, "state": {"running": {"startedAt": T0}}}],
                          conditions=[{"type": "Ready", "status": "False", "reason": "ContainersNotReady",
                                       "message": "containers with unready status: [web]"}])])
    assert h.status is DEGRADED
    assert h.reason == own.reason + "; pod web-5d9c8b7f6d-x2x7q: ContainersNotReady: containers with unready status: [web]"


@pytest.mark.parametrize("own", [Health(HEALTHY, "successfully rolled out"), Health(SUSPENDED, "deployment is paused")])
def test_healthy_or_suspended_workloads_are_never_explained(own):
    assert explain(own, [crash_looping()]) is own


def test_finished_deleted_and_healthy_pods_explain_nothing():
    done = pod("job-done", phase="Succeeded")
    failed = pod("job-failed", phase="Failed", ready=False)
    going = crash_looping("going")
    going["metadata"]["deletionTimestamp"] = T0
    assert worst_pod([done, failed, going, pod()]) is None
    assert explain(WAITING, [done, failed, going, pod()]) is WAITING
    assert explain(WAITING, []) is WAITING


def test_the_worst_pod_wins_then_the_first_by_name():
    assert worst_pod([unschedulable("a"), crash_looping("z")])[0] == "z"
    assert worst_pod([crash_looping("b"), crash_looping("a")])[0] == "a"


def test_only_the_pods_the_workload_selects_explain_it():
    other = crash_looping("api-crash")
    other["metadata"]["labels"] = {"app": "api"}
    assert explain(WAITING, [other, pod()]) is WAITING
    assert explain(WAITING, [other, crash_looping()]).reason.endswith(
        "; pod web-5d9c8b7f6d-crash: container web: CrashLoopBackOff after exit code 1 (Error): back-off 20s restarting "
        "failed container=web pod=web-5d9c8b7f6d-crash_shop(uid)")


def test_selectors_match_as_the_api_server_matches_them():
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"selector": {
        "matchLabels": {"app": "web", "tier": "front"},
        "matchExpressions": [{"key": "track", "operator": "In", "values": ["stable", "canary"]},
                             {"key": "env", "operator": "NotIn", "values": ["dev"]},
                             {"key": "team", "operator": "Exists"}, {"key": "legacy", "operator": "DoesNotExist"}]}}}
    assert pod_selector(deployment) == parse("app=web,tier=front,track in (canary,stable),env notin (dev),team,!legacy")
    job = {"apiVersion": "batch/v1", "kind": "Job", "spec": {"selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}}}}
    assert pod_selector(job) == parse("batch.kubernetes.io/controller-uid=u1")
    assert needs_pods(job, WAITING) and not needs_pods(job, Health(HEALTHY, "job completed"))


@pytest.mark.parametrize("obj", [
    None,
    {"apiVersion": "v1", "kind": "ConfigMap"},
    {"apiVersion": "batch/v1", "kind": "CronJob", "spec": {"selector": {"matchLabels": {"a": "b"}}}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"selector": {}}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"selector": {"matchExpressions": [{"key": "a", "operator": "Near"}]}}},
])
def test_no_selector_no_pods_asked_for(obj):
    assert pod_selector(obj) is None and not needs_pods(obj, WAITING)
    assert explain(WAITING, [crash_looping()], workload=obj) is WAITING


def test_the_pod_rule_is_the_one_assess_uses():
    assert worst_pod([crash_looping()])[1] == assess(crash_looping())
