"""What a sync's run saw and did, as small frozen values: the one vocabulary between the run that
decides (reactor.py) and the reporter that says it (reporter.py: logs, metrics, alerts, history).

A new thing worth telling (a hook phase starting, a wait timing out) is a new event type here and
one handler in reporter.py; the run itself never logs, counts or alerts.

Most events are reported as they happen (a log line per applied object while the apply runs).
`Closing` events announce a run's outcome: the caller publishes the run's new state first, so
whoever sees the outcome (a failing metric, an alert) and then asks GET /api/v1/syncs finds the same state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kubesync.apply import Outcome
from kubesync.daemon.history import DriftEvent, Run
from kubesync.health import Health
from kubesync.hooks import HookStep
from kubesync.model import CommitInfo
from kubesync.sync import Planned
from kubesync.vocab import short_revision


def one_line(text: str) -> str:
    """Log records are one line each: multi-line errors (a list of manifest problems) are joined."""
    text = re.sub(r":[ \t]*\n\s*", ": ", str(text).strip())
    return "; ".join(part.strip() for part in text.splitlines() if part.strip())


def short(revision: str) -> str:
    """A git sha or a `sha256:` content hash, cut to what people compare."""
    return short_revision(revision, 12)


@dataclass(frozen=True)
class Event:
    """Something one sync's run, its watch or its connection saw or did."""


@dataclass(frozen=True)
class Closing(Event):
    """Announces a run's outcome: reported after the caller has published the run's new state."""


# -- during a run --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunStarted(Event):
    reasons: tuple[str, ...]
    """What queued it: file, git, watch, resync, webhook, manual, startup, retry, leader."""


@dataclass(frozen=True)
class Attempting(Event):
    """The run read the source (or failed to): the revision it tries from now on is the current attempt."""

    revision: str
    """'' when not even the revision could be said (an unreachable remote)."""
    commit: CommitInfo | None
    """Subject and author, for a git source."""
    read: bool
    """False: reading the source failed (the revision is the one it tried to read)."""
    at: float


@dataclass(frozen=True)
class PlanMade(Event):
    planned: Planned
    """The current attempt's plan: the dashboard shows it (objects, diff) from now on."""


@dataclass(frozen=True)
class ConflictSeen(Event):
    text: str
    """A conflict or a warning of the plan that the last plan did not have."""


@dataclass(frozen=True)
class DriftSeen(Event):
    revision: str
    new: tuple[DriftEvent, ...]
    """Objects drifted since the last plan, in plan order (the last plan's are not repeated)."""
    count: int
    """Objects drifted now, new or not."""
    self_heal: bool


@dataclass(frozen=True)
class StandingBy(Event):
    """Changes are planned but this replica may not write them (reported once per such state)."""

    revision: str
    changes: int


@dataclass(frozen=True)
class Applying(Event):
    revision: str
    reverting: bool
    """True when every change is drift (the source has not moved)."""
    counts: tuple[tuple[str, int], ...]
    """Changes by action (create, update, ...), no-ops left out."""


@dataclass(frozen=True)
class ObjectApplied(Event):
    """The apply's progress: one per action done (or failed), as it happens."""

    outcome: Outcome


@dataclass(frozen=True)
class HookProgress(Event):
    """A hook phase's progress (a phase started, a hook done, a phase failed or timed out), as it happens."""

    step: HookStep


@dataclass(frozen=True)
class Interrupted(Event):
    """Shutdown or a lost leadership stopped the apply after its current wave: not the source's fault."""

    done: int
    abandoned: int
    not_started: int


@dataclass(frozen=True)
class DriftCleared(Event):
    """The apply made the cluster match `revision`: nothing is drifted any more."""

    revision: str


# -- a run's outcome -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Synced(Closing):
    revision: str
    at: float
    """Epoch seconds."""
    recovered: bool
    """The run before failed."""


@dataclass(frozen=True)
class StillSynced(Closing):
    """A resync found nothing moved and skipped the plan: the cluster still matches `revision`."""

    revision: str
    at: float


@dataclass(frozen=True)
class Failed(Closing):
    """Nothing more was applied; the run is retried in `retry_in` seconds (or at once on a trigger)."""

    message: str
    """One line, not yet redacted (the log and the alert redact what they show)."""
    retry_in: float
    revision: str
    """The revision the cluster last matched."""
    unexpected: BaseException | None = None
    """A bug rather than a refusal: its traceback is logged."""


@dataclass(frozen=True)
class RunFinished(Closing):
    run: Run
    """The dashboard's record of it; also its duration, result and error class for the metrics."""


# -- between runs: the watch and the connection ---------------------------------------------------------

@dataclass(frozen=True)
class ApiError(Event):
    error: str
    """The error's class (ClusterUnreachable, ClusterUnauthorized, ...)."""


@dataclass(frozen=True)
class HealthSeen(Event):
    """The watch showed a managed object: its health now, None when it was deleted."""

    ref: str
    health: Health | None


@dataclass(frozen=True)
class ClusterChanged(Event):
    """Someone else changed a managed object (the watch event was not our own write's): a run is queued."""

    ref: str
    kind: str
    """The watch event: ADDED, MODIFIED, DELETED or LISTED."""
