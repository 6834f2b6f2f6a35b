"""Health rules per kind, on live objects in the shapes the API server returns.

Builders below write objects the way `kubectl get -o yaml` shows them: zero counts are omitted from
status (the API's omitempty), conditions carry type/status/reason/message/lastTransitionTime, and
`lastState: {}` is present but empty on containers that never restarted. Whole objects copied in
that shape live in fixtures/health/.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from kubesync.health import RULES, SEVERITY, Health, HealthStatus, assess, worst

HEALTHY = HealthStatus.HEALTHY
PROGRESSING = HealthStatus.PROGRESSING
DEGRADED = HealthStatus.DEGRADED
SUSPENDED = HealthStatus.SUSPENDED
MISSING = HealthStatus.MISSING
UNKNOWN = HealthStatus.UNKNOWN

FIXTURES = Path(__file__).parent / "fixtures" / "health"
T0 = "2021-03-01T10:00:00Z"


# -- builders ------------------------------------------------------------------------------------------


def meta(name: str = "web", namespace: str | None = "shop", generation: int | None = 1, **extra) -> dict:
    m = {
        "creationTimestamp": T0,
        "name": name,
        "resourceVersion": "48211",
        "uid": "6f1c2d0e-8a4b-4c1e-9d55-0b7c3e2a1f90",
    }
    if namespace:
        m["namespace"] = namespace
    if generation is not None:
        m["generation"] = generation
    m.update(extra)
    return m


def cond(type_: str, status: str, reason: str | None = None, message: str | None = None, **extra) -> dict:
    c = {"lastTransitionTime": T0, "status": status, "type": type_}
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    c.update(extra)
    return c


def counts(**fields) -> dict:
    """Status counters as the API serializes them: zero and unset are left out."""
    return {k: v for k, v in fields.items() if v}


TEMPLATE = {
    "metadata": {"creationTimestamp": None, "labels": {"app": "web"}},
    "spec": {
        "containers": [
            {
                "image": "registry.example.com/web:1.4.2",
                "imagePullPolicy": "IfNotPresent",
                "name": "web",
                "resources": {},
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
            }
        ],
        "dnsPolicy": "ClusterFirst",
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "terminationGracePeriodSeconds": 30,
    },
}

DEPLOYMENT_AVAILABLE = cond(
    "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.", lastUpdateTime=T0
)


def deployment(
    replicas: int | None = 3,
    *,
    generation: int = 1,
    observed: int | None = 1,
    status_replicas: int = 3,
    updated: int = 3,
    available: int = 3,
    paused: bool = False,
    progressing: tuple[str, str, str] = ("True", "NewReplicaSetAvailable", 'ReplicaSet "web-5d9c8b7f6d" has successfully progressed.'),
    api_version: str = "apps/v1",
) -> dict:
    spec = {
        "progressDeadlineSeconds": 600,
        "revisionHistoryLimit": 10,
        "selector": {"matchLabels": {"app": "web"}},
        "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}, "type": "RollingUpdate"},
        "template": copy.deepcopy(TEMPLATE),
    }
    if replicas is not None:
        spec["replicas"] = replicas
    if paused:
        spec["paused"] = True
    status: dict = {}
    if observed is not None:
        status = counts(
            availableReplicas=available,
            observedGeneration=observed,
            readyReplicas=available,
            replicas=status_replicas,
            unavailableReplicas=max(status_replicas - available, 0),
            updatedReplicas=updated,
        )
        status["conditions"] = [DEPLOYMENT_AVAILABLE, cond("Progressing", *progressing, lastUpdateTime=T0)]
    return {"apiVersion": api_version, "kind": "Deployment", "metadata": meta(generation=generation), "spec": spec, "status": status}


def statefulset(
    replicas: int = 3,
    *,
    generation: int = 1,
    observed: int = 1,
    ready: int = 3,
    updated: int = 3,
    current: int = 3,
    current_rev: str = "db-6b8f7c9d5",
    update_rev: str = "db-6b8f7c9d5",
    strategy: dict | None = None,
) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": meta("db", generation=generation),
        "spec": {
            "podManagementPolicy": "OrderedReady",
            "replicas": replicas,
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": {"app": "db"}},
            "serviceName": "db",
            "template": copy.deepcopy(TEMPLATE),
            # what the API server stores for a StatefulSet created without updateStrategy
            "updateStrategy": strategy if strategy is not None else {"rollingUpdate": {"partition": 0}, "type": "RollingUpdate"},
        },
        "status": {
            "collisionCount": 0,
            **counts(currentReplicas=current, observedGeneration=observed, readyReplicas=ready, replicas=replicas, updatedReplicas=updated),
            "currentRevision": current_rev,
            "updateRevision": update_rev,
        },
    }


def daemonset(
    *, generation: int = 1, observed: int = 1, desired: int = 3, updated: int = 3, available: int = 3, strategy: str = "RollingUpdate"
) -> dict:
    update_strategy: dict = {"type": strategy}
    if strategy == "RollingUpdate":
        update_strategy["rollingUpdate"] = {"maxUnavailable": 1}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": meta("node-agent", namespace="kube-system", generation=generation),
        "spec": {
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": {"app": "node-agent"}},
            "template": copy.deepcopy(TEMPLATE),
            "updateStrategy": update_strategy,
        },
        # these four are not omitempty in DaemonSetStatus
        "status": {
            "currentNumberScheduled": desired,
            "desiredNumberScheduled": desired,
            "numberMisscheduled": 0,
            "numberReady": available,
            **counts(numberAvailable=available, numberUnavailable=desired - available, observedGeneration=observed, updatedNumberScheduled=updated),
        },
    }


def replicaset(replicas: int = 3, *, generation: int = 1, observed: int = 1, available: int = 3, conditions: list | None = None) -> dict:
    status = counts(
        availableReplicas=available, fullyLabeledReplicas=available, observedGeneration=observed, readyReplicas=available, replicas=available
    )
    if conditions:
        status["conditions"] = conditions
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": meta("web-5d9c8b7f6d", generation=generation),
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}, "template": copy.deepcopy(TEMPLATE)},
        "status": status,
    }


def container(name: str = "web", *, state: dict | None = None, last: dict | None = None, ready: bool = True, restarts: int = 0) -> dict:
    """A containerStatuses entry; `state` defaults to running."""
    running = state is None or "running" in state
    return {
        "containerID": f"docker://{name}0123456789abcdef",
        "image": f"registry.example.com/{name}:1.4.2",
        "imageID": f"docker-pullable://registry.example.com/{name}@sha256:8d2c1b0a9f8e7d6c",
        "lastState": last or {},
        "name": name,
        "ready": ready,
        "restartCount": restarts,
        "started": running,
        "state": state or {"running": {"startedAt": T0}},
    }


def waiting(reason: str, message: str | None = None) -> dict:
    w = {"reason": reason}
    if message:
        w["message"] = message
    return {"waiting": w}


def terminated(reason: str, exit_code: int, message: str | None = None) -> dict:
    t = {
        "containerID": "docker://0123456789abcdef",
        "exitCode": exit_code,
        "finishedAt": "2021-03-01T10:05:40Z",
        "reason": reason,
        "startedAt": "2021-03-01T10:05:31Z",
    }
    if message:
        t["message"] = message
    return {"terminated": t}


def pod_conditions(ready: bool, unready: str = "web") -> list[dict]:
    if ready:
        r = [cond("Ready", "True", lastProbeTime=None), cond("ContainersReady", "True", lastProbeTime=None)]
    else:
        msg = f"containers with unready status: [{unready}]"
        r = [
            cond("Ready", "False", "ContainersNotReady", msg, lastProbeTime=None),
            cond("ContainersReady", "False", "ContainersNotReady", msg, lastProbeTime=None),
        ]
    return [cond("Initialized", "True", lastProbeTime=None), *r, cond("PodScheduled", "True", lastProbeTime=None)]


def pod(
    phase: str = "Running",
    *,
    containers: list[dict] | None = None,
    init: list[dict] | None = None,
    conditions: list[dict] | None = None,
    restart_policy: str = "Always",
    **status_extra,
) -> dict:
    status: dict = {"phase": phase, "qosClass": "BestEffort"}
    if phase != "Pending" or containers:
        status.update(hostIP="10.0.0.12", podIP="10.244.2.17", podIPs=[{"ip": "10.244.2.17"}], startTime=T0)
    if conditions is not None:
        status["conditions"] = conditions
    if containers is not None:
        status["containerStatuses"] = containers
    if init is not None:
        status["initContainerStatuses"] = init
    status.update(status_extra)
    spec = copy.deepcopy(TEMPLATE["spec"])
    spec.update(restartPolicy=restart_policy, nodeName="node-2", serviceAccountName="default")
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta("web-5d9c8b7f6d-8xk2p", generation=None, generateName="web-5d9c8b7f6d-"),
        "spec": spec,
        "status": status,
    }


def job(*, conditions: list[dict] | None = None, suspend: bool = False, **status_counts) -> dict:
    status = counts(**status_counts)
    if conditions:
        status["conditions"] = conditions
    if status_counts:
        status["startTime"] = T0
    spec = {
        "backoffLimit": 6,
        "completions": 1,
        "parallelism": 1,
        "template": copy.deepcopy(TEMPLATE),
    }
    if suspend:
        spec["suspend"] = True
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta("migrate"), "spec": spec, "status": status}


def cronjob(*, suspend: bool = False, status: dict | None = None) -> dict:
    return {
        "apiVersion": "batch/v1beta1",
        "kind": "CronJob",
        "metadata": meta("nightly"),
        "spec": {
            "concurrencyPolicy": "Allow",
            "failedJobsHistoryLimit": 1,
            "jobTemplate": {"metadata": {"creationTimestamp": None}, "spec": {"template": copy.deepcopy(TEMPLATE)}},
            "schedule": "0 3 * * *",
            "successfulJobsHistoryLimit": 3,
            "suspend": suspend,
        },
        "status": status if status is not None else {},
    }


def pvc(phase: str, volume: str | None = "pvc-1d2e3f4a") -> dict:
    spec = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, "storageClassName": "standard", "volumeMode": "Filesystem"}
    status: dict = {"phase": phase}
    if volume:
        spec["volumeName"] = volume
    if phase == "Bound":
        status.update(accessModes=["ReadWriteOnce"], capacity={"storage": "1Gi"})
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta("data", generation=None), "spec": spec, "status": status}


def service(type_: str = "ClusterIP", ingress: list[dict] | None = None) -> dict:
    spec = {
        "clusterIP": "10.96.14.7",
        "clusterIPs": ["10.96.14.7"],
        "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}],
        "selector": {"app": "web"},
        "sessionAffinity": "None",
        "type": type_,
    }
    if type_ in ("LoadBalancer", "NodePort"):
        spec["ports"][0]["nodePort"] = 31380
        spec["externalTrafficPolicy"] = "Cluster"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(generation=None),
        "spec": spec,
        "status": {"loadBalancer": {"ingress": ingress} if ingress else {}},
    }


def ingress(api_version: str = "networking.k8s.io/v1", addresses: list[dict] | None = None) -> dict:
    return {
        "apiVersion": api_version,
        "kind": "Ingress",
        "metadata": meta(),
        "spec": {"rules": [{"host": "shop.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]},
        "status": {"loadBalancer": {"ingress": addresses} if addresses else {}},
    }


HPA_SPEC_V2 = {
    "maxReplicas": 10,
    "minReplicas": 2,
    "metrics": [{"resource": {"name": "cpu", "target": {"averageUtilization": 70, "type": "Utilization"}}, "type": "Resource"}],
    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
}
ABLE = cond("AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size")
ACTIVE = cond(
    "ScalingActive", "True", "ValidMetricFound",
    "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)",
)
NOT_LIMITED = cond("ScalingLimited", "False", "DesiredWithinRange", "the desired count is within the acceptable range")


def hpa(api_version: str = "autoscaling/v2beta2", conditions: list[dict] | None = None, current: int = 2, desired: int = 2) -> dict:
    status: dict = counts(currentReplicas=current, desiredReplicas=desired)
    if conditions is not None:
        status["conditions"] = conditions
        status["currentMetrics"] = [{"resource": {"current": {"averageUtilization": 12, "averageValue": "12m"}, "name": "cpu"}, "type": "Resource"}]
    return {"apiVersion": api_version, "kind": "HorizontalPodAutoscaler", "metadata": meta(), "spec": copy.deepcopy(HPA_SPEC_V2), "status": status}


def hpa_v1(conditions: list[dict] | None) -> dict:
    """autoscaling/v1: no status.conditions; the controller's conditions are a JSON annotation."""
    m = meta()
    if conditions is not None:
        m["annotations"] = {"autoscaling.alpha.kubernetes.io/conditions": json.dumps(conditions)}
    return {
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": m,
        "spec": {"maxReplicas": 10, "minReplicas": 2, "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "targetCPUUtilizationPercentage": 70},
        "status": {"currentReplicas": 2, "desiredReplicas": 2},
    }


def apiservice(conditions: list[dict] | None, local: bool = False) -> dict:
    spec = {"group": "metrics.k8s.io", "groupPriorityMinimum": 100, "version": "v1beta1", "versionPriority": 100}
    if not local:
        spec.update(insecureSkipTLSVerify=True, service={"name": "metrics-server", "namespace": "kube-system", "port": 443})
    return {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": meta("v1beta1.metrics.k8s.io", namespace=None, generation=None),
        "spec": spec,
        "status": {"conditions": conditions} if conditions is not None else {},
    }


def crd(conditions: list[dict] | None) -> dict:
    names = {"kind": "Widget", "listKind": "WidgetList", "plural": "widgets", "singular": "widget"}
    status: dict = {"acceptedNames": names if conditions else {"kind": "", "plural": ""}, "storedVersions": ["v1"]}
    if conditions is not None:
        status["conditions"] = conditions
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": meta("widgets.example.com", namespace=None),
        "spec": {"group": "example.com", "names": names, "scope": "Namespaced", "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {"type": "object"}}}]},
        "status": status,
    }


def namespace(phase: str = "Active", deleting: bool = False) -> dict:
    m = meta("old-shop", namespace=None, generation=None)
    if deleting:
        m["deletionTimestamp"] = T0
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": m, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": phase}}


def custom(status: dict | None = None, generation: int = 1, api_version: str = "kustomize.toolkit.fluxcd.io/v1beta1", kind: str = "Kustomization") -> dict:
    obj = {"apiVersion": api_version, "kind": kind, "metadata": meta("apps", generation=generation), "spec": {"interval": "5m", "path": "./apps"}}
    if status is not None:
        obj["status"] = status
    return obj


def with_meta(obj: dict, **fields) -> dict:
    obj = copy.deepcopy(obj)
    obj["metadata"].update(fields)
    return obj


def load(name: str) -> dict:
    return yaml.safe_load((FIXTURES / name).read_text())


def check(obj: dict | None, status: HealthStatus, reason: str) -> None:
    assert assess(obj) == Health(status, reason)


# -- Deployment ----------------------------------------------------------------------------------------

DEPLOYMENT_CASES = [
    pytest.param(deployment(), HEALTHY, "successfully rolled out: 3 of 3 replicas available", id="rolled-out"),
    pytest.param(deployment(paused=True, generation=3, observed=2), SUSPENDED, "deployment is paused", id="paused"),
    pytest.param(deployment(observed=None), PROGRESSING, "waiting for the controller to observe generation 1", id="just-created-no-status"),
    pytest.param(deployment(generation=4, observed=3), PROGRESSING, "waiting for the controller to observe generation 4", id="new-generation-unobserved"),
    pytest.param(
        deployment(status_replicas=4, updated=1, available=3, progressing=("True", "ReplicaSetUpdated", 'ReplicaSet "web-7c9f8d6b5c" is progressing.')),
        PROGRESSING, "Waiting for rollout to finish: 1 out of 3 new replicas have been updated", id="updating",
    ),
    pytest.param(
        deployment(status_replicas=4, updated=3, available=3), PROGRESSING,
        "Waiting for rollout to finish: 1 old replicas are pending termination", id="old-replicas-terminating",
    ),
    pytest.param(
        deployment(updated=3, available=1), PROGRESSING,
        "Waiting for rollout to finish: 1 of 3 updated replicas are available", id="waiting-for-availability",
    ),
    pytest.param(
        deployment(generation=3, observed=2, progressing=("False", "ProgressDeadlineExceeded", 'ReplicaSet "web-7c9f8d6b5c" has timed out progressing.')),
        PROGRESSING, "waiting for the controller to observe generation 3", id="deadline-from-previous-generation-ignored",
    ),
    pytest.param(
        deployment(0, generation=2, observed=2, status_replicas=0, updated=0, available=0), HEALTHY, "scaled to 0 replicas", id="scaled-to-zero",
    ),
    pytest.param(
        deployment(None, status_replicas=0, updated=0, available=0), PROGRESSING,
        "Waiting for rollout to finish: 0 out of 1 new replicas have been updated", id="spec-replicas-defaults-to-1",
    ),
    pytest.param(
        deployment(api_version="extensions/v1beta1", updated=3, available=2), PROGRESSING,
        "Waiting for rollout to finish: 2 of 3 updated replicas are available", id="extensions-v1beta1",
    ),
    pytest.param(
        load("deployment-progress-deadline.yaml"), DEGRADED,
        'progress deadline exceeded: ReplicaSet "web-7c9f8d6b5c" has timed out progressing.', id="fixture-progress-deadline",
    ),
]


@pytest.mark.parametrize(("obj", "status", "reason"), DEPLOYMENT_CASES)
def test_deployment(obj, status, reason):
    check(obj, status, reason)


def test_deployment_scaled_to_zero_has_no_replica_counts_in_status():
    obj = deployment(0, generation=2, observed=2, status_replicas=0, updated=0, available=0)
    assert not {"replicas", "updatedReplicas", "availableReplicas"} & set(obj["status"])  # as the API omits them
    assert assess(obj).status is HEALTHY


# -- StatefulSet ---------------------------------------------------------------------------------------

STATEFULSET_CASES = [
    pytest.param(statefulset(), HEALTHY, "successfully rolled out: 3 of 3 pods ready", id="rolled-out"),
    pytest.param(statefulset(observed=0, ready=0, updated=0, current=0), PROGRESSING, "waiting for the controller to observe generation 1", id="never-observed"),
    pytest.param(statefulset(generation=2, observed=1), PROGRESSING, "waiting for the controller to observe generation 2", id="new-generation-unobserved"),
    pytest.param(statefulset(ready=1), PROGRESSING, "Waiting for 2 pods to be ready (1 of 3 ready)", id="pods-not-ready"),
    pytest.param(statefulset(ready=2), PROGRESSING, "Waiting for 1 pod to be ready (2 of 3 ready)", id="one-pod-not-ready"),
    pytest.param(
        load("statefulset-rolling-update.yaml"), PROGRESSING, "Waiting for rollout to finish: 1 out of 3 new pods have been updated",
        id="fixture-rolling-update-partition-0",
    ),
    pytest.param(
        statefulset(updated=0, current=3, update_rev="db-84c7d9f6b", strategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}),
        PROGRESSING, "Waiting for partitioned roll out to finish: 0 out of 1 new pods have been updated", id="partition-waiting",
    ),
    pytest.param(
        statefulset(updated=1, current=2, update_rev="db-84c7d9f6b", strategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}),
        HEALTHY, "partitioned roll out complete: 1 new pods have been updated (partition 2)", id="partition-complete",
    ),
    pytest.param(
        statefulset(updated=0, current=3, update_rev="db-84c7d9f6b", strategy={"type": "OnDelete"}),
        HEALTHY, "3 of 3 pods ready (OnDelete: pods take the new template when deleted)", id="on-delete-old-revision",
    ),
    pytest.param(
        statefulset(ready=2, strategy={"type": "OnDelete"}), PROGRESSING, "Waiting for 1 pod to be ready (2 of 3 ready)", id="on-delete-not-ready",
    ),
    pytest.param(
        statefulset(updated=1, current=2, update_rev="db-84c7d9f6b", strategy={"type": "RollingUpdate"}),
        PROGRESSING, "waiting for statefulset rolling update to complete 1 pods at revision db-84c7d9f6b", id="no-partition-revisions-differ",
    ),
    pytest.param(
        statefulset(strategy={"type": "RollingUpdate"}), HEALTHY,
        "statefulset rolling update complete 3 pods at revision db-6b8f7c9d5", id="no-partition-revisions-equal",
    ),
]


@pytest.mark.parametrize(("obj", "status", "reason"), STATEFULSET_CASES)
def test_statefulset(obj, status, reason):
    check(obj, status, reason)


# -- DaemonSet -----------------------------------------------------------------------------------------

DAEMONSET_CASES = [
    pytest.param(daemonset(), HEALTHY, "successfully rolled out: 3 of 3 pods available", id="rolled-out"),
    pytest.param(daemonset(generation=2, observed=1), PROGRESSING, "waiting for the controller to observe generation 2", id="unobserved"),
    pytest.param(daemonset(updated=1, available=3), PROGRESSING, "Waiting for daemon set rollout to finish: 1 out of 3 new pods have been updated", id="updating"),
    pytest.param(daemonset(updated=3, available=2), PROGRESSING, "Waiting for daemon set rollout to finish: 2 of 3 updated pods are available", id="not-available"),
    pytest.param(daemonset(updated=1, available=3, strategy="OnDelete"), HEALTHY, "successfully rolled out: 3 of 3 pods available", id="on-delete-old-pods"),
    pytest.param(daemonset(updated=3, available=1, strategy="OnDelete"), PROGRESSING, "Waiting for daemon set rollout to finish: 1 of 3 updated pods are available", id="on-delete-not-available"),
    pytest.param(daemonset(desired=0, updated=0, available=0), HEALTHY, "no nodes match: 0 pods scheduled", id="no-matching-nodes"),
]


@pytest.mark.parametrize(("obj", "status", "reason"), DAEMONSET_CASES)
def test_daemonset(obj, status, reason):
    check(obj, status, reason)


# -- ReplicaSet ----------------------------------------------------------------------------------------

QUOTA = 'pods "web-5d9c8b7f6d-" is forbidden: exceeded quota: compute, requested: cpu=500m, used: cpu=2, limited: cpu=2'
REPLICASET_CASES = [
    pytest.param(replicaset(), HEALTHY, "3 of 3 replicas available", id="available"),
    pytest.param(replicaset(generation=2, observed=1), PROGRESSING, "waiting for the controller to observe generation 2", id="unobserved"),
    pytest.param(replicaset(available=1), PROGRESSING, "Waiting for rollout to finish: 1 of 3 replicas are available", id="not-available"),
    pytest.param(
        replicaset(available=2, conditions=[cond("ReplicaFailure", "True", "FailedCreate", QUOTA)]), DEGRADED, f"FailedCreate: {QUOTA}", id="replica-failure",
    ),
    pytest.param(replicaset(0, available=0), HEALTHY, "0 of 0 replicas available", id="scaled-to-zero"),
]


@pytest.mark.parametrize(("obj", "status", "reason"), REPLICASET_CASES)
def test_replicaset(obj, status, reason):
    check(obj, status, reason)


# -- Pod -----------------------------------------------------------------------------------------------

BACKOFF = "back-off 2m40s restarting failed container=web pod=web-5d9c8b7f6d-8xk2p_shop(0b6a7e5c-1f2d-4c3b-8a9e-7d6c5b4a3f21)"
STUCK = [
    ("CrashLoopBackOff", BACKOFF),
    ("ImagePullBackOff", 'Back-off pulling image "registry.example.com/web:1.99"'),
    ("ErrImagePull", "rpc error: code = Unknown desc = Error response from daemon: manifest for registry.example.com/web:1.99 not found: manifest unknown"),
    ("CreateContainerConfigError", 'configmap "web-config" not found'),
    ("InvalidImageName", 'Failed to apply default image tag "registry.example.com/web:": couldn\'t parse image reference "registry.example.com/web:": invalid reference format'),
    ("CreateContainerError", "context deadline exceeded"),
]


@pytest.mark.parametrize(("reason", "message"), STUCK, ids=[r for r, _ in STUCK])
def test_pod_stuck_container_is_degraded_with_its_name(reason, message):
    # image problems keep the pod in phase Pending; a crash loop happens in phase Running
    phase = "Running" if reason == "CrashLoopBackOff" else "Pending"
    obj = pod(
        phase,
        containers=[container("log-shipper"), container("web", state=waiting(reason, message), ready=False)],
        conditions=pod_conditions(False),
    )
    check(obj, DEGRADED, f"container web: {reason}: {message}")


@pytest.mark.parametrize("policy", ["Never", "OnFailure"])
def test_pod_stuck_image_is_degraded_for_run_to_completion_pods_too(policy):
    obj = pod("Pending", containers=[container(state=waiting("ImagePullBackOff", 'Back-off pulling image "migrate:8"'), ready=False)], restart_policy=policy)
    check(obj, DEGRADED, 'container web: ImagePullBackOff: Back-off pulling image "migrate:8"')


POD_CASES = [
    pytest.param(pod(containers=[container()], conditions=pod_conditions(True)), HEALTHY, "running and ready", id="running-ready"),
    pytest.param(
        pod(containers=[container(ready=False)], conditions=pod_conditions(False)), PROGRESSING,
        "ContainersNotReady: containers with unready status: [web]", id="running-not-ready",
    ),
    pytest.param(
        pod(containers=[container(ready=False, restarts=2, last=terminated("Error", 1))], conditions=pod_conditions(False)), DEGRADED,
        "container web is crash-looping: exited with code 1 (Error), restarted 2 times",
        id="running-not-ready-after-nonzero-exit-is-a-crash-loop",
    ),
    pytest.param(
        pod(containers=[container(ready=False, restarts=4, last=terminated("Error", 3, "config.yaml: no such file"))],
            conditions=pod_conditions(False)), DEGRADED,
        "container web is crash-looping: exited with code 3 (Error), restarted 4 times: config.yaml: no such file",
        id="crash-loop-carries-the-container-message",
    ),
    pytest.param(
        pod(containers=[container(state=terminated("Error", 2), ready=False, restarts=1)], conditions=pod_conditions(False)), DEGRADED,
        "container web is crash-looping: exited with code 2 (Error), restarted 1 time",
        id="terminated-between-restarts-is-a-crash-loop",
    ),
    pytest.param(
        pod(containers=[container(ready=False, restarts=1, last=terminated("Completed", 0))], conditions=pod_conditions(False)), PROGRESSING,
        "ContainersNotReady: containers with unready status: [web]",
        id="restart-after-clean-exit-is-not-a-crash-loop",
    ),
    pytest.param(
        pod(containers=[container(ready=True, restarts=5, last=terminated("Error", 1))], conditions=pod_conditions(True)), HEALTHY,
        "running and ready", id="ready-again-after-old-crashes",
    ),
    pytest.param(
        pod(containers=[container(ready=False, restarts=3, last=terminated("OOMKilled", 137))], conditions=pod_conditions(False)), DEGRADED,
        "container web was OOMKilled (restarted 3 times)", id="oomkilled-not-ready",
    ),
    pytest.param(
        pod(containers=[container(ready=True, restarts=1, last=terminated("OOMKilled", 137))], conditions=pod_conditions(True)), HEALTHY,
        "running and ready", id="oomkilled-once-ready-again",
    ),
    pytest.param(
        load("pod-crashloop-oomkilled.yaml"), DEGRADED,
        f"container web: CrashLoopBackOff after exit code 137 (OOMKilled): {BACKOFF}", id="fixture-crashloop-after-oomkill",
    ),
    pytest.param(load("pod-unschedulable.yaml"), PROGRESSING, "Unschedulable: 0/3 nodes are available: 3 Insufficient cpu.", id="fixture-unschedulable"),
    pytest.param(
        pod("Pending", containers=[container(state=waiting("ContainerCreating"), ready=False)], conditions=pod_conditions(False)), PROGRESSING,
        "container web: ContainerCreating", id="pending-container-creating",
    ),
    pytest.param(
        pod(
            "Pending",
            init=[container("migrate", state=waiting("CrashLoopBackOff", "back-off 10s restarting failed container=migrate"), ready=False, restarts=1, last=terminated("Error", 2))],
            containers=[container(state=waiting("PodInitializing"), ready=False)],
            conditions=pod_conditions(False),
        ),
        DEGRADED, "init container migrate: CrashLoopBackOff after exit code 2 (Error): back-off 10s restarting failed container=migrate", id="init-container-crashloop",
    ),
    pytest.param(
        pod(
            "Pending",
            init=[container("migrate", ready=False)],
            containers=[container(state=waiting("PodInitializing"), ready=False)],
            conditions=pod_conditions(False),
        ),
        PROGRESSING, "container web: PodInitializing", id="init-container-running",
    ),
    pytest.param(pod("Pending", conditions=[cond("PodScheduled", "True", lastProbeTime=None)]), PROGRESSING, "pod is pending", id="pending-scheduled-no-statuses"),
    pytest.param(pod("Succeeded", containers=[container(state=terminated("Completed", 0), ready=False)], restart_policy="Never"), HEALTHY, "pod completed successfully", id="succeeded"),
    pytest.param(
        pod("Failed", containers=[container(state=terminated("Error", 1), ready=False)], restart_policy="Never"), DEGRADED,
        "container web exited with code 1 (Error)", id="failed-exit-code",
    ),
    pytest.param(
        pod("Failed", containers=[container(state=terminated("Error", 3, "schema version 41 not found"), ready=False)], restart_policy="Never"), DEGRADED,
        "container web exited with code 3 (Error): schema version 41 not found", id="failed-termination-message",
    ),
    pytest.param(
        pod("Failed", containers=[container(state=terminated("OOMKilled", 137), ready=False)], restart_policy="Never"), DEGRADED,
        "container web exited with code 137 (OOMKilled)", id="failed-oomkilled",
    ),
    pytest.param(
        pod("Failed", containers=[container(state=terminated("Error", 137), ready=False)], reason="Evicted",
            message="The node was low on resource: memory. Container web was using 1978620Ki, which exceeds its request of 0. "),
        DEGRADED, "Evicted: The node was low on resource: memory. Container web was using 1978620Ki, which exceeds its request of 0.", id="evicted",
    ),
    pytest.param(pod("Failed"), DEGRADED, "pod failed", id="failed-without-detail"),
    pytest.param(
        pod(containers=[container()], conditions=pod_conditions(True), restart_policy="Never"), PROGRESSING,
        "running to completion (restartPolicy Never)", id="never-running",
    ),
    pytest.param(
        pod(containers=[container(restarts=1, last=terminated("Error", 1))], conditions=pod_conditions(True), restart_policy="OnFailure"), PROGRESSING,
        "running to completion (restartPolicy OnFailure)", id="onfailure-running-after-retry",
    ),
    pytest.param(
        pod("Unknown", message="Pod was on node node-2 which stopped reporting"), UNKNOWN,
        "pod phase Unknown: Pod was on node node-2 which stopped reporting", id="phase-unknown",
    ),
]


@pytest.mark.parametrize(("obj", "status", "reason"), POD_CASES)
def test_pod(obj, status, reason):
    check(obj, status, reason)


# -- Job, CronJob --------------------------------------------------------------------------------------

COMPLETE = cond("Complete", "True", lastProbeTime=T0)
JOB_CASES = [
    pytest.param(job(conditions=[COMPLETE], succeeded=1), HEALTHY, "job completed: 1 succeeded", id="complete"),
    pytest.param(load("job-backoff-limit.yaml"), DEGRADED, "job failed: BackoffLimitExceeded: Job has reached the specified backoff limit", id="fixture-backoff-limit"),
    pytest.param(
        job(conditions=[cond("Failed", "True", "DeadlineExceeded", "Job was active longer than specified deadline", lastProbeTime=T0)], failed=1),
        DEGRADED, "job failed: DeadlineExceeded: Job was active longer than specified deadline", id="deadline-exceeded",
    ),
    pytest.param(job(suspend=True), SUSPENDED, "job is suspended", id="suspended"),
    pytest.param(job(suspend=True, conditions=[COMPLETE], succeeded=1), HEALTHY, "job completed: 1 succeeded", id="suspended-after-completion"),
    pytest.param(job(active=1, failed=2), PROGRESSING, "waiting for job to complete: 1 active, 0 succeeded, 2 failed", id="running-with-retries"),
    pytest.param(job(), PROGRESSING, "waiting for job to complete: 0 active, 0 succeeded, 0 failed", id="just-created"),
]


@pytest.mark.parametrize(("obj", "status", "reason"), JOB_CASES)
def test_job(obj, status, reason):
    check(obj, status, reason)


ACTIVE_JOB = {"apiVersion": "batch/v1", "kind": "Job", "name": "nightly-1614567600", "namespace": "shop", "resourceVersion": "56001", "uid": "4f3e2d1c-0b9a-4876-a5f4-e3d2c1b0a987"}
CRONJOB_CASES = [
    pytest.param(cronjob(suspend=True, status={"lastScheduleTime": T0}), SUSPENDED, "cronjob is suspended", id="suspended"),
    pytest.param(cronjob(status={"lastScheduleTime": "2021-03-01T03:00:00Z"}), HEALTHY, "last scheduled at 2021-03-01T03:00:00Z", id="scheduled"),
    pytest.param(
        cronjob(status={"active": [ACTIVE_JOB], "lastScheduleTime": "2021-03-01T03:00:00Z"}), HEALTHY,
        "last scheduled at 2021-03-01T03:00:00Z, 1 active", id="running-now",
    ),
    pytest.param(cronjob(), HEALTHY, "not scheduled yet (schedule '0 3 * * *')", id="never-scheduled"),
]


@pytest.mark.parametrize(("obj", "status", "reason"), CRONJOB_CASES)
def test_cronjob(obj, status, reason):
    check(obj, status, reason)


# -- PVC, Service, Ingress, Namespace -----------------------------------------------------------------

CORE_CASES = [
    pytest.param(pvc("Bound"), HEALTHY, "bound to volume pvc-1d2e3f4a", id="pvc-bound"),
    pytest.param(pvc("Pending", volume=None), PROGRESSING, "waiting for a volume to be bound", id="pvc-pending"),
    pytest.param(pvc("Lost"), DEGRADED, "claim lost its volume pvc-1d2e3f4a", id="pvc-lost"),
    pytest.param(service(), HEALTHY, "ClusterIP service", id="service-cluster-ip"),
    pytest.param(service("NodePort"), HEALTHY, "NodePort service", id="service-node-port"),
    pytest.param(
        service("LoadBalancer"), PROGRESSING, "waiting for the load balancer to be provisioned (status.loadBalancer.ingress is empty)", id="service-lb-pending",
    ),
    pytest.param(service("LoadBalancer", [{"ip": "203.0.113.10"}]), HEALTHY, "load balancer at 203.0.113.10", id="service-lb-ip"),
    pytest.param(
        service("LoadBalancer", [{"hostname": "a1b2c3.elb.example.com"}]), HEALTHY, "load balancer at a1b2c3.elb.example.com", id="service-lb-hostname",
    ),
    pytest.param(ingress(addresses=[{"ip": "203.0.113.20"}]), HEALTHY, "address 203.0.113.20", id="ingress-address"),
    pytest.param(
        ingress("extensions/v1beta1"), PROGRESSING,
        "waiting for an address in status.loadBalancer.ingress (Argo CD's convention: an ingress controller "
        "that never publishes one leaves the Ingress Progressing)",
        id="ingress-no-address-extensions",
    ),
    pytest.param(namespace(), HEALTHY, "active", id="namespace-active"),
    pytest.param(namespace("Terminating"), PROGRESSING, "namespace is being deleted", id="namespace-terminating-phase"),
    pytest.param(load("namespace-terminating.yaml"), PROGRESSING, "namespace is being deleted", id="fixture-namespace-terminating"),
]


@pytest.mark.parametrize(("obj", "status", "reason"), CORE_CASES)
def test_core_kinds(obj, status, reason):
    check(obj, status, reason)


# -- HPA -----------------------------------------------------------------------------------------------

SCALE_FAILED = cond("AbleToScale", "False", "FailedGetScale", 'the HPA controller was unable to get the target\'s current scale: deployments/scale.apps "web" not found')
HPA_CASES = [
    pytest.param(hpa(conditions=[ABLE, ACTIVE, NOT_LIMITED]), HEALTHY, "2 current / 2 desired replicas", id="v2beta2-healthy"),
    pytest.param(hpa("autoscaling/v2", conditions=[ABLE, ACTIVE, NOT_LIMITED], current=4, desired=6), HEALTHY, "4 current / 6 desired replicas", id="v2-scaling-up"),
    pytest.param(
        hpa(conditions=[ABLE, ACTIVE, cond("ScalingLimited", "True", "TooFewReplicas", "the desired replica count is less than the minimum replica count")]),
        HEALTHY, "2 current / 2 desired replicas (TooFewReplicas: the desired replica count is less than the minimum replica count)", id="scaling-limited-is-fine",
    ),
    pytest.param(
        hpa(conditions=[SCALE_FAILED]), DEGRADED, f"AbleToScale is False: FailedGetScale: {SCALE_FAILED['message']}", id="able-to-scale-false",
    ),
    pytest.param(
        hpa(conditions=[ABLE, cond("ScalingActive", "False", "InvalidSelector", "the HPA target's scale is missing a selector"), NOT_LIMITED]),
        DEGRADED, "ScalingActive is False: InvalidSelector: the HPA target's scale is missing a selector", id="scaling-active-false",
    ),
    pytest.param(
        hpa(conditions=[ABLE, cond("ScalingActive", "False", "ScalingDisabled", "scaling is disabled since the replica count of the target is zero")], current=0, desired=0),
        SUSPENDED, "ScalingDisabled: scaling is disabled since the replica count of the target is zero", id="target-scaled-to-zero",
    ),
    pytest.param(
        hpa(conditions=[cond("AbleToScale", "False", "BackoffBoth", "the time since the previous scale is still within both the downscale and upscale forbidden windows"), ACTIVE]),
        HEALTHY, "2 current / 2 desired replicas", id="backoff-after-recent-scale",
    ),
    pytest.param(hpa(conditions=None, current=0, desired=0), PROGRESSING, "waiting for the autoscaler to report its conditions", id="v2beta2-no-conditions-yet"),
    pytest.param(hpa_v1(None), PROGRESSING, "waiting for the autoscaler to report its conditions", id="v1-no-annotation-yet"),
    pytest.param(hpa_v1([ABLE, ACTIVE, NOT_LIMITED]), HEALTHY, "2 current / 2 desired replicas", id="v1-annotation-healthy"),
    pytest.param(
        load("hpa-v1-missing-metrics.yaml"), DEGRADED,
        "ScalingActive is False: FailedGetResourceMetric: the HPA was unable to compute the replica count: unable to get metrics for "
        "resource cpu: unable to fetch metrics from resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)",
        id="fixture-v1-annotation-missing-metrics",
    ),
]


@pytest.mark.parametrize(("obj", "status", "reason"), HPA_CASES)
def test_hpa(obj, status, reason):
    check(obj, status, reason)


# -- APIService, CRD -----------------------------------------------------------------------------------

API_CASES = [
    pytest.param(apiservice([cond("Available", "True", "Local", "Local APIServices are always available")], local=True), HEALTHY, "available (Local)", id="apiservice-local"),
    pytest.param(apiservice([cond("Available", "True", "Passed", "all checks passed")]), HEALTHY, "available (Passed)", id="apiservice-remote"),
    pytest.param(
        load("apiservice-missing-endpoints.yaml"), DEGRADED,
        'MissingEndpoints: endpoints for service/metrics-server in "kube-system" have no addresses with port name "https"', id="fixture-apiservice-missing-endpoints",
    ),
    pytest.param(
        apiservice([cond("Available", "False", "FailedDiscoveryCheck", "failing or missing response from https://10.96.12.34:443/apis/metrics.k8s.io/v1beta1: bad status from https://10.96.12.34:443/apis/metrics.k8s.io/v1beta1: 503")]),
        DEGRADED,
        "FailedDiscoveryCheck: failing or missing response from https://10.96.12.34:443/apis/metrics.k8s.io/v1beta1: bad status from https://10.96.12.34:443/apis/metrics.k8s.io/v1beta1: 503",
        id="apiservice-discovery-failing",
    ),
    pytest.param(apiservice(None), PROGRESSING, "waiting for the Available condition", id="apiservice-no-status-yet"),
    pytest.param(
        crd([cond("NamesAccepted", "True", "NoConflicts", "no conflicts found"), cond("Established", "True", "InitialNamesAccepted", "the initial names have been accepted")]),
        HEALTHY, "established", id="crd-established",
    ),
    pytest.param(
        crd([cond("NamesAccepted", "False", "PluralConflict", '"widgets" is already in use'), cond("Established", "False", "NotAccepted", "not all names are accepted")]),
        DEGRADED, 'names not accepted: PluralConflict: "widgets" is already in use', id="crd-names-conflict",
    ),
    pytest.param(
        crd([cond("NamesAccepted", "True", "NoConflicts", "no conflicts found"), cond("Established", "False", "Installing", "the initial names have been accepted")]),
        PROGRESSING, "waiting for the CRD to be established (Installing: the initial names have been accepted)", id="crd-installing",
    ),
    pytest.param(crd(None), PROGRESSING, "waiting for the CRD to be established", id="crd-no-conditions-yet"),
]


@pytest.mark.parametrize(("obj", "status", "reason"), API_CASES)
def test_api_extension_kinds(obj, status, reason):
    check(obj, status, reason)


# -- deletion, missing, kinds without rules -----------------------------------------------------------


def test_missing_object():
    check(None, MISSING, "not found in the cluster")


def test_deletion_wins_over_any_rule():
    obj = with_meta(deployment(), deletionTimestamp=T0, deletionGracePeriodSeconds=0, finalizers=["foregroundDeletion"])
    check(obj, PROGRESSING, "deployment is being deleted (waiting for finalizers: foregroundDeletion)")


def test_deletion_of_a_kind_without_rules():
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("settings", generation=None, deletionTimestamp=T0), "data": {"a": "1"}}
    check(obj, PROGRESSING, "configmap is being deleted")


NO_RULES = [
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("settings", generation=None), "data": {"LOG_LEVEL": "info"}},
    {"apiVersion": "v1", "kind": "Secret", "metadata": meta("creds", generation=None), "type": "Opaque", "data": {"password": "aHVudGVyMg=="}},
    {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(generation=None), "secrets": [{"name": "web-token-x7k2p"}]},
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta("reader", generation=None), "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]},
    {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": meta("reader", namespace=None, generation=None),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "web", "namespace": "shop"}],
    },
    {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta("deny-all"), "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}},
]


@pytest.mark.parametrize("obj", NO_RULES, ids=[o["kind"] for o in NO_RULES])
def test_kinds_without_rules_are_healthy_when_they_exist(obj):
    check(obj, HEALTHY, "no health rules; exists")


# -- custom resources: the common status conventions --------------------------------------------------

CUSTOM_CASES = [
    pytest.param(
        custom({"observedGeneration": 1, "conditions": [cond("Ready", "True", "ReconciliationSucceeded", "Applied revision: main/5f3c2a1")]}),
        HEALTHY, "ReconciliationSucceeded: Applied revision: main/5f3c2a1", id="ready-true",
    ),
    pytest.param(
        custom({"observedGeneration": 1, "conditions": [cond("Ready", "False", "BuildFailed", "kustomize build failed: accumulating resources: 'apps/missing' not found")]}),
        DEGRADED, "BuildFailed: kustomize build failed: accumulating resources: 'apps/missing' not found", id="ready-false",
    ),
    pytest.param(
        custom({"observedGeneration": 1, "conditions": [cond("Ready", "False", "Progressing", "reconciliation in progress")]}),
        PROGRESSING, "Progressing: reconciliation in progress", id="ready-false-progressing",
    ),
    pytest.param(
        custom({"conditions": [cond("Ready", "False", "Reconciling", "waiting for the database")]}),
        PROGRESSING, "Reconciling: waiting for the database", id="ready-false-reconciling",
    ),
    pytest.param(
        custom({"observedGeneration": 1, "conditions": [cond("Ready", "Unknown", "Progressing", "reconciliation in progress")]}),
        PROGRESSING, "Progressing: reconciliation in progress", id="ready-unknown",
    ),
    pytest.param(
        custom({"observedGeneration": 1, "conditions": [cond("Ready", "True", "ReconciliationSucceeded", "Applied revision: main/5f3c2a1")]}, generation=2),
        PROGRESSING, "waiting for the controller to observe generation 2", id="stale-observed-generation",
    ),
    pytest.param(
        custom({"conditions": [cond("Ready", "True", "Ready", "")]}, generation=7), HEALTHY, "Ready", id="no-observed-generation-reported",
    ),
    pytest.param(
        custom({"observedGeneration": 1, "conditions": [cond("Stalled", "True", "InvalidPath", "path './apps' not found"), cond("Ready", "False", "InvalidPath", "path './apps' not found")]}),
        DEGRADED, "stalled: InvalidPath: path './apps' not found", id="kstatus-stalled",
    ),
    pytest.param(
        custom({"observedGeneration": 1, "conditions": [cond("Reconciling", "True", "Progressing", "creating 3 replicas")]}),
        PROGRESSING, "Progressing: creating 3 replicas", id="kstatus-reconciling-without-ready",
    ),
    pytest.param(custom({"phase": "Running", "replicas": 2}), HEALTHY, "no Ready condition; exists", id="status-without-conditions"),
    pytest.param(custom(), HEALTHY, "no health rules; exists", id="no-status"),
]


@pytest.mark.parametrize(("obj", "status", "reason"), CUSTOM_CASES)
def test_custom_resource(obj, status, reason):
    check(obj, status, reason)


# -- robustness and aggregation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        pytest.param(
            {**deployment(), "status": {"observedGeneration": 1, "updatedReplicas": "3"}},
            "cannot assess Deployment health: expected an integer, got '3'", id="string-count",
        ),
        pytest.param(
            {**custom(), "status": {"conditions": {"Ready": "True"}}},
            "cannot assess Kustomization health: conditions is a dict, not a list", id="conditions-not-a-list",
        ),
        pytest.param(
            with_meta(hpa_v1(None), annotations={"autoscaling.alpha.kubernetes.io/conditions": "[{"}),
            "cannot assess HorizontalPodAutoscaler health: Expecting property name enclosed in double quotes: line 1 column 3 (char 2)",
            id="hpa-v1-bad-annotation",
        ),
        pytest.param(["not", "an", "object"], "cannot assess health: expected an object, got list", id="not-a-dict"),
    ],
)
def test_malformed_status_is_unknown_not_an_exception(obj, reason):
    check(obj, UNKNOWN, reason)


def test_reason_is_one_bounded_line():
    long = "step failed:\n" + "x" * 1000
    health = assess(custom({"conditions": [cond("Ready", "False", "Failed", long)]}))
    assert health.status is DEGRADED
    assert "\n" not in health.reason
    assert len(health.reason) == 300
    assert health.reason.startswith("Failed: step failed: xxx") and health.reason.endswith("x…")


def test_rules_are_keyed_by_group_and_kind_not_version():
    assert all(isinstance(k, tuple) and len(k) == 2 for k in RULES)
    healthy = assess({**deployment(), "apiVersion": "apps/v1beta2"})
    assert healthy == assess(deployment())


def test_health_is_frozen_and_prints_status_and_reason():
    health = assess(None)
    with pytest.raises(AttributeError):
        health.status = HEALTHY  # type: ignore[misc]
    assert str(health) == "Missing: not found in the cluster"
    assert HealthStatus("Degraded") is DEGRADED and DEGRADED == "Degraded"


def test_assess_does_not_mutate_its_input():
    obj = load("pod-crashloop-oomkilled.yaml")
    before = copy.deepcopy(obj)
    assess(obj)
    assert obj == before


def test_severity_order():
    assert SEVERITY == (HEALTHY, SUSPENDED, PROGRESSING, UNKNOWN, MISSING, DEGRADED)
    assert set(SEVERITY) == set(HealthStatus)


@pytest.mark.parametrize(
    ("healths", "expected"),
    [
        pytest.param([], HEALTHY, id="empty"),
        pytest.param([HEALTHY, HEALTHY], HEALTHY, id="all-healthy"),
        pytest.param([HEALTHY, SUSPENDED], SUSPENDED, id="suspended-beats-healthy"),
        pytest.param([SUSPENDED, PROGRESSING], PROGRESSING, id="progressing-beats-suspended"),
        pytest.param([PROGRESSING, UNKNOWN], UNKNOWN, id="unknown-beats-progressing"),
        pytest.param([UNKNOWN, MISSING], MISSING, id="missing-beats-unknown"),
        pytest.param([MISSING, DEGRADED, HEALTHY], DEGRADED, id="degraded-beats-all"),
        pytest.param([Health(HEALTHY, "ok"), Health(PROGRESSING, "rolling"), "Suspended"], PROGRESSING, id="health-values-and-strings"),
    ],
)
def test_worst(healths, expected):
    assert worst(healths) is expected


def test_worst_accepts_a_generator_of_assessments():
    objects = [deployment(), None, load("pod-unschedulable.yaml")]
    assert worst(assess(o) for o in objects) is MISSING
