"""Leader election through a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it.

Every replica tries to acquire or renew the Lease every `retry_period`. A holder's claim expires
`leaseDurationSeconds` after a follower last saw the record change (its own clock, so clocks need
not agree); then the follower takes it with a PUT carrying the resourceVersion it read, so of two
followers only one wins. A leader that cannot renew within `renew_deadline` (shorter than the lease)
stops writing before anyone else may start. On shutdown the leader releases the Lease
(holderIdentity "", leaseDurationSeconds 1) so a follower takes over at once.

The Lease lives in the daemon's own namespace unless told otherwise (`own_namespace`): never in
`default`, where anyone with the built-in `edit` role could write it. What a replica believes of a
record it did not write is in election/holders.py.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from typing import Callable

from kubesync.cluster import API
from kubesync.daemon.election.claim import LeaseClaim, Record, microtime
from kubesync.daemon.election.holders import known_holders
from kubesync.daemon.settings import LeaseSettings

log = logging.getLogger(__name__)

__all__ = ["AlwaysLeader", "LeaderElector", "Record", "default_identity", "microtime", "own_namespace"]

FALLBACK_NAMESPACE = "kubesync-system"
SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


def own_namespace(environ=os.environ, namespace_file: str = SERVICE_ACCOUNT_NAMESPACE) -> str:
    """The daemon's namespace: $POD_NAMESPACE (the downward API), else its service account's, else kubesync-system."""
    if environ.get("POD_NAMESPACE", "").strip():
        return environ["POD_NAMESPACE"].strip()
    try:
        with open(namespace_file, encoding="utf-8") as f:
            found = f.read(300).strip()
    except OSError:
        found = ""
    return found or FALLBACK_NAMESPACE


def default_identity() -> str:
    """hostname + pid + random: two processes (even in one pod, or a restarted one) never share it."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class AlwaysLeader:
    """Leader election switched off: a single replica always writes."""

    identity = ""

    def is_leader(self) -> bool:
        return True

    def owns(self, sync: str) -> bool:
        """Every sync is ours (the interface of ShardElector.owns, so the daemon asks one question)."""
        return True

    def settled(self) -> bool:
        """/readyz: nothing to elect."""
        return True

    def start(self, stop: threading.Event) -> None:
        pass

    def release(self) -> None:
        pass

    def report(self) -> dict:
        return {"mode": "off", "identity": "", "leader": True, "leases": [], "conflicts": []}


class LeaderElector:
    """One Lease, one writer: a LeaseClaim renewed every retry period, on_change(leading) on every transition."""

    def __init__(self, cluster: API, settings: LeaseSettings, on_change: Callable[[bool], None] = lambda leading: None,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time):
        self.cluster = cluster
        self.settings = settings
        self.identity = settings.identity or default_identity()
        self.on_change = on_change
        self.claim = LeaseClaim(cluster, settings.namespace, settings.name, self.identity, settings, clock, wall,
                                known=known_holders(self.identity, settings.holders))
        self._thread: threading.Thread | None = None

    def is_leader(self) -> bool:
        """True only while our last renewal is younger than the renew deadline: never write on a stale claim."""
        return self.claim.held()

    def owns(self, sync: str) -> bool:
        """The leader applies every sync (the interface of ShardElector.owns)."""
        return self.claim.held()

    def settled(self) -> bool:
        """/readyz: we hold the Lease, or the last round read it and we know we follow."""
        return self.claim.held() or self.claim.answered()

    def report(self) -> dict:
        """The election as /readyz, /api/v1/syncs and the dashboard show it (nothing secret)."""
        return {"mode": "leader", "identity": self.identity, "leader": self.claim.held(),
                "leases": [lease_doc(self.claim)], "conflicts": conflicts([self.claim])}

    def try_acquire_or_renew(self) -> bool:
        """One attempt: True when we hold the Lease afterwards."""
        return self.claim.try_acquire_or_renew()

    def _announce(self, leading: bool) -> None:
        if leading:
            log.info("became the leader (lease %s/%s, identity %s)", self.settings.namespace, self.settings.name, self.identity)
        else:
            log.warning("lost the leadership (lease %s/%s); no longer writing", self.settings.namespace, self.settings.name)
        self.on_change(leading)

    def step(self) -> None:
        if self.claim.step():
            self._announce(self.claim.holding)

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
        if not self.claim.drop():
            return
        self.on_change(False)
        if self.claim.release():
            log.info("released the lease %s/%s", self.settings.namespace, self.settings.name)


def lease_doc(claim: LeaseClaim) -> dict:
    """One Lease as observed: its name, holder, believed expiry (another's claim) and conflict."""
    r = claim.observed
    return {"lease": f"{claim.namespace}/{claim.name}", "holder": r.holder if r else "",
            "expires_in": claim.expires_in(), "conflict": claim.conflict}


def conflicts(claims) -> list[str]:
    """One line per Lease in conflict, saying what the replica does about it."""
    out = []
    for claim in claims:
        if claim.conflict:
            left = claim.expires_in()
            until = f"taken over in {left:.0f}s unless it is renewed" if left is not None else "held by us now"
            out.append(f"{claim.namespace}/{claim.name}: {claim.conflict}; {until}")
    return out
