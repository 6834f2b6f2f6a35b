"""Sharding of the syncs across replicas through coordination.k8s.io/v1 Leases (--shards N).

A sync belongs to shard sha256(name) % S, the same in every process and Python run. Each shard is
one Lease, `<prefix>-<i>`, claimed by the rules of election/claim.py (the ones single-leader mode uses):
a holder applies a shard's syncs only while its last renewal is younger than the renew deadline, and
another replica takes a shard only after seeing its record unchanged for the lease duration, so a
shard is never applied by two replicas at once.

Every retry period a replica makes one LIST of the group's Leases (labelled kubesync.io/lease-group),
renews its member Lease `<prefix>-member-<hash of identity>` and the shards it holds, counts the live
members (member Leases changed within their duration, by its own clock) and moves towards its fair
share ceil(S / members): it takes free or expired shards (in an order of its own, a rendezvous hash,
so that replicas rarely race for the same one) and gives up those above its share. Giving a shard up
is ordered: owns() turns False, drain(shard) runs in its own thread while the Lease is still renewed
(so nobody may start on the shard while our runs finish), and only then is the release written. On
shutdown every shard goes that way and the member Lease is deleted, so the others take over at once;
a replica that dies is replaced within the lease duration (plus a retry period or two).
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from typing import Callable, Iterable

from kubesync import errors
from kubesync.cluster import API
from kubesync.cluster import leases
from kubesync.daemon.election.claim import FETCH, LeaseClaim, Record
from kubesync.daemon.election.holders import known_holders
from kubesync.daemon.election.leader import conflicts, default_identity, lease_doc
from kubesync.daemon.settings import ShardSettings

log = logging.getLogger(__name__)

GROUP_LABEL = "kubesync.io/lease-group"
DEAD_MEMBER_GRACE = 3
"""A member Lease unchanged for this many lease durations is deleted (its replica is long gone)."""


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def shard_of(sync: str, count: int) -> int:
    """The shard of a sync: stable across processes and runs (never Python's salted hash())."""
    return int.from_bytes(_digest(sync), "big") % count


def fair_share(count: int, members: int) -> int:
    """Shards one of `members` live replicas may hold: ceil(S / members), so the shares always cover S."""
    return math.ceil(count / max(1, members))


def shard_lease(prefix: str, shard: int) -> str:
    return f"{prefix}-{shard}"


def member_lease(prefix: str, identity: str) -> str:
    return f"{prefix}-member-{_digest(identity).hex()[:10]}"


def group_value(prefix: str) -> str:
    """The label value naming a group: the prefix itself when it fits a label value (63 characters)."""
    return prefix if len(prefix) <= 63 else _digest(prefix).hex()[:32]


def preference(identity: str, shard: int) -> int:
    """Rendezvous hash: each replica ranks the shards its own way; lower is wanted more."""
    return int.from_bytes(_digest(f"{identity}\0{shard}")[:8], "big")


def rebalance(identity: str, owned: Iterable[int], free: Iterable[int], share: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(shards to give up, shards to try to take) for a replica owning `owned` whose fair share is `share`.

    Gives up the ones it wants least; tries the free ones it wants most (more than it has room for:
    some attempts lose a race; the caller stops once it holds its share)."""
    rank = lambda shard: preference(identity, shard)  # noqa: E731
    mine = sorted(owned, key=rank)
    give_up = tuple(mine[share:])
    take = tuple(sorted(free, key=rank)) if len(mine) < share else ()
    return give_up, take


class ShardElector:
    """This replica's shards: acquired, renewed, rebalanced and released through Leases."""

    def __init__(self, cluster: API, settings: ShardSettings,
                 on_change: Callable[[frozenset[int]], None] = lambda owned: None,
                 drain: Callable[[int], None] = lambda shard: None,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time):
        if settings.count < 1:
            raise ValueError("ShardElector needs at least one shard")
        self.cluster = cluster
        self.settings = settings
        self.identity = settings.identity or default_identity()
        self.on_change = on_change
        self.drain = drain
        self.clock = clock
        self.selector = f"{GROUP_LABEL}={group_value(settings.prefix)}"
        known = known_holders(self.identity, settings.holders)
        self._claim = lambda name: LeaseClaim(cluster, settings.namespace, name, self.identity, settings, clock, wall,
                                              labels={GROUP_LABEL: group_value(settings.prefix)}, known=known)
        self.claims = {i: self._claim(shard_lease(settings.prefix, i)) for i in range(settings.count)}
        self.member = self._claim(member_lease(settings.prefix, self.identity))
        self.members = 1
        self._peers: dict[str, LeaseClaim] = {}  # other replicas' member Leases, observed only
        self._releasing: dict[int, threading.Thread] = {}  # shards given up whose drain() is running
        self._drain_began: dict[int, float] = {}
        self._slow_warned: set[int] = set()
        self._leaving = False
        self._reported: frozenset[int] = frozenset()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._error = ""
        self._listed = False  # a round has read the group's Leases

    # -- what the daemon asks ----------------------------------------------------------------------

    def shard_of(self, sync: str) -> int:
        return shard_of(sync, self.settings.count)

    def owns(self, sync: str) -> bool:
        """We hold the sync's shard, renewed within the renew deadline, and are not giving it up."""
        shard = self.shard_of(sync)
        with self._lock:
            return shard not in self._releasing and self.claims[shard].held()

    def owned(self) -> frozenset[int]:
        with self._lock:
            return frozenset(i for i, c in self.claims.items() if i not in self._releasing and c.held())

    def is_leader(self) -> bool:
        """Holds at least one shard: may write at all."""
        return bool(self.owned())

    def settled(self) -> bool:
        """/readyz: the last round read the group's Leases, so what we hold (maybe nothing: a follower) is known."""
        return self._listed and not self._error

    def report(self) -> dict:
        """The election as /readyz, /api/v1/syncs and the dashboard show it: the shards held, every conflict
        (shard Leases, and member Leases not counted as replicas)."""
        peers = list(self._peers.values())
        return {"mode": "shards", "identity": self.identity, "leader": self.is_leader(),
                "shards": sorted(self.owned()), "members": self.members,
                "leases": [lease_doc(c) for c in self.claims.values()],
                "conflicts": conflicts([*self.claims.values(), *peers])}

    # -- one round ---------------------------------------------------------------------------------

    def _list(self) -> dict | None:
        try:
            listed = leases.list_labelled(self.cluster, self.settings.namespace, self.selector)
        except errors.KubesyncError as e:
            message = errors.cut(str(e))
            if message != self._error:  # once per distinct problem, not every retry period
                log.warning("shard leases in %s: %s", self.settings.namespace, message)
            self._error = message
            return None
        if self._error:
            log.info("shard leases in %s reachable again", self.settings.namespace)
            self._error = ""
        return listed

    def step(self) -> None:
        """List the group's Leases, renew what we hold, count the members, move towards the fair share."""
        listed = self._list()
        if listed is not None:
            self._listed = True
            self.member.step(listed.get(self.member.name, FETCH))
            self.members = self._count_members(listed)
            self._renew(listed)
            self._balance(listed)
        self._report()

    def _count_members(self, listed: dict) -> int:
        """Live replicas, us included; member Leases dead for DEAD_MEMBER_GRACE durations are deleted."""
        base = self.member.name.rsplit("-", 1)[0] + "-"
        names = {n for n in listed if n.startswith(base) and n != self.member.name}
        self._peers = {n: self._peers.get(n) or self._claim(n) for n in names}
        live = 1
        for name, peer in self._peers.items():
            peer.observe(Record.of(listed[name]))
            if not peer.free() and not peer.conflict:  # a member Lease in conflict is not counted as a replica
                live += 1
            elif peer.observed_at + DEAD_MEMBER_GRACE * self.settings.duration <= self.clock():
                self._forget(listed[name])
        return live

    def _forget(self, lease: dict) -> None:
        meta = lease.get("metadata") or {}
        try:  # only the version we saw dead: a replica that came back meanwhile keeps its Lease
            leases.delete(self.cluster, self.settings.namespace, meta.get("name", ""), meta.get("resourceVersion", ""))
            log.info("deleted the member lease %s/%s of a replica gone for good", self.settings.namespace, meta.get("name"))
        except errors.KubesyncError as e:
            log.debug("could not delete the member lease %s: %s", meta.get("name"), errors.cut(str(e)))

    def _renew(self, listed: dict) -> None:
        """Renew every shard we hold (those being drained too: nobody may start on them yet); observe the rest."""
        for i, claim in self.claims.items():
            lease = listed.get(claim.name, FETCH)
            if claim.holding:
                if claim.step(lease) and not claim.holding:
                    log.warning("lost shard %d (%s); no longer applying its syncs", i, claim)
            elif lease is not FETCH:
                claim.observe(Record.of(lease))
        self._finish_drains()

    def _balance(self, listed: dict) -> None:
        share = 0 if self._leaving else fair_share(self.settings.count, self.members)
        with self._lock:
            releasing = set(self._releasing)
        owned = [i for i, c in self.claims.items() if c.holding and i not in releasing]
        free = [i for i, c in self.claims.items() if not c.holding and i not in releasing and c.free()]
        give_up, take = rebalance(self.identity, owned, free, share)
        for i in give_up:
            self._start_drain(i)
        if give_up:
            self._finish_drains(wait=self.settings.retry_period / 2)
        have = len(owned) - len(give_up)
        for i in take:
            if have >= share:
                break
            if self.claims[i].step(listed.get(self.claims[i].name, FETCH)) and self.claims[i].holding:
                have += 1
                log.info("acquired shard %d (%s); fair share %d of %d shards among %d replicas",
                         i, self.claims[i], share, self.settings.count, self.members)

    # -- giving shards up --------------------------------------------------------------------------

    def _start_drain(self, shard: int) -> None:
        """owns() turns False first, then drain(shard) runs; the release is written once it returns."""
        thread = threading.Thread(target=self._drain, args=(shard,), name=f"shard-drain-{shard}", daemon=True)
        with self._lock:
            self._releasing[shard] = thread
        self._drain_began[shard] = self.clock()
        self._report()
        thread.start()

    def _drain(self, shard: int) -> None:
        try:
            self.drain(shard)
        except Exception:  # a failed drain must not keep the shard forever
            log.exception("draining shard %d failed; releasing it anyway", shard)

    def _finish_drains(self, wait: float = 0.0) -> None:
        """Write the release of every shard whose drain returned (waiting up to `wait` seconds for them)."""
        deadline = self.clock() + wait
        with self._lock:
            pending = dict(self._releasing)
        for shard, thread in pending.items():
            thread.join(timeout=max(0.0, deadline - self.clock()))
            if thread.is_alive():
                self._warn_slow_drain(shard)
                continue
            if self.claims[shard].release():
                log.info("released shard %d (%s)", shard, self.claims[shard])
            with self._lock:
                del self._releasing[shard]
            self._drain_began.pop(shard, None)
            self._slow_warned.discard(shard)

    def _warn_slow_drain(self, shard: int) -> None:
        """Once per drain that outlasts a lease duration: the shard stays held (safe) but nobody applies it."""
        began = self._drain_began.get(shard, self.clock())
        if began + self.settings.duration <= self.clock() and shard not in self._slow_warned:
            self._slow_warned.add(shard)
            log.warning("shard %d: runs in flight have not finished %.0fs after it was given up; it is held "
                        "(and applied by nobody) until they do", shard, self.clock() - began)

    def _report(self) -> None:
        owned = self.owned()
        if owned != self._reported:
            self._reported = owned
            self.on_change(owned)

    # -- the loop ----------------------------------------------------------------------------------

    def _run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.step()
            except Exception:  # a bug or a malformed Lease must not end the renewals of every other shard
                log.exception("shard election step failed")
            stop.wait(self.settings.retry_period)

    def start(self, stop: threading.Event) -> None:
        self._thread = threading.Thread(target=self._run, args=(stop,), name="shard-election", daemon=True)
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the loop to end (after the stop event was set)."""
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def _gone(self) -> bool:
        with self._lock:
            draining = bool(self._releasing)
        return not draining and not any(c.holding for c in self.claims.values())

    def release(self, timeout: float = 30.0) -> None:
        """On shutdown: give every shard up (drained, renewed meanwhile, then released) and leave the group."""
        self.join(timeout=self.settings.retry_period + 5)
        self._leaving = True
        deadline = self.clock() + timeout
        while self.clock() < deadline:
            began = self.clock()
            self.step()  # renews what is still being drained, releases what is done
            if self._gone():
                break
            self._finish_drains(wait=min(self.settings.retry_period, max(0.0, deadline - self.clock())))
            if self._gone():
                break
            time.sleep(max(0.0, min(began + self.settings.retry_period, deadline) - self.clock()))
        try:
            leases.delete(self.cluster, self.settings.namespace, self.member.name)
        except errors.KubesyncError as e:  # e.g. no RBAC to delete: an empty holder counts as gone too
            log.debug("could not delete %s: %s", self.member, errors.cut(str(e)))
            self.member.release()
        log.info("left the shard group %s/%s", self.settings.namespace, self.settings.prefix)
