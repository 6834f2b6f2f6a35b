"""One identity's claim on one coordination.k8s.io/v1 Lease, as client-go's leaderelection makes it.

Written once and used by the single leader (election/leader.py), each shard and each member Lease
(election/shards.py). A holder's claim expires `leaseDurationSeconds` after an observer last saw the
record change (the observer's own clock, so clocks need not agree); then the observer takes it with a
PUT carrying the resourceVersion it read, so of two observers only one wins. A holder counts as
holding only while its last renewal is younger than `renew_deadline` (shorter than the lease), so it
stops writing before anyone else may start. The renewal is timed *before* its request is sent: that
instant precedes the server's write, which precedes any observer's sighting of it.

A record is believed only as far as election/holders.py says: a duration above the bound is cut to
it, and a holder that is not a replica identity, or a duration out of bounds, is a `conflict`, logged
when it appears and when it clears.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Protocol

from kubesync import errors
from kubesync.cluster import API
from kubesync.cluster import leases
from kubesync.daemon.election.holders import believed_duration, conflict, known_holders

log = logging.getLogger(__name__)

FETCH = object()
"""`step(FETCH)`: GET the Lease first (a caller that LISTed them passes the object, or None if absent)."""


class Timing(Protocol):
    duration: float
    renew_deadline: float
    duration_bound: float


def microtime(when: float) -> str:
    """A Kubernetes MicroTime: 2026-11-25T19:00:00.000000Z."""
    return datetime.fromtimestamp(when, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Record:
    """What the Lease says, and what we compare to notice a renewal."""

    holder: str
    duration: int
    renew_time: str
    acquire_time: str
    transitions: int

    @classmethod
    def of(cls, lease: dict) -> "Record":
        spec = lease.get("spec") or {}
        return cls(
            str(spec.get("holderIdentity") or ""),
            int(spec.get("leaseDurationSeconds") or 0),
            str(spec.get("renewTime") or ""),
            str(spec.get("acquireTime") or ""),
            int(spec.get("leaseTransitions") or 0),
        )


class LeaseClaim:
    """Acquire, renew, observe, expire and release one Lease for one identity; thread-safe reads."""

    def __init__(self, cluster: API, namespace: str, name: str, identity: str, timing: Timing,
                 clock: Callable[[], float], wall: Callable[[], float], labels: dict[str, str] | None = None,
                 known: Callable[[str], bool] | None = None):
        self.cluster = cluster
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.timing = timing
        self.clock = clock
        self.wall = wall
        self.labels = labels
        self.observed: Record | None = None
        self.observed_at = float("-inf")
        self._held = False
        self._renewed_at = float("-inf")
        self._lock = threading.Lock()
        self._error = ""
        self.known = known or known_holders(identity)
        self.conflict = ""
        """Why the observed record was not written by one of our replicas ('' when nothing says so)."""

    def __repr__(self) -> str:
        return f"lease {self.namespace}/{self.name}"

    # -- state -------------------------------------------------------------------------------------

    def held(self) -> bool:
        """True only while our last renewal is younger than the renew deadline: never write on a stale claim."""
        with self._lock:
            return self._held and self.clock() - self._renewed_at < self.timing.renew_deadline

    def answered(self) -> bool:
        """The last round reached the API server: whoever holds the Lease (us or another), we know it."""
        return self.observed is not None and not self._error

    @property
    def holding(self) -> bool:
        """What the last round concluded (held() also checks the deadline against the clock now)."""
        return self._held

    def drop(self) -> bool:
        """Stop counting as the holder (before draining and releasing); True when we were."""
        with self._lock:
            was, self._held = self._held, False
        return was

    def observe(self, record: Record) -> None:
        if record != self.observed:
            self.observed = record
            self.observed_at = self.clock()
            self._check(record)

    def _check(self, record: Record) -> None:
        found = conflict(record.holder, record.duration, self.known, self.timing.duration_bound)
        if found == self.conflict:
            return
        if found:
            log.warning("%s: conflict: %s; believed until %.0fs after its last change, then taken over "
                        "(a holder that keeps renewing keeps it)", self, found, self.believed(record))
        else:
            log.info("%s: conflict cleared (now held by %r)", self, record.holder or "nobody")
        self.conflict = found

    def believed(self, record: Record) -> float:
        return believed_duration(record.duration, self.timing.duration_bound)

    def expires_in(self) -> float | None:
        """Seconds until another's claim on the Lease expires by our clock (None: nobody else holds it)."""
        r = self.observed
        if r is None or not r.holder or r.holder == self.identity:
            return None
        return max(0.0, self.observed_at + self.believed(r) - self.clock())

    def free(self) -> bool:
        """Ours to take: no holder, ours already, never seen, or unchanged for its (believed) duration by our clock."""
        r = self.observed
        if r is None or not r.holder or r.holder == self.identity:
            return True
        return self.observed_at + self.believed(r) <= self.clock()

    # -- one round ---------------------------------------------------------------------------------

    def _spec(self, previous: Record | None) -> dict:
        now = microtime(self.wall())
        mine = previous is not None and previous.holder == self.identity
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": max(1, math.ceil(self.timing.duration)),
            "acquireTime": previous.acquire_time if mine and previous.acquire_time else now,
            "renewTime": now,
            "leaseTransitions": (previous.transitions if mine else previous.transitions + 1) if previous else 0,
        }

    def try_acquire_or_renew(self, lease=FETCH) -> bool:
        """One attempt: True when we hold the Lease afterwards. API errors are raised."""
        if lease is FETCH:
            lease = leases.get(self.cluster, self.namespace, self.name)
        if lease is None:
            try:
                created = leases.create(self.cluster, self.namespace, self.name, self._spec(None), labels=self.labels)
            except errors.ClusterConflict:
                return False  # another replica created it first
            self.observe(Record.of(created))
            return True
        record = Record.of(lease)
        self.observe(record)
        if not self.free():
            return False  # held, and renewed recently enough as far as we can tell
        if record.holder and record.holder != self.identity:
            log.info("%s held by %s expired; taking over", self, record.holder)
        lease = {**lease, "spec": {**(lease.get("spec") or {}), **self._spec(record)}}
        try:
            updated = leases.replace(self.cluster, lease)  # carries the resourceVersion we read
        except errors.ClusterConflict:
            return False  # someone else wrote it since we read it
        self.observe(Record.of(updated))
        return True

    def step(self, lease=FETCH) -> bool:
        """One round of acquire-or-renew, API errors logged once per distinct problem; True when `holding` changed."""
        started = self.clock()
        try:
            got: bool | None = self.try_acquire_or_renew(lease)
            if self._error:
                log.info("%s reachable again", self)
                self._error = ""
        except errors.KubesyncError as e:
            message = errors.cut(str(e))
            if message != self._error:  # once per distinct problem, not every retry period
                log.warning("%s: %s", self, message)
            self._error = message
            got = None
        with self._lock:
            before = self._held
            if got:
                self._renewed_at = started
                self._held = True
            elif self._held:
                taken = got is False and self.observed is not None and self.observed.holder != self.identity
                if taken or self.clock() - self._renewed_at >= self.timing.renew_deadline:
                    self._held = False
            return before != self._held

    def release(self) -> bool:
        """Write holderIdentity "" (leaseDurationSeconds 1) if the Lease is still ours, so another takes it at once.

        The caller has stopped using it first (drop(), then whatever drains its work)."""
        self.drop()
        try:
            lease = leases.get(self.cluster, self.namespace, self.name)
            if lease is None or Record.of(lease).holder != self.identity:
                return False
            lease["spec"] = {**(lease.get("spec") or {}), "holderIdentity": "", "leaseDurationSeconds": 1,
                             "renewTime": microtime(self.wall())}
            self.observe(Record.of(leases.replace(self.cluster, lease, retry=False)))
            return True
        except errors.KubesyncError as e:
            log.warning("could not release the %s: %s", self, errors.cut(str(e)))
            return False
