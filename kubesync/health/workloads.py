"""Workload and Pod health: the checks of `kubectl rollout status`, in its order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubesync.model import KubeObject
from kubesync.health.status import (  # noqa: F401
    DEGRADED,
    HEALTHY,
    Health,
    PROGRESSING,
    SUSPENDED,
    UNKNOWN,
)
from kubesync.health.conditions import as_int, conditions_of, explain, has_status, plural, section, unobserved, verdict  # noqa: F401
# -- workloads: the checks of `kubectl rollout status`, in its order ----------------------------------


def deployment_health(obj: KubeObject) -> Health:
    spec, status = section(obj, "spec"), section(obj, "status")
    if spec.get("paused"):
        return Health(SUSPENDED, "deployment is paused")
    pending = unobserved(obj)
    if pending:
        return pending
    progressing = conditions_of(status).get("Progressing")
    if progressing is not None and progressing.get("reason") == "ProgressDeadlineExceeded":
        return verdict(DEGRADED, f"progress deadline exceeded: {progressing.get('message') or 'ProgressDeadlineExceeded'}")
    want = as_int(spec.get("replicas"), 1)
    replicas = as_int(status.get("replicas"))
    updated = as_int(status.get("updatedReplicas"))
    available = as_int(status.get("availableReplicas"))
    if updated < want:
        return Health(PROGRESSING, f"Waiting for rollout to finish: {updated} out of {want} new replicas have been updated")
    if replicas > updated:
        return Health(PROGRESSING, f"Waiting for rollout to finish: {replicas - updated} old replicas are pending termination")
    if available < updated:
        return Health(PROGRESSING, f"Waiting for rollout to finish: {available} of {updated} updated replicas are available")
    if want == 0:
        return Health(HEALTHY, "scaled to 0 replicas")
    return Health(HEALTHY, f"successfully rolled out: {available} of {want} replicas available")


def statefulset_health(obj: KubeObject) -> Health:
    """kubectl's checks, except that OnDelete is judged too: ready pods matter, the update does not wait."""
    spec, status = section(obj, "spec"), section(obj, "status")
    if as_int(status.get("observedGeneration")) == 0 or unobserved(obj):
        generation = as_int(section(obj, "metadata").get("generation"))
        return Health(PROGRESSING, f"waiting for the controller to observe generation {generation}")
    want = as_int(spec.get("replicas"), 1)
    ready = as_int(status.get("readyReplicas"))
    updated = as_int(status.get("updatedReplicas"))
    if ready < want:
        return Health(PROGRESSING, f"Waiting for {plural(want - ready, 'pod')} to be ready ({ready} of {want} ready)")
    strategy = section(spec, "updateStrategy")
    if strategy.get("type") == "OnDelete":
        return Health(HEALTHY, f"{ready} of {want} pods ready (OnDelete: pods take the new template when deleted)")
    rolling = strategy.get("rollingUpdate")
    if isinstance(rolling, Mapping):  # the API server defaults partition to 0 on apps/v1
        partition = as_int(rolling.get("partition"))
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
    return Health(HEALTHY, f"statefulset rolling update complete {as_int(status.get('currentReplicas'))} pods at revision {current}")


def daemonset_health(obj: KubeObject) -> Health:
    """kubectl's checks; OnDelete skips the update count (pods change only when deleted) but not availability."""
    spec, status = section(obj, "spec"), section(obj, "status")
    pending = unobserved(obj)
    if pending:
        return pending
    desired = as_int(status.get("desiredNumberScheduled"))
    updated = as_int(status.get("updatedNumberScheduled"))
    available = as_int(status.get("numberAvailable"))
    on_delete = section(spec, "updateStrategy").get("type") == "OnDelete"
    if not on_delete and updated < desired:
        return Health(PROGRESSING, f"Waiting for daemon set rollout to finish: {updated} out of {desired} new pods have been updated")
    if available < desired:
        return Health(PROGRESSING, f"Waiting for daemon set rollout to finish: {available} of {desired} updated pods are available")
    if desired == 0:
        return Health(HEALTHY, "no nodes match: 0 pods scheduled")
    return Health(HEALTHY, f"successfully rolled out: {available} of {desired} pods available")


def replicaset_health(obj: KubeObject) -> Health:
    spec, status = section(obj, "spec"), section(obj, "status")
    pending = unobserved(obj)
    if pending:
        return pending
    failure = conditions_of(status).get("ReplicaFailure")
    if has_status(failure, "True"):
        return verdict(DEGRADED, explain(failure, "replica failure"))
    want = as_int(spec.get("replicas"), 1)
    available = as_int(status.get("availableReplicas"))
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
        text += f" after exit code {as_int(last.get('exitCode'))} ({last.get('reason') or 'Error'})"
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
    value = section(cs, which).get(phase)
    return value if isinstance(value, Mapping) else None


def _failed_pod(status: Mapping[str, Any], containers: list[tuple[str, Mapping[str, Any]]]) -> Health:
    if status.get("reason") or status.get("message"):  # Evicted, DeadlineExceeded, NodeLost ...
        return verdict(DEGRADED, explain(status))
    for label, cs in containers:
        term = _state(cs, "state", "terminated")
        if term and (term.get("reason") == "OOMKilled" or as_int(term.get("exitCode")) != 0):
            detail = f": {term['message']}" if term.get("message") else ""
            return verdict(DEGRADED, f"{label} exited with code {as_int(term.get('exitCode'))} ({term.get('reason') or 'Error'}){detail}")
    return Health(DEGRADED, "pod failed")


def _crash_looping(containers: list[tuple[str, Mapping[str, Any]]]) -> str | None:
    """A not-ready container that died with a non-zero exit and is being restarted (between two
    CrashLoopBackOff waits it reads `running` or `terminated`): the container's own reason, or None."""
    for label, cs in containers:
        if cs.get("ready"):
            continue
        now = _state(cs, "state", "terminated")
        last = now or _state(cs, "lastState", "terminated")
        if not last or (as_int(last.get("exitCode")) == 0 and last.get("reason") in (None, "Completed")):
            continue
        if now is None and as_int(cs.get("restartCount")) < 1:
            continue
        detail = f": {last['message']}" if last.get("message") else ""
        return (
            f"{label} is crash-looping: exited with code {as_int(last.get('exitCode'))} ({last.get('reason') or 'Error'})"
            f", restarted {plural(as_int(cs.get('restartCount')), 'time')}{detail}"
        )
    return None


def pod_health(obj: KubeObject) -> Health:
    spec, status = section(obj, "spec"), section(obj, "status")
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
            return verdict(DEGRADED, f"{label}: {_stuck_reason(waiting, _state(cs, 'lastState', 'terminated'))}")

    conditions = conditions_of(status)
    if phase == "Pending":
        scheduled = conditions.get("PodScheduled")
        if has_status(scheduled, "False"):
            return verdict(PROGRESSING, explain(scheduled, "waiting to be scheduled"))
        for label, cs in containers:
            waiting = _state(cs, "state", "waiting")
            if waiting and waiting.get("reason"):
                return verdict(PROGRESSING, f"{label}: {explain(waiting)}")
        return verdict(PROGRESSING, status.get("message") or "pod is pending")

    if phase == "Running":
        # An OOMKilled container that is not ready again is being starved, not starting up. Once it is
        # ready the pod serves again; lastState keeps "OOMKilled" until the next restart, so a single
        # old kill must not mark the pod Degraded forever.
        for label, cs in containers:
            last = _state(cs, "lastState", "terminated")
            if last and last.get("reason") == "OOMKilled" and not cs.get("ready"):
                return Health(DEGRADED, f"{label} was OOMKilled (restarted {plural(as_int(cs.get('restartCount')), 'time')})")
        if policy != "Always":  # run-to-completion pods are healthy when they succeed, not when they run
            return Health(PROGRESSING, f"running to completion (restartPolicy {policy})")
        ready = conditions.get("Ready")
        if has_status(ready, "True"):
            return Health(HEALTHY, "running and ready")
        crashing = _crash_looping(containers)
        if crashing is not None:
            return verdict(DEGRADED, crashing)
        return verdict(PROGRESSING, explain(ready, "waiting for containers to be ready"))

    # phase Unknown: the node stopped reporting
    return verdict(UNKNOWN, f"pod phase {phase}" + (f": {status['message']}" if status.get("message") else ""))
