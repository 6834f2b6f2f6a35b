"""Health of live objects: a pure function from the dict the API server returns to a frozen Health.

Modelled on Argo CD's gitops-engine ``pkg/health`` and, for workloads, on ``kubectl rollout status``
(the same checks in the same order, with kubectl's wording). Rules are looked up in ``RULES`` by
(group, kind), so the API version does not matter (``apps/v1`` and ``extensions/v1beta1`` Deployments
share one rule) and adding a kind is one line in the table. No I/O, no ``kubernetes`` import.

    assess(None)                          -> Missing
    metadata.deletionTimestamp set        -> Progressing ("<kind> is being deleted")
    (group, kind) in RULES                -> that rule
    anything else                         -> the common status.conditions conventions, else Healthy
    a rule failing on a malformed status  -> Unknown ("cannot assess ...")
"""

from __future__ import annotations

from collections.abc import Mapping

from kubesync.model import KubeObject, split_api_version
from kubesync.health.resources import (  # noqa: F401
    apiservice_health,
    crd_health,
    cronjob_health,
    custom_resource_health,
    hpa_health,
    ingress_health,
    job_health,
    namespace_health,
    pvc_health,
    service_health,
)
from kubesync.health.conditions import being_deleted, verdict  # noqa: F401
from kubesync.health.status import (  # noqa: F401  (the public names, importable from kubesync.health)
    DEGRADED,
    HEALTHY,
    Health,
    HealthStatus,
    MISSING,
    PROGRESSING,
    REASON_LIMIT,
    Rule,
    SEVERITY,
    SUSPENDED,
    UNKNOWN,
    worst,
)
from kubesync.health.workloads import (  # noqa: F401
    daemonset_health,
    deployment_health,
    pod_health,
    replicaset_health,
    statefulset_health,
)


def assess(obj: KubeObject | None) -> Health:
    """Health of one live object as the API returned it; None means it is not in the cluster."""
    if obj is None:
        return Health(MISSING, "not found in the cluster")
    if not isinstance(obj, Mapping):
        return Health(UNKNOWN, f"cannot assess health: expected an object, got {type(obj).__name__}")
    kind = str(obj.get("kind") or "")
    group, _ = split_api_version(str(obj.get("apiVersion") or ""))
    try:
        deleting = being_deleted(obj)
        if deleting is not None:
            return deleting
        rule = RULES.get((group, kind), custom_resource_health)
        return rule(obj)
    except (TypeError, ValueError, AttributeError) as e:  # a status in a shape no controller writes
        return verdict(UNKNOWN, f"cannot assess {kind or 'object'} health: {e}")


# (group, kind) -> rule. The version is left out on purpose: a kind keeps its semantics across versions.
RULES: dict[tuple[str, str], Rule] = {
    ("apps", "Deployment"): deployment_health,
    ("extensions", "Deployment"): deployment_health,
    ("apps", "StatefulSet"): statefulset_health,
    ("apps", "DaemonSet"): daemonset_health,
    ("extensions", "DaemonSet"): daemonset_health,
    ("apps", "ReplicaSet"): replicaset_health,
    ("extensions", "ReplicaSet"): replicaset_health,
    ("", "Pod"): pod_health,
    ("batch", "Job"): job_health,
    ("batch", "CronJob"): cronjob_health,
    ("", "PersistentVolumeClaim"): pvc_health,
    ("", "Service"): service_health,
    ("networking.k8s.io", "Ingress"): ingress_health,
    ("extensions", "Ingress"): ingress_health,
    ("", "Namespace"): namespace_health,
    ("autoscaling", "HorizontalPodAutoscaler"): hpa_health,
    ("apiregistration.k8s.io", "APIService"): apiservice_health,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): crd_health,
}
