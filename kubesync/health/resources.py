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
)
from kubesync.health.conditions import as_int, by_type, conditions_of, explain, has_status, section, unobserved, verdict  # noqa: F401
# -- batch ----------------------------------------------------------------------------------------------


def job_health(obj: KubeObject) -> Health:
    spec, status = section(obj, "spec"), section(obj, "status")
    conditions = conditions_of(status)
    failed = conditions.get("Failed")
    if has_status(failed, "True"):
        return verdict(DEGRADED, f"job failed: {explain(failed, 'Failed')}")
    if has_status(conditions.get("Complete"), "True"):
        return Health(HEALTHY, f"job completed: {as_int(status.get('succeeded'))} succeeded")
    if spec.get("suspend"):
        return Health(SUSPENDED, "job is suspended")
    counts = ", ".join(f"{as_int(status.get(k))} {k}" for k in ("active", "succeeded", "failed"))
    return Health(PROGRESSING, f"waiting for job to complete: {counts}")


def cronjob_health(obj: KubeObject) -> Health:
    spec, status = section(obj, "spec"), section(obj, "status")
    if spec.get("suspend"):
        return Health(SUSPENDED, "cronjob is suspended")
    last = status.get("lastScheduleTime")
    active = len(status.get("active") or [])
    running = f", {active} active" if active else ""
    if last:
        return Health(HEALTHY, f"last scheduled at {last}{running}")
    return verdict(HEALTHY, f"not scheduled yet (schedule {spec.get('schedule')!r}){running}")


# -- core -----------------------------------------------------------------------------------------------


def pvc_health(obj: KubeObject) -> Health:
    spec, status = section(obj, "spec"), section(obj, "status")
    phase = status.get("phase") or "Pending"
    volume = spec.get("volumeName")
    if phase == "Bound":
        return Health(HEALTHY, f"bound to volume {volume}" if volume else "bound")
    if phase == "Lost":
        return Health(DEGRADED, f"claim lost its volume {volume}" if volume else "claim lost its volume")
    if phase == "Pending":
        return Health(PROGRESSING, "waiting for a volume to be bound")
    return verdict(UNKNOWN, f"claim phase {phase}")


def _lb_addresses(status: Mapping[str, Any]) -> list[str]:
    ingress = section(status, "loadBalancer").get("ingress") or []
    return [str(i.get("ip") or i.get("hostname") or "?") for i in ingress]


def service_health(obj: KubeObject) -> Health:
    kind = section(obj, "spec").get("type") or "ClusterIP"
    if kind != "LoadBalancer":
        return Health(HEALTHY, f"{kind} service")
    addresses = _lb_addresses(section(obj, "status"))
    if not addresses:
        return Health(PROGRESSING, "waiting for the load balancer to be provisioned (status.loadBalancer.ingress is empty)")
    return verdict(HEALTHY, f"load balancer at {', '.join(addresses)}")


def ingress_health(obj: KubeObject) -> Health:
    addresses = _lb_addresses(section(obj, "status"))
    if not addresses:
        return Health(
            PROGRESSING,
            "waiting for an address in status.loadBalancer.ingress (Argo CD's convention: an ingress "
            "controller that never publishes one leaves the Ingress Progressing)",
        )
    return verdict(HEALTHY, f"address {', '.join(addresses)}")


def namespace_health(obj: KubeObject) -> Health:
    phase = section(obj, "status").get("phase") or "Active"
    if phase == "Terminating":
        return Health(PROGRESSING, "namespace is being deleted")
    if phase == "Active":
        return Health(HEALTHY, "active")
    return verdict(UNKNOWN, f"namespace phase {phase}")


# -- autoscaling, API registration, CRDs ---------------------------------------------------------------

HPA_V1_CONDITIONS_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions"  # autoscaling/v1 has no status.conditions


def hpa_health(obj: KubeObject) -> Health:
    status = section(obj, "status")
    raw = status.get("conditions")
    if raw is None:
        annotation = (section(obj, "metadata").get("annotations") or {}).get(HPA_V1_CONDITIONS_ANNOTATION)
        raw = json.loads(annotation) if annotation else None
    conditions = by_type(raw)
    if not conditions:
        return Health(PROGRESSING, "waiting for the autoscaler to report its conditions")
    for kind in ("AbleToScale", "ScalingActive"):
        condition = conditions.get(kind)
        if not has_status(condition, "False"):
            continue
        reason = str(condition.get("reason") or "")
        if reason.startswith("Backoff"):  # older controllers: a recent scale, working as intended
            continue
        if reason == "ScalingDisabled":  # the target is scaled to 0 on purpose
            return verdict(SUSPENDED, explain(condition))
        return verdict(DEGRADED, f"{kind} is False: {explain(condition)}")
    replicas = f"{as_int(status.get('currentReplicas'))} current / {as_int(status.get('desiredReplicas'))} desired replicas"
    limited = conditions.get("ScalingLimited")
    if has_status(limited, "True"):  # at minReplicas or maxReplicas: a limit doing its job, not a failure
        replicas += f" ({explain(limited)})"
    return verdict(HEALTHY, replicas)


def apiservice_health(obj: KubeObject) -> Health:
    available = conditions_of(section(obj, "status")).get("Available")
    if has_status(available, "True"):
        return verdict(HEALTHY, f"available ({available.get('reason')})" if available.get("reason") else "available")
    if has_status(available, "False"):
        return verdict(DEGRADED, explain(available, "not available"))
    return verdict(PROGRESSING, explain(available, "waiting for the Available condition"))


def crd_health(obj: KubeObject) -> Health:
    conditions = conditions_of(section(obj, "status"))
    names = conditions.get("NamesAccepted")
    if has_status(names, "False"):
        return verdict(DEGRADED, f"names not accepted: {explain(names)}")
    established = conditions.get("Established")
    if has_status(established, "True"):
        return Health(HEALTHY, "established")
    detail = f" ({explain(established)})" if established else ""
    return verdict(PROGRESSING, f"waiting for the CRD to be established{detail}")


# -- everything else -------------------------------------------------------------------------------------

# Ready=False reasons that describe work under way rather than a failure (Flux "Progressing",
# cert-manager "InProgress", many operators "Reconciling"/"Pending"/"Creating").
_UNDER_WAY = re.compile(r"progress|reconcil|pending|creating|initializ|waiting|provisioning|installing|upgrading", re.I)


def custom_resource_health(obj: KubeObject) -> Health:
    """Kinds without a rule: the common status conventions (observedGeneration, kstatus, Ready), else exists."""
    status = obj.get("status")
    if not status or not isinstance(status, Mapping):
        return Health(HEALTHY, "no health rules; exists")
    pending = unobserved(obj, required=False)
    if pending:
        return pending
    conditions = conditions_of(status)
    stalled, reconciling, ready = conditions.get("Stalled"), conditions.get("Reconciling"), conditions.get("Ready")
    if has_status(stalled, "True"):  # kstatus (Flux, kpt): the controller gave up
        return verdict(DEGRADED, f"stalled: {explain(stalled)}")
    if ready is None:
        if has_status(reconciling, "True"):
            return verdict(PROGRESSING, explain(reconciling, "reconciling"))
        return Health(HEALTHY, "no Ready condition; exists")
    if has_status(ready, "True"):
        return verdict(HEALTHY, explain(ready, "ready"))
    if has_status(ready, "False"):
        if _UNDER_WAY.search(str(ready.get("reason") or "")):
            return verdict(PROGRESSING, explain(ready))
        return verdict(DEGRADED, explain(ready, "not ready"))
    return verdict(PROGRESSING, explain(ready, "readiness unknown"))
