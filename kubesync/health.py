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

import enum
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kubesync.model import KubeObject, split_api_version


class HealthStatus(str, enum.Enum):
    """Argo CD's health codes, spelled as Argo spells them so they read the same in both tools."""

    HEALTHY = "Healthy"
    PROGRESSING = "Progressing"
    DEGRADED = "Degraded"
    SUSPENDED = "Suspended"
    MISSING = "Missing"
    UNKNOWN = "Unknown"


HEALTHY = HealthStatus.HEALTHY
PROGRESSING = HealthStatus.PROGRESSING
DEGRADED = HealthStatus.DEGRADED
SUSPENDED = HealthStatus.SUSPENDED
MISSING = HealthStatus.MISSING
UNKNOWN = HealthStatus.UNKNOWN

# Least to most severe; worst() picks the last one present.
#  - Suspended is a deliberate state at rest (paused Deployment, suspended CronJob): only Healthy is better.
#  - Progressing is expected to settle on its own.
#  - Unknown means we could not vouch for the object (a malformed status, a Pod whose node went silent):
#    worse than a state known to be moving, better than a known failure.
#  - Missing is a definite gap: desired but not in the cluster.
#  - Degraded is a known failure that needs a person; it wins every aggregate.
SEVERITY: tuple[HealthStatus, ...] = (HEALTHY, SUSPENDED, PROGRESSING, UNKNOWN, MISSING, DEGRADED)
_RANK = {status: rank for rank, status in enumerate(SEVERITY)}

REASON_LIMIT = 300  # a reason is one terminal line; long controller messages are cut


@dataclass(frozen=True)
class Health:
    """An assessment: the status and one line a person can act on."""

    status: HealthStatus
    reason: str = ""

    def __str__(self) -> str:
        return f"{self.status.value}: {self.reason}" if self.reason else self.status.value


def worst(healths: Iterable[Health | HealthStatus | str]) -> HealthStatus:
    """The most severe status by SEVERITY; Healthy when there is nothing to judge."""
    statuses = [h.status if isinstance(h, Health) else HealthStatus(h) for h in healths]
    return max(statuses, key=_RANK.__getitem__, default=HEALTHY)


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


# -- helpers ------------------------------------------------------------------------------------------

Rule = Callable[[KubeObject], Health]


def _health(status: HealthStatus, reason: str) -> Health:
    """Build a Health whose reason is one line of bounded length (controller messages may hold newlines)."""
    text = " ".join(str(reason).split())
    return Health(status, text if len(text) <= REASON_LIMIT else text[: REASON_LIMIT - 1] + "…")


def _section(obj: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = obj.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} is a {type(value).__name__}, not an object")
    return value


def _int(value: Any, default: int = 0) -> int:
    """An integer field; absent means the API's default (status counts are omitted when zero)."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {value!r}")
    return value


def _conditions(status: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """status.conditions by type (the last one wins if a controller wrote a type twice)."""
    return _index_conditions(status.get("conditions"))


def _index_conditions(conditions: Any) -> dict[str, Mapping[str, Any]]:
    if conditions is None:
        return {}
    if not isinstance(conditions, list):
        raise TypeError(f"conditions is a {type(conditions).__name__}, not a list")
    return {str(c.get("type")): c for c in conditions if isinstance(c, Mapping)}


def _is(condition: Mapping[str, Any] | None, value: str) -> bool:
    return condition is not None and condition.get("status") == value


def _explain(condition: Mapping[str, Any] | None, fallback: str = "") -> str:
    """'Reason: message' from a condition (or a waiting/terminated state), whichever parts are set."""
    if not condition:
        return fallback
    parts = [str(p) for p in (condition.get("reason"), condition.get("message")) if p]
    return ": ".join(parts) or fallback


def _unobserved(obj: Mapping[str, Any], *, required: bool = True) -> Health | None:
    """Progressing while the controller has not yet seen the latest spec (metadata.generation).

    required=False is for custom resources: many controllers never write observedGeneration, so its
    absence says nothing there; built-in workload controllers always write it.
    """
    status = _section(obj, "status")
    if not required and "observedGeneration" not in status:
        return None
    generation = _int(_section(obj, "metadata").get("generation"))
    observed = _int(status.get("observedGeneration"))
    if generation > observed:
        return Health(PROGRESSING, f"waiting for the controller to observe generation {generation}")
    return None


def _being_deleted(obj: Mapping[str, Any]) -> Health | None:
    meta = _section(obj, "metadata")
    if not meta.get("deletionTimestamp"):
        return None
    what = str(obj.get("kind") or "object").lower()
    finalizers = meta.get("finalizers") or []
    waiting = f" (waiting for finalizers: {', '.join(map(str, finalizers))})" if finalizers else ""
    return _health(PROGRESSING, f"{what} is being deleted{waiting}")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# -- workloads: the checks of `kubectl rollout status`, in its order ----------------------------------


def _deployment(obj: KubeObject) -> Health:
    spec, status = _section(obj, "spec"), _section(obj, "status")
    if spec.get("paused"):
        return Health(SUSPENDED, "deployment is paused")
    pending = _unobserved(obj)
    if pending:
        return pending
    progressing = _conditions(status).get("Progressing")
    if progressing is not None and progressing.get("reason") == "ProgressDeadlineExceeded":
        return _health(DEGRADED, f"progress deadline exceeded: {progressing.get('message') or 'ProgressDeadlineExceeded'}")
    want = _int(spec.get("replicas"), 1)
    replicas = _int(status.get("replicas"))
    updated = _int(status.get("updatedReplicas"))
    available = _int(status.get("availableReplicas"))
    if updated < want:
        return Health(PROGRESSING, f"Waiting for rollout to finish: {updated} out of {want} new replicas have been updated")
    if replicas > updated:
        return Health(PROGRESSING, f"Waiting for rollout to finish: {replicas - updated} old replicas are pending termination")
    if available < updated:
        return Health(PROGRESSING, f"Waiting for rollout to finish: {available} of {updated} updated replicas are available")
    if want == 0:
        return Health(HEALTHY, "scaled to 0 replicas")
    return Health(HEALTHY, f"successfully rolled out: {available} of {want} replicas available")


def _statefulset(obj: KubeObject) -> Health:
    """kubectl's checks, except that OnDelete is judged too: ready pods matter, the update does not wait."""
    spec, status = _section(obj, "spec"), _section(obj, "status")
    if _int(status.get("observedGeneration")) == 0 or _unobserved(obj):
        generation = _int(_section(obj, "metadata").get("generation"))
        return Health(PROGRESSING, f"waiting for the controller to observe generation {generation}")
    want = _int(spec.get("replicas"), 1)
    ready = _int(status.get("readyReplicas"))
    updated = _int(status.get("updatedReplicas"))
    if ready < want:
        return Health(PROGRESSING, f"Waiting for {_plural(want - ready, 'pod')} to be ready ({ready} of {want} ready)")
    strategy = _section(spec, "updateStrategy")
    if strategy.get("type") == "OnDelete":
        return Health(HEALTHY, f"{ready} of {want} pods ready (OnDelete: pods take the new template when deleted)")
    rolling = strategy.get("rollingUpdate")
    if isinstance(rolling, Mapping):  # the API server defaults partition to 0 on apps/v1
        partition = _int(rolling.get("partition"))
        target = max(want - partition, 0)
        if partition > 0:
            if updated < target:
                return Health(
                    PROGRESSING,
                    f"Waiting for partitioned roll out to finish: {updated} out of {target} new pods have been updated",
                )
            return Health(HEALTHY, f"partitioned roll out complete: {updated} new pods have been updated (partition {partition})")
        if updated < want:
            return Health(PROGRESSING, f"Waiting for rollout to finish: {updated} out of {want} new pods have been updated")
        return Health(HEALTHY, f"successfully rolled out: {ready} of {want} pods ready")
    current, update = status.get("currentRevision"), status.get("updateRevision")
    if current != update:
        return Health(PROGRESSING, f"waiting for statefulset rolling update to complete {updated} pods at revision {update}")
    return Health(HEALTHY, f"statefulset rolling update complete {_int(status.get('currentReplicas'))} pods at revision {current}")


def _daemonset(obj: KubeObject) -> Health:
    """kubectl's checks; OnDelete skips the update count (pods change only when deleted) but not availability."""
    spec, status = _section(obj, "spec"), _section(obj, "status")
    pending = _unobserved(obj)
    if pending:
        return pending
    desired = _int(status.get("desiredNumberScheduled"))
    updated = _int(status.get("updatedNumberScheduled"))
    available = _int(status.get("numberAvailable"))
    on_delete = _section(spec, "updateStrategy").get("type") == "OnDelete"
    if not on_delete and updated < desired:
        return Health(PROGRESSING, f"Waiting for daemon set rollout to finish: {updated} out of {desired} new pods have been updated")
    if available < desired:
        return Health(PROGRESSING, f"Waiting for daemon set rollout to finish: {available} of {desired} updated pods are available")
    if desired == 0:
        return Health(HEALTHY, "no nodes match: 0 pods scheduled")
    return Health(HEALTHY, f"successfully rolled out: {available} of {desired} pods available")


def _replicaset(obj: KubeObject) -> Health:
    spec, status = _section(obj, "spec"), _section(obj, "status")
    pending = _unobserved(obj)
    if pending:
        return pending
    failure = _conditions(status).get("ReplicaFailure")
    if _is(failure, "True"):
        return _health(DEGRADED, _explain(failure, "replica failure"))
    want = _int(spec.get("replicas"), 1)
    available = _int(status.get("availableReplicas"))
    if available < want:
        return Health(PROGRESSING, f"Waiting for rollout to finish: {available} of {want} replicas are available")
    return Health(HEALTHY, f"{available} of {want} replicas available")


# -- pods -----------------------------------------------------------------------------------------------

# Waiting reasons that will not clear without a person (a fixed image, config, or command). Argo adds a
# heuristic for the long tail (Err*, *Error, *BackOff); ContainerCreating and PodInitializing are normal.
_STUCK_WAITING = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "ErrImageNeverPull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
        "PreStartHookError",
        "PostStartHookError",
    }
)


def _is_stuck(reason: str) -> bool:
    return reason in _STUCK_WAITING or reason.startswith("Err") or reason.endswith(("Error", "BackOff"))


def _stuck_reason(waiting: Mapping[str, Any], last: Mapping[str, Any] | None) -> str:
    """'CrashLoopBackOff after exit code 137 (OOMKilled): back-off ...': the root cause before the symptom."""
    text = str(waiting.get("reason"))
    if last:
        text += f" after exit code {_int(last.get('exitCode'))} ({last.get('reason') or 'Error'})"
    return f"{text}: {waiting['message']}" if waiting.get("message") else text


def _container_statuses(status: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(label, status) for init containers first (they run first), then app containers."""
    out: list[tuple[str, Mapping[str, Any]]] = []
    for field, label in (("initContainerStatuses", "init container"), ("containerStatuses", "container")):
        for cs in status.get(field) or []:
            out.append((f"{label} {cs.get('name')}", cs))
    return out


def _state(cs: Mapping[str, Any], which: str, phase: str) -> Mapping[str, Any] | None:
    """cs[which][phase], e.g. state.waiting or lastState.terminated; the API writes `lastState: {}` when unset."""
    value = _section(cs, which).get(phase)
    return value if isinstance(value, Mapping) else None


def _failed_pod(status: Mapping[str, Any], containers: list[tuple[str, Mapping[str, Any]]]) -> Health:
    if status.get("reason") or status.get("message"):  # Evicted, DeadlineExceeded, NodeLost ...
        return _health(DEGRADED, _explain(status))
    for label, cs in containers:
        term = _state(cs, "state", "terminated")
        if term and (term.get("reason") == "OOMKilled" or _int(term.get("exitCode")) != 0):
            detail = f": {term['message']}" if term.get("message") else ""
            return _health(DEGRADED, f"{label} exited with code {_int(term.get('exitCode'))} ({term.get('reason') or 'Error'}){detail}")
    return Health(DEGRADED, "pod failed")


def _crash_looping(containers: list[tuple[str, Mapping[str, Any]]]) -> str | None:
    """A not-ready container that died with a non-zero exit and is being restarted (between two
    CrashLoopBackOff waits it reads `running` or `terminated`): the container's own reason, or None."""
    for label, cs in containers:
        if cs.get("ready"):
            continue
        now = _state(cs, "state", "terminated")
        last = now or _state(cs, "lastState", "terminated")
        if not last or (_int(last.get("exitCode")) == 0 and last.get("reason") in (None, "Completed")):
            continue
        if now is None and _int(cs.get("restartCount")) < 1:
            continue
        detail = f": {last['message']}" if last.get("message") else ""
        return (
            f"{label} is crash-looping: exited with code {_int(last.get('exitCode'))} ({last.get('reason') or 'Error'})"
            f", restarted {_plural(_int(cs.get('restartCount')), 'time')}{detail}"
        )
    return None


def _pod(obj: KubeObject) -> Health:
    spec, status = _section(obj, "spec"), _section(obj, "status")
    phase = status.get("phase") or "Pending"
    policy = spec.get("restartPolicy") or "Always"
    containers = _container_statuses(status)

    if phase == "Succeeded":
        return Health(HEALTHY, "pod completed successfully")
    if phase == "Failed":
        return _failed_pod(status, containers)

    # Stuck containers first: a pod whose image cannot be pulled stays in phase Pending. This holds for
    # every restartPolicy: a Never pod that cannot pull its image will not run either.
    for label, cs in containers:
        waiting = _state(cs, "state", "waiting")
        if waiting and _is_stuck(str(waiting.get("reason") or "")):
            return _health(DEGRADED, f"{label}: {_stuck_reason(waiting, _state(cs, 'lastState', 'terminated'))}")

    conditions = _conditions(status)
    if phase == "Pending":
        scheduled = conditions.get("PodScheduled")
        if _is(scheduled, "False"):
            return _health(PROGRESSING, _explain(scheduled, "waiting to be scheduled"))
        for label, cs in containers:
            waiting = _state(cs, "state", "waiting")
            if waiting and waiting.get("reason"):
                return _health(PROGRESSING, f"{label}: {_explain(waiting)}")
        return _health(PROGRESSING, status.get("message") or "pod is pending")

    if phase == "Running":
        # An OOMKilled container that is not ready again is being starved, not starting up. Once it is
        # ready the pod serves again; lastState keeps "OOMKilled" until the next restart, so a single
        # old kill must not mark the pod Degraded forever.
        for label, cs in containers:
            last = _state(cs, "lastState", "terminated")
            if last and last.get("reason") == "OOMKilled" and not cs.get("ready"):
                return Health(DEGRADED, f"{label} was OOMKilled (restarted {_plural(_int(cs.get('restartCount')), 'time')})")
        if policy != "Always":  # run-to-completion pods are healthy when they succeed, not when they run
            return Health(PROGRESSING, f"running to completion (restartPolicy {policy})")
        ready = conditions.get("Ready")
        if _is(ready, "True"):
            return Health(HEALTHY, "running and ready")
        crashing = _crash_looping(containers)
        if crashing is not None:
            return _health(DEGRADED, crashing)
        return _health(PROGRESSING, _explain(ready, "waiting for containers to be ready"))

    # phase Unknown: the node stopped reporting
    return _health(UNKNOWN, f"pod phase {phase}" + (f": {status['message']}" if status.get("message") else ""))


# -- batch ----------------------------------------------------------------------------------------------


def _job(obj: KubeObject) -> Health:
    spec, status = _section(obj, "spec"), _section(obj, "status")
    conditions = _conditions(status)
    failed = conditions.get("Failed")
    if _is(failed, "True"):
        return _health(DEGRADED, f"job failed: {_explain(failed, 'Failed')}")
    if _is(conditions.get("Complete"), "True"):
        return Health(HEALTHY, f"job completed: {_int(status.get('succeeded'))} succeeded")
    if spec.get("suspend"):
        return Health(SUSPENDED, "job is suspended")
    counts = ", ".join(f"{_int(status.get(k))} {k}" for k in ("active", "succeeded", "failed"))
    return Health(PROGRESSING, f"waiting for job to complete: {counts}")


def _cronjob(obj: KubeObject) -> Health:
    spec, status = _section(obj, "spec"), _section(obj, "status")
    if spec.get("suspend"):
        return Health(SUSPENDED, "cronjob is suspended")
    last = status.get("lastScheduleTime")
    active = len(status.get("active") or [])
    running = f", {active} active" if active else ""
    if last:
        return Health(HEALTHY, f"last scheduled at {last}{running}")
    return _health(HEALTHY, f"not scheduled yet (schedule {spec.get('schedule')!r}){running}")


# -- core -----------------------------------------------------------------------------------------------


def _pvc(obj: KubeObject) -> Health:
    spec, status = _section(obj, "spec"), _section(obj, "status")
    phase = status.get("phase") or "Pending"
    volume = spec.get("volumeName")
    if phase == "Bound":
        return Health(HEALTHY, f"bound to volume {volume}" if volume else "bound")
    if phase == "Lost":
        return Health(DEGRADED, f"claim lost its volume {volume}" if volume else "claim lost its volume")
    if phase == "Pending":
        return Health(PROGRESSING, "waiting for a volume to be bound")
    return _health(UNKNOWN, f"claim phase {phase}")


def _lb_addresses(status: Mapping[str, Any]) -> list[str]:
    ingress = _section(status, "loadBalancer").get("ingress") or []
    return [str(i.get("ip") or i.get("hostname") or "?") for i in ingress]


def _service(obj: KubeObject) -> Health:
    kind = _section(obj, "spec").get("type") or "ClusterIP"
    if kind != "LoadBalancer":
        return Health(HEALTHY, f"{kind} service")
    addresses = _lb_addresses(_section(obj, "status"))
    if not addresses:
        return Health(PROGRESSING, "waiting for the load balancer to be provisioned (status.loadBalancer.ingress is empty)")
    return _health(HEALTHY, f"load balancer at {', '.join(addresses)}")


def _ingress(obj: KubeObject) -> Health:
    addresses = _lb_addresses(_section(obj, "status"))
    if not addresses:
        return Health(
            PROGRESSING,
            "waiting for an address in status.loadBalancer.ingress (Argo CD's convention: an ingress "
            "controller that never publishes one leaves the Ingress Progressing)",
        )
    return _health(HEALTHY, f"address {', '.join(addresses)}")


def _namespace(obj: KubeObject) -> Health:
    phase = _section(obj, "status").get("phase") or "Active"
    if phase == "Terminating":
        return Health(PROGRESSING, "namespace is being deleted")
    if phase == "Active":
        return Health(HEALTHY, "active")
    return _health(UNKNOWN, f"namespace phase {phase}")


# -- autoscaling, API registration, CRDs ---------------------------------------------------------------

HPA_V1_CONDITIONS_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions"  # autoscaling/v1 has no status.conditions


def _hpa(obj: KubeObject) -> Health:
    status = _section(obj, "status")
    raw = status.get("conditions")
    if raw is None:
        annotation = (_section(obj, "metadata").get("annotations") or {}).get(HPA_V1_CONDITIONS_ANNOTATION)
        raw = json.loads(annotation) if annotation else None
    conditions = _index_conditions(raw)
    if not conditions:
        return Health(PROGRESSING, "waiting for the autoscaler to report its conditions")
    for kind in ("AbleToScale", "ScalingActive"):
        condition = conditions.get(kind)
        if not _is(condition, "False"):
            continue
        reason = str(condition.get("reason") or "")
        if reason.startswith("Backoff"):  # older controllers: a recent scale, working as intended
            continue
        if reason == "ScalingDisabled":  # the target is scaled to 0 on purpose
            return _health(SUSPENDED, _explain(condition))
        return _health(DEGRADED, f"{kind} is False: {_explain(condition)}")
    replicas = f"{_int(status.get('currentReplicas'))} current / {_int(status.get('desiredReplicas'))} desired replicas"
    limited = conditions.get("ScalingLimited")
    if _is(limited, "True"):  # at minReplicas or maxReplicas: a limit doing its job, not a failure
        replicas += f" ({_explain(limited)})"
    return _health(HEALTHY, replicas)


def _apiservice(obj: KubeObject) -> Health:
    available = _conditions(_section(obj, "status")).get("Available")
    if _is(available, "True"):
        return _health(HEALTHY, f"available ({available.get('reason')})" if available.get("reason") else "available")
    if _is(available, "False"):
        return _health(DEGRADED, _explain(available, "not available"))
    return _health(PROGRESSING, _explain(available, "waiting for the Available condition"))


def _crd(obj: KubeObject) -> Health:
    conditions = _conditions(_section(obj, "status"))
    names = conditions.get("NamesAccepted")
    if _is(names, "False"):
        return _health(DEGRADED, f"names not accepted: {_explain(names)}")
    established = conditions.get("Established")
    if _is(established, "True"):
        return Health(HEALTHY, "established")
    detail = f" ({_explain(established)})" if established else ""
    return _health(PROGRESSING, f"waiting for the CRD to be established{detail}")


# -- everything else -------------------------------------------------------------------------------------

# Ready=False reasons that describe work under way rather than a failure (Flux "Progressing",
# cert-manager "InProgress", many operators "Reconciling"/"Pending"/"Creating").
_UNDER_WAY = re.compile(r"progress|reconcil|pending|creating|initializ|waiting|provisioning|installing|upgrading", re.I)


def _custom_resource(obj: KubeObject) -> Health:
    """Kinds without a rule: the common status conventions (observedGeneration, kstatus, Ready), else exists."""
    status = obj.get("status")
    if not status or not isinstance(status, Mapping):
        return Health(HEALTHY, "no health rules; exists")
    pending = _unobserved(obj, required=False)
    if pending:
        return pending
    conditions = _conditions(status)
    stalled, reconciling, ready = conditions.get("Stalled"), conditions.get("Reconciling"), conditions.get("Ready")
    if _is(stalled, "True"):  # kstatus (Flux, kpt): the controller gave up
        return _health(DEGRADED, f"stalled: {_explain(stalled)}")
    if ready is None:
        if _is(reconciling, "True"):
            return _health(PROGRESSING, _explain(reconciling, "reconciling"))
        return Health(HEALTHY, "no Ready condition; exists")
    if _is(ready, "True"):
        return _health(HEALTHY, _explain(ready, "ready"))
    if _is(ready, "False"):
        if _UNDER_WAY.search(str(ready.get("reason") or "")):
            return _health(PROGRESSING, _explain(ready))
        return _health(DEGRADED, _explain(ready, "not ready"))
    return _health(PROGRESSING, _explain(ready, "readiness unknown"))


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
