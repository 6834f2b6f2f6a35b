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


Rule = Callable[[KubeObject], Health]
