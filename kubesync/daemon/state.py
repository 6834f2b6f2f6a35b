"""What the daemon remembers about one sync between runs, as one frozen record.

A run (daemon/reactor.py) takes the record and returns a new one; nothing changes it in place, so
the HTTP thread that reads it (the dashboard, /api/v1) always sees one whole state, never a run's
half-written one, and a unit test can start a run from any state it builds.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubesync.model import SyncState


@dataclass(frozen=True)
class SyncStatus:
    """One sync's state: what the dashboard and /api/v1 show, and what the next run decides from."""

    state: SyncState = SyncState.STARTING
    revision: str = ""
    """The source revision the cluster was last seen to match ('' before the first time)."""
    error: str = ""
    """Why the last run failed, redacted of Secret values and cut ('' unless failed)."""
    runs: int = 0
    failures: int = 0
    """Failed runs in a row: picks the retry's backoff, and 0 means the next timer is a resync."""
    quiet: int = 0
    """Resyncs in a row that found nothing moved and skipped the plan (see reactor.FULL_EVERY)."""
    drifted: frozenset[str] = frozenset()
    """Objects the last plan found changed while the source had not moved (each logged once)."""
    conflicts: frozenset[str] = frozenset()
    """Conflicts and warnings of the last plan (each logged once, until it goes away)."""
    standby: tuple[str, int] | tuple[()] = ()
    """(revision, changes) last reported as waiting for the leader: reported once per such state."""
    api_down: bool = False
    """The last run failed because the API server could not be reached: retried as soon as it answers again."""
    cannot_decrypt: tuple[str, ...] = ()
    """SOPS-encrypted files the last run could not decrypt (no key, a wrong key, a tampered file): GET /api/v1/syncs lists them."""

    @property
    def converged(self) -> str | None:
        """The revision the cluster last matched, None before it ever did."""
        return self.revision or None


def retry_wait(backoff: tuple[float, ...], failures: int) -> float:
    """Seconds before retrying after `failures` failed runs in a row (the last backoff repeats)."""
    return backoff[min(failures, len(backoff)) - 1]
