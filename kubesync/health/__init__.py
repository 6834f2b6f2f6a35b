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
    _apiservice,
    _crd,
    _cronjob,
    _custom_resource,
    _hpa,
    _ingress,
    _job,
    _namespace,
    _pvc,
    _service,
)
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
    _being_deleted,
    _health,
    worst,
)
from kubesync.health.workloads import (  # noqa: F401
    _daemonset,
    _deployment,
    _pod,
    _replicaset,
    _statefulset,
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
        deleting = _being_deleted(obj)
        if deleting is not None:
            return deleting
        rule = RULES.get((group, kind), _custom_resource)
        return rule(obj)
    except (TypeError, ValueError, AttributeError) as e:  # a status in a shape no controller writes
        return _health(UNKNOWN, f"cannot assess {kind or 'object'} health: {e}")


# (group, kind) -> rule. The version is left out on purpose: a kind keeps its semantics across versions.
RULES: dict[tuple[str, str], Rule] = {
    ("apps", "Deployment"): _deployment,
    ("extensions", "Deployment"): _deployment,
    ("apps", "StatefulSet"): _statefulset,
    ("apps", "DaemonSet"): _daemonset,
    ("extensions", "DaemonSet"): _daemonset,
    ("apps", "ReplicaSet"): _replicaset,
    ("extensions", "ReplicaSet"): _replicaset,
    ("", "Pod"): _pod,
    ("batch", "Job"): _job,
    ("batch", "CronJob"): _cronjob,
    ("", "PersistentVolumeClaim"): _pvc,
    ("", "Service"): _service,
    ("networking.k8s.io", "Ingress"): _ingress,
    ("extensions", "Ingress"): _ingress,
    ("", "Namespace"): _namespace,
    ("autoscaling", "HorizontalPodAutoscaler"): _hpa,
    ("apiregistration.k8s.io", "APIService"): _apiservice,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): _crd,
}
