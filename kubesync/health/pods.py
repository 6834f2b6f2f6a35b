"""A workload's health explained by its pods: the reason a person acts on is in a pod's status.

A Deployment's own status says only "0 of 3 updated replicas are available"; why is written on its
pods: a container in CrashLoopBackOff, an image that cannot be pulled, the scheduler's "0/3 nodes are
available: 3 Insufficient cpu". kapp and Argo CD's resource tree show the pods for that reason. Here,
a workload that is not Healthy gets its worst live pod's reason appended, and a Degraded pod (a
crash loop, an image pull failure, an OOM kill) makes the workload Degraded at once, without waiting
for progressDeadlineSeconds (ten minutes by default). A Healthy workload is never touched: old or
surplus pods do not make a finished rollout look broken.

Pure: the workload and its namespace's pods (the facade LISTs them, once per namespace per poll) in,
a Health out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kubesync.health.status import (  # noqa: F401
    DEGRADED,
    HEALTHY,
    Health,
    PROGRESSING,
    SEVERITY,
    UNKNOWN,
)
from kubesync.health.conditions import verdict  # noqa: F401
from kubesync.health.workloads import pod_health
from kubesync.model import KubeObject, split_api_version
from kubesync.selector import Requirement, matches

# Kinds whose pods carry the reason, by (group, kind). CronJobs are left out: their pods belong to
# Jobs, which are judged (and explained) on their own.
POD_OWNERS = frozenset({
    ("apps", "Deployment"), ("extensions", "Deployment"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"), ("extensions", "DaemonSet"),
    ("apps", "ReplicaSet"), ("extensions", "ReplicaSet"),
    ("batch", "Job"),
})
# Only these are explained: a Healthy, Suspended or Missing workload has nothing a pod could add.
EXPLAINED = frozenset({PROGRESSING, DEGRADED, UNKNOWN})
_RANK = {status: rank for rank, status in enumerate(SEVERITY)}
_OPERATORS = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!exists"}


def pod_selector(obj: Mapping[str, Any] | None) -> tuple[Requirement, ...] | None:
    """The workload's spec.selector as label requirements, or None: not a kind with pods, or no
    selector to match with (every pod of the namespace would say nothing about this workload)."""
    if not isinstance(obj, Mapping):
        return None
    group, _ = split_api_version(str(obj.get("apiVersion") or ""))
    if (group, obj.get("kind")) not in POD_OWNERS:
        return None
    selector = (obj.get("spec") or {}).get("selector")
    if not isinstance(selector, Mapping):
        return None
    out = [Requirement(str(k), "=", frozenset({str(v)})) for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        op = _OPERATORS.get(expr.get("operator"))
        if op is None:
            return None  # an operator this code does not know: better no explanation than a wrong one
        out.append(Requirement(str(expr.get("key")), op, frozenset(str(v) for v in expr.get("values") or ())))
    return tuple(out) or None


def needs_pods(obj: Mapping[str, Any] | None, own: Health) -> bool:
    """Whether `explain` could add anything: a workload with a selector that is not Healthy."""
    return own.status in EXPLAINED and pod_selector(obj) is not None


def _live(pod: Mapping[str, Any]) -> bool:
    """Pods that still count: finished ones (Succeeded, Failed) are the controller's to judge, and a
    pod being deleted is on its way out."""
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    return not meta.get("deletionTimestamp") and status.get("phase") not in ("Succeeded", "Failed")


def worst_pod(pods: Iterable[KubeObject]) -> tuple[str, Health] | None:
    """(name, health) of the live pod that explains most: the most severe, then the first by name;
    None when every live pod is Healthy (there is nothing to explain) or there is none."""
    judged = sorted(
        ((str((p.get("metadata") or {}).get("name") or "?"), pod_health(p)) for p in pods if isinstance(p, Mapping) and _live(p)),
        key=lambda item: (-_RANK[item[1].status], item[0]),
    )
    if not judged or judged[0][1].status is HEALTHY:
        return None
    return judged[0]


def explain(own: Health, obj: Mapping[str, Any] | None, pods: Iterable[KubeObject]) -> Health:
    """`own`, with the reason of the worst live pod the workload `obj` selects among `pods` (any pods of
    its namespace) appended; Degraded when that pod is Degraded."""
    selector = pod_selector(obj) if own.status in EXPLAINED else None
    if selector is None:
        return own
    worst = worst_pod(p for p in pods if isinstance(p, Mapping) and matches(selector, p))
    if worst is None:
        return own
    name, pod = worst
    status = DEGRADED if pod.status is DEGRADED else own.status
    text = f"pod {name}: {pod.reason}"
    return verdict(status, f"{own.reason}; {text}" if own.reason else text)
