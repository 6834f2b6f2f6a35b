"""Health of batch, core, autoscaling, API-registration and custom resources."""

from __future__ import annotations

import json
import re
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
    _conditions,
    _explain,
    _health,
    _index_conditions,
    _int,
    _is,
    _section,
    _unobserved,
)


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
