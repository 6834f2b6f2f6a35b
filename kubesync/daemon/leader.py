"""Leader election through a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it.

Every replica tries to acquire or renew the Lease every `retry_period`. A holder's claim expires
`leaseDurationSeconds` after a follower last saw the record change (its own clock, so clocks need
not agree); then the follower takes it with a PUT carrying the resourceVersion it read, so of two
followers only one wins. A leader that cannot renew within `renew_deadline` (shorter than the lease)
stops writing before anyone else may start. On shutdown the leader releases the Lease
(holderIdentity "", leaseDurationSeconds 1) so a follower takes over at once.
"""

from __future__ import annotations

import logging
import math
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from kubesync import errors
from kubesync.cluster import API
from kubesync.cluster import leases
from kubesync.daemon.settings import LeaseSettings

log = logging.getLogger(__name__)


def microtime(when: float) -> str:
    """A Kubernetes MicroTime: 2026-11-25T19:00:00.000000Z."""
    return datetime.fromtimestamp(when, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def default_identity() -> str:
    """hostname + pid + random: two processes (even in one pod, or a restarted one) never share it."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


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


class AlwaysLeader:
    """Leader election switched off: a single replica always writes."""

    identity = ""

    def is_leader(self) -> bool:
        return True

    def start(self, stop: threading.Event) -> None:
        pass

    def release(self) -> None:
        pass


class LeaderElector:
    def __init__(self, cluster: API, settings: LeaseSettings, on_change: Callable[[bool], None] = lambda leading: None,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time):
        self.cluster = cluster
        self.settings = settings
        self.identity = settings.identity or default_identity()
        self.on_change = on_change
        self.clock = clock
        self.wall = wall
        self._leader = False
        self._renewed_at = float("-inf")
        self._observed: Record | None = None
        self._observed_at = float("-inf")
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._error = ""

    def is_leader(self) -> bool:
        """True only while our last renewal is younger than the renew deadline: never write on a stale claim."""
        with self._lock:
            return self._leader and self.clock() - self._renewed_at < self.settings.renew_deadline

    # -- one attempt -------------------------------------------------------------------------------

    def _spec(self, previous: Record | None) -> dict:
        now = microtime(self.wall())
        mine = previous is not None and previous.holder == self.identity
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": max(1, math.ceil(self.settings.duration)),
            "acquireTime": previous.acquire_time if mine and previous.acquire_time else now,
            "renewTime": now,
            "leaseTransitions": (previous.transitions if mine else previous.transitions + 1) if previous else 0,
        }

    def _observe(self, record: Record) -> None:
        if record != self._observed:
            self._observed = record
            self._observed_at = self.clock()

    def try_acquire_or_renew(self) -> bool:
        """One round: True when we hold the Lease afterwards."""
        lease = leases.get(self.cluster, self.settings.namespace, self.settings.name)
        if lease is None:
            try:
                created = leases.create(self.cluster, self.settings.namespace, self.settings.name, self._spec(None))
            except errors.ClusterConflict:
                return False  # another replica created it first
            self._observe(Record.of(created))
            return True
        record = Record.of(lease)
        self._observe(record)
        if record.holder and record.holder != self.identity:
            if self._observed_at + record.duration > self.clock():
                return False  # held, and renewed recently enough as far as we can tell
            log.info("lease %s/%s held by %s expired; taking over", self.settings.namespace, self.settings.name, record.holder)
        lease["spec"] = {**(lease.get("spec") or {}), **self._spec(record)}
        try:
            updated = leases.replace(self.cluster, lease)  # carries the resourceVersion we read
        except errors.ClusterConflict:
            return False  # someone else wrote it since we read it
        self._observe(Record.of(updated))
        return True

    # -- the loop ----------------------------------------------------------------------------------

    def _set(self, leading: bool) -> None:
        with self._lock:
            changed = leading != self._leader
            self._leader = leading
        if changed:
            if leading:
                log.info("became the leader (lease %s/%s, identity %s)", self.settings.namespace, self.settings.name, self.identity)
            else:
                log.warning("lost the leadership (lease %s/%s); no longer writing", self.settings.namespace, self.settings.name)
            self.on_change(leading)

    def step(self) -> None:
        try:
            held = self.try_acquire_or_renew()
            if self._error:
                log.info("lease %s/%s reachable again", self.settings.namespace, self.settings.name)
                self._error = ""
        except errors.KubesyncError as e:
            message = errors.cut(str(e))
            if message != self._error:  # once per distinct problem, not every retry period
                log.warning("lease %s/%s: %s", self.settings.namespace, self.settings.name, message)
            self._error = message
            held = None
        now = self.clock()
        if held:
            with self._lock:
                self._renewed_at = now
            self._set(True)
        elif self._leader:
            taken = held is False and self._observed is not None and self._observed.holder != self.identity
            if taken or now - self._renewed_at >= self.settings.renew_deadline:
                self._set(False)

    def _run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.step()
            stop.wait(self.settings.retry_period)

    def start(self, stop: threading.Event) -> None:
        self._thread = threading.Thread(target=self._run, args=(stop,), name="leader-election", daemon=True)
        self._thread.start()

    def release(self) -> None:
        """Give the Lease up (on shutdown) so a follower need not wait for it to expire."""
        if self._thread is not None:
            self._thread.join(timeout=self.settings.retry_period + 5)
        if not self._leader:
            return
        self._set(False)
        try:
            lease = leases.get(self.cluster, self.settings.namespace, self.settings.name)
            if lease is None or Record.of(lease).holder != self.identity:
                return
            lease["spec"] = {
                **(lease.get("spec") or {}),
                "holderIdentity": "",
                "leaseDurationSeconds": 1,
                "renewTime": microtime(self.wall()),
            }
            leases.replace(self.cluster, lease, retry=False)
            log.info("released the lease %s/%s", self.settings.namespace, self.settings.name)
        except errors.KubesyncError as e:
            log.warning("could not release the lease %s/%s: %s", self.settings.namespace, self.settings.name, errors.cut(str(e)))
