"""What the dashboard shows about a sync: its last runs, the current attempt (the revision it tries,
that revision's plan, how far its apply got), drift events, and each managed object's live health.

The reporter writes here as a run goes (daemon/reporter.py) and the watch as objects change; the HTTP
thread reads snapshots. Bounded (the last 50 runs and drift events, one entry per object), and only
what is safe to show: error texts are redacted of Secret values before they are stored.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Mapping

from kubesync.health import Health
from kubesync.model import CommitInfo

KEEP = 50
MAX_OBJECTS = 100_000
"""Outcomes and live states kept per sync: far above any real sync, a bound on a hostile one."""


@dataclass(frozen=True)
class Run:
    """One read-plan-apply of a sync."""

    started: float
    """Epoch seconds."""
    duration: float
    """Seconds."""
    triggers: tuple[str, ...]
    """What woke the worker: file, git, watch (drift), resync (timer), webhook, startup, retry, leader."""
    result: str
    """success, error, standby (a follower only plans) or aborted (shutdown, lost leadership)."""
    actions: tuple[tuple[str, int], ...] = ()
    """Changes planned, by action (create, update, ...); no-ops left out."""
    revision: str = ""
    """The source revision the run read ('' when it could not be read)."""
    error: str = ""
    """Why it failed, redacted and cut; '' when it did not."""
    error_type: str = ""
    """The error's class (SourceError, ManifestError, ClusterError...)."""


@dataclass(frozen=True)
class DriftEvent:
    """A managed object found changed in the cluster while the source had not moved."""

    time: float
    object: str
    manager: str = ""
    """The field manager that owns the drifted fields (metadata.managedFields; diff/managers.py)."""
    paths: tuple[str, ...] = ()
    """What differs: the JSON pointers the revert would patch (field names only, never values)."""
    subresource: str = ""
    """Where that manager wrote them when not to the object itself: `scale` (kubectl scale, an HPA)."""


READING, PLANNING, APPLYING, DONE = "reading the source", "planning", "applying", "done"


@dataclass(frozen=True)
class Attempt:
    """The run in progress, or the last one that read the source: what a failing sync's page shows
    (the revision it tries, that revision's plan, how far it got), so the page never shows an older
    attempt's facts as the current ones."""

    started: float
    revision: str = ""
    """The source revision it read or tried to read ('' when even that could not be said)."""
    commit: CommitInfo | None = None
    planned: object | None = None
    """Its Planned (kubesync.sync), None until (or unless) its plan was made."""
    stage: str = READING
    outcomes: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """object -> (result, message) of each action its apply did or failed."""
    error: str = ""
    """Why it failed, redacted and cut ('' unless it did)."""


class History:
    """One sync's memory for the dashboard; every method is safe from any thread."""

    def __init__(self, keep: int = KEEP):
        self._lock = threading.Lock()
        self._runs: deque[Run] = deque(maxlen=keep)
        self._drift: deque[DriftEvent] = deque(maxlen=keep)
        self._attempt: Attempt | None = None
        self._outcomes: dict[str, tuple[str, str]] = {}
        self._live: dict[str, Health | None] = {}
        self._hooks: deque[tuple[float, object]] = deque(maxlen=keep)
        self.planned = None
        """The last plan made (Planned), whichever run made it; None before the first plan."""

    def record(self, run: Run) -> None:
        with self._lock:
            self._runs.appendleft(run)

    def drifted(self, event: DriftEvent) -> None:
        with self._lock:
            self._drift.appendleft(event)

    def hooked(self, step, at: float | None = None) -> None:
        """A hook phase's step (kubesync.hooks.HookStep), as it happens: the dashboard shows a running phase."""
        with self._lock:
            self._hooks.appendleft((time.time() if at is None else at, step))

    def hook_steps(self) -> list[tuple[float, object]]:
        """(epoch seconds, HookStep), newest first."""
        with self._lock:
            return list(self._hooks)

    def runs(self) -> list[Run]:
        """Newest first."""
        with self._lock:
            return list(self._runs)

    def drift_events(self) -> list[DriftEvent]:
        """Newest first."""
        with self._lock:
            return list(self._drift)

    # -- the current attempt -----------------------------------------------------------------------

    def attempting(self, started: float, revision: str, commit: CommitInfo | None, read: bool) -> None:
        """A run read the source at `revision` (or, `read` False, failed to): it is the current attempt now."""
        with self._lock:
            self._attempt = Attempt(started, revision, commit, stage=PLANNING if read else READING)
            self._outcomes = {}

    def update(self, **changes) -> None:
        """The current attempt moved on (its plan, its stage, its error); nothing before the first attempt."""
        with self._lock:
            if self._attempt is not None:
                self._attempt = replace(self._attempt, **changes)

    def applied(self, ref: str, result: str, message: str) -> None:
        """One action of the current attempt's apply (called from the apply's threads)."""
        with self._lock:
            if len(self._outcomes) < MAX_OBJECTS:
                self._outcomes[ref] = (result, message)

    def attempt(self) -> Attempt | None:
        """A snapshot of the current attempt, its outcomes so far included."""
        with self._lock:
            return None if self._attempt is None else replace(self._attempt, outcomes=dict(self._outcomes))

    # -- live state, as the watch shows it ---------------------------------------------------------

    def seen(self, ref: str, health: Health | None) -> None:
        """The watch showed a managed object (None: it was deleted): the page's health is this, not a plan's copy."""
        with self._lock:
            if ref in self._live or len(self._live) < MAX_OBJECTS:
                self._live[ref] = health

    def live(self) -> dict[str, Health | None]:
        """object -> its health now; None when the watch saw it deleted; absent when it never showed it."""
        with self._lock:
            return dict(self._live)
