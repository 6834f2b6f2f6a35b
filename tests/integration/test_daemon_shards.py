"""Replicas split the syncs through shard Leases on the real control plane: an even split, a rebalance
when a replica joins or leaves, takeover of a dead replica's shards within the lease duration, an
immediate handover on release, and never one shard owned by two replicas at once."""

from __future__ import annotations

import secrets
import threading
import time

import pytest

from kubesync.cluster.api import Client
from kubesync.daemon.election.shards import ShardElector, member_lease
from kubesync.daemon.settings import ShardSettings
from tests.integration.daemon_harness import wait_until

pytestmark = pytest.mark.integration

SHARDS = 8


class Replica:
    """One ShardElector on its own connection, as a replica process would have it."""

    def __init__(self, kubeconfig: str, namespace: str, prefix: str, name: str, duration: float, drain=None):
        self.settings = ShardSettings(count=SHARDS, prefix=prefix, namespace=namespace, duration=duration,
                                      identity=f"{name}-{secrets.token_hex(2)}", holders="[a-z]-[0-9a-f]{4}")
        self.changes: list[frozenset[int]] = []
        self.elector = ShardElector(Client.connect(kubeconfig), self.settings, on_change=self.changes.append,
                                    drain=drain or (lambda shard: None))
        self.stop = threading.Event()
        self.elector.start(self.stop)

    @property
    def identity(self) -> str:
        return self.elector.identity

    def owned(self) -> frozenset[int]:
        return self.elector.owned()

    def crash(self) -> None:
        """Stop renewing without releasing anything, as a killed process would."""
        self.stop.set()
        self.elector.join()

    def leave(self) -> None:
        self.stop.set()
        self.elector.release()


class OverlapSampler(threading.Thread):
    """Samples owned() of every replica every 30 ms; records any shard owned by two of them at once.

    Two replicas are read one after the other, so a sample counts as an overlap only when replica i
    owned the shard both before and after the read that found replica j owning it: a handover that
    happened to fall between two reads is not mistaken for one."""

    def __init__(self, replicas: list[Replica]):
        super().__init__(daemon=True, name="overlap-sampler")
        self.replicas = replicas
        self.overlaps: list[tuple[int, str, str]] = []
        self.samples = 0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(0.03):
            current = list(self.replicas)
            first = [r.owned() for r in current]
            second = [r.owned() for r in current]
            self.samples += 1
            for i, a in enumerate(current):
                for j, b in enumerate(current):
                    between = first[j] if j > i else second[j]
                    if i != j:
                        self.overlaps += [(s, a.identity, b.identity) for s in first[i] & second[i] & between]

    def finish(self) -> None:
        self.halt.set()
        self.join()
        assert self.samples > 20  # sampled throughout, not once or twice
        assert not self.overlaps, f"shards owned by two replicas at once: {self.overlaps[:5]}"


def holders(cluster, namespace: str, prefix: str) -> dict[int, str]:
    found = cluster.request("GET", f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases")["items"]
    by_name = {item["metadata"]["name"]: item.get("spec", {}).get("holderIdentity") or "" for item in found}
    return {i: by_name.get(f"{prefix}-{i}", "") for i in range(SHARDS)}


def lease_names(cluster, namespace: str) -> set[str]:
    found = cluster.request("GET", f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases")["items"]
    return {item["metadata"]["name"] for item in found}


def wait_renewed(cluster, namespace: str, prefix: str, replicas, rounds: int, retry: float) -> None:
    """Until each replica has renewed its member Lease `rounds` more times: it does so once per round
    (a retry period), in the same pass that rebalances its shards. Each renewal is a new
    resourceVersion; polled faster than a round, so a missed one only makes the wait longer."""
    names = {member_lease(prefix, r.identity) for r in replicas}
    seen: dict[str, set[str]] = {n: set() for n in names}

    def done() -> bool:
        found = cluster.request("GET", f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases")["items"]
        for item in found:
            if item["metadata"]["name"] in seen:
                seen[item["metadata"]["name"]].add(item["metadata"]["resourceVersion"])
        return all(len(versions) > rounds for versions in seen.values())

    wait_until(done, 3 * rounds * retry + 10, interval=retry / 4, what=f"{rounds} renewals of {sorted(names)}")


def split(*replicas: Replica):
    return lambda: sorted(len(r.owned()) for r in replicas)


@pytest.fixture
def replicas(kubeconfig, namespace):
    """Start replicas with start(name, duration); all of them are stopped (without release) at the end."""
    prefix = f"shard-{secrets.token_hex(3)}"
    started: list[Replica] = []

    def start(name: str, duration: float = 3.0, drain=None) -> Replica:
        replica = Replica(kubeconfig, namespace, prefix, name, duration, drain)
        started.append(replica)
        return replica

    start.prefix = prefix
    yield start
    for replica in started:
        replica.crash()


def test_two_replicas_split_the_shards_and_rebalance_when_a_third_joins_and_leaves(replicas, cluster, namespace):
    a = replicas("a")
    retry = a.settings.retry_period
    wait_until(lambda: len(a.owned()) == SHARDS, 10, what="a alone holds every shard")
    sampler = OverlapSampler([a])
    sampler.start()
    b = replicas("b")
    sampler.replicas.append(b)
    began = time.monotonic()
    wait_until(lambda: split(a, b)() == [4, 4], 10, interval=0.02, what="a 4/4 split")
    took = time.monotonic() - began
    assert took < 8 * retry, f"the split took {took:.2f}s ({took / retry:.1f} retry periods)"
    leases = holders(cluster, namespace, replicas.prefix)
    assert sorted(leases) == list(range(SHARDS))
    assert {i for i, h in leases.items() if h == a.identity} == a.owned()
    assert {i for i, h in leases.items() if h == b.identity} == b.owned()
    assert {member_lease(replicas.prefix, r.identity) for r in (a, b)} <= lease_names(cluster, namespace)

    c = replicas("c")
    sampler.replicas.append(c)
    wait_until(lambda: split(a, b, c)() == [2, 3, 3], 10, interval=0.02, what="a 3/3/2 split with a third replica")
    assert a.owned() | b.owned() | c.owned() == set(range(SHARDS))

    c.leave()
    assert member_lease(replicas.prefix, c.identity) not in lease_names(cluster, namespace)
    wait_until(lambda: split(a, b)() == [4, 4], 10, interval=0.02, what="back to 4/4 after the third left")
    assert c.owned() == frozenset() and c.changes[-1] == frozenset()
    # Stable: ten more rounds of each replica (each one a chance to take or give up a shard), and no
    # shard changed hands.
    wait_renewed(cluster, namespace, replicas.prefix, (a, b), rounds=10, retry=retry)
    assert split(a, b)() == [4, 4] and not c.owned()
    sampler.finish()
    leases = holders(cluster, namespace, replicas.prefix)
    assert {i for i, h in leases.items() if h == a.identity} == a.owned()
    assert {i for i, h in leases.items() if h == b.identity} == b.owned()
    print(f"\n4/4 split {took:.2f}s after the second replica started (retry period {retry:.3f}s)")


def test_a_crashed_replicas_shards_are_taken_over_within_the_lease_duration(replicas, cluster, namespace):
    a, b = replicas("a"), replicas("b")
    duration, retry = a.settings.duration, a.settings.retry_period
    wait_until(lambda: split(a, b)() == [4, 4], 15, what="a 4/4 split")
    sampler = OverlapSampler([a, b])
    sampler.start()
    orphans = b.owned()
    b.crash()  # no release: its Leases must expire
    crashed = time.monotonic()
    assert holders(cluster, namespace, replicas.prefix) == {i: (b if i in orphans else a).identity for i in range(SHARDS)}
    wait_until(lambda: len(a.owned()) == SHARDS, duration + 10, interval=0.02, what="a takes every shard")
    took = time.monotonic() - crashed
    assert not b.owned(), "the crashed replica still believes it owns shards"
    sampler.finish()
    assert set(holders(cluster, namespace, replicas.prefix).values()) == {a.identity}
    # Leases renewed at most a retry period before the crash, seen expired a retry period after.
    assert took <= duration + 2 * retry + 1.0, f"takeover took {took:.2f}s with a {duration:g}s lease"
    # b's last renewal came at most a retry period (and a step) before the crash: no expiry before that.
    assert took >= duration - retry - 0.5, f"{took:.2f}s: taken before the lease could have expired"
    print(f"\ntakeover of {len(orphans)} shards {took:.2f}s after the crash (lease {duration:g}s, retry {retry:.3f}s)")


def test_release_hands_the_shards_over_at_once_and_drains_before_releasing(replicas, cluster, namespace):
    seen_at_drain: list[tuple[int, bool, str]] = []

    def drain(shard: int) -> None:
        """What the daemon will do: wait for runs in flight. Meanwhile the shard must be ours yet not owned."""
        time.sleep(0.3)
        holder = holders(cluster, namespace, replicas.prefix)[shard]
        seen_at_drain.append((shard, shard in b.elector.owned(), holder))

    a = replicas("a", duration=12.0)
    b = replicas("b", duration=12.0, drain=drain)
    wait_until(lambda: split(a, b)() == [4, 4], 30, what="a 4/4 split")
    sampler = OverlapSampler([a, b])
    sampler.start()
    mine = b.owned()
    seen_at_drain.clear()  # shards b gave up while the split settled
    released = time.monotonic()
    b.leave()
    wait_until(lambda: len(a.owned()) == SHARDS, 12, interval=0.02, what="a takes the released shards")
    took = time.monotonic() - released
    sampler.finish()
    assert took < a.settings.duration / 2, f"handover took {took:.2f}s: it waited for expiry, not the release"
    assert sorted(s for s, _, _ in seen_at_drain) == sorted(mine)
    assert all(not owned and holder == b.identity for _, owned, holder in seen_at_drain), seen_at_drain
    assert b.changes[-1] == frozenset() and not b.elector.is_leader() and a.elector.is_leader()
    assert set(holders(cluster, namespace, replicas.prefix).values()) == {a.identity}
    assert member_lease(replicas.prefix, b.identity) not in lease_names(cluster, namespace)
    print(f"\nhandover of {len(mine)} released shards in {took:.2f}s (lease {a.settings.duration:g}s)")
