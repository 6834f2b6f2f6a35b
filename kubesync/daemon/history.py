"""What the dashboard shows about a sync beyond /readyz: its last runs, its last plan, drift events.

A worker writes here after every run; the HTTP thread reads. Bounded (the last 50 of each), and
only what is safe to show: error texts are redacted of Secret values before they are stored.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from kubesync.model import KubeObject

KEEP = 50


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
    """The field manager that last wrote the object, where the server says (metadata.managedFields)."""
    paths: tuple[str, ...] = ()
    """What differs: the JSON pointers the revert would patch (field names only, never values)."""


def _writes_spec(entry: dict) -> bool:
    """Whether a managedFields entry owns more than status (a controller reporting is not a change)."""
    if entry.get("subresource") == "status":
        return False
    fields = entry.get("fieldsV1") or {}
    return not fields or bool(set(fields) - {"f:status"})


def last_manager(live: KubeObject | None) -> str:
    """The manager of the newest managedFields entry that writes more than status: who most likely
    made the change."""
    entries = ((live or {}).get("metadata") or {}).get("managedFields") or []
    newest = max((e for e in entries if _writes_spec(e)), key=lambda e: str(e.get("time") or ""), default=None)
    return str(newest.get("manager") or "") if newest else ""


class History:
    def __init__(self, keep: int = KEEP):
        self._lock = threading.Lock()
        self._runs: deque[Run] = deque(maxlen=keep)
        self._drift: deque[DriftEvent] = deque(maxlen=keep)
        self.planned = None
        """The last run's Planned (plan, live objects), or None before the first plan."""

    def record(self, run: Run) -> None:
        with self._lock:
            self._runs.appendleft(run)

    def drifted(self, event: DriftEvent) -> None:
        with self._lock:
            self._drift.appendleft(event)

    def runs(self) -> list[Run]:
        """Newest first."""
        with self._lock:
            return list(self._runs)

    def drift_events(self) -> list[DriftEvent]:
        """Newest first."""
        with self._lock:
            return list(self._drift)
