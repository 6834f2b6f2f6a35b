"""Health values and the helpers every rule uses (kubesync.health re-exports the public names)."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kubesync.model import KubeObject

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
