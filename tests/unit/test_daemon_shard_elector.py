"""ShardElector timing rules on a fake clock, against the in-memory Lease API of test_daemon_leader
(it enforces resourceVersion like the server). The real server: tests/integration/test_daemon_shards.py.

A fake clock makes exact what the real server cannot show on demand: an API that stops answering,
the renew deadline passing before anyone may take over, dead members forgotten after three durations.
"""

from __future__ import annotations

import copy
import threading

import pytest

from kubesync import errors
from kubesync.cluster.api import Client
from kubesync.daemon.settings import ShardSettings
from kubesync.daemon.election.shards import ShardElector, member_lease, shard_of
from tests.unit.test_daemon_leader import Clock, FakeLeases

SHARDS = 4


class FakeGroup(FakeLeases):
    """Adds the labelled LIST and DELETE (with a resourceVersion precondition) the shard elector uses."""

    def request(self, method, path, body=None, query=None, **kwargs):
        self._check()
        if method == "GET" and (query or {}).get("labelSelector"):
            key, value = query["labelSelector"].split("=")
            items = [copy.deepcopy(o) for p, o in self.objects.items()
                     if p.startswith(path + "/") and o["metadata"].get("labels", {}).get(key) == value]
            return {"items": items}
        if method == "DELETE":
            current = self.objects.get(path)
            if current is None:
                raise errors.ClusterNotFound("not found", status=404)
            wanted = (body.get("preconditions") or {}).get("resourceVersion")
            if wanted and wanted != current["metadata"]["resourceVersion"]:
                raise errors.ClusterConflict("precondition failed", status=409)
            del self.objects[path]
            return {}
        return super().request(method, path, body=body, **kwargs)

    def holders(self) -> dict[str, str]:
        return {p.rsplit("/", 1)[1]: o["spec"]["holderIdentity"] for p, o in self.objects.items()}


@pytest.fixture
def world():
    return FakeGroup(), Clock()


def elector(world, identity, events=None, drain=None, duration=8.0):
    api, clock = world
    settings = ShardSettings(count=SHARDS, prefix="s", namespace="ns", duration=duration, identity=identity,
                             holders="[a-z]")  # the test's replicas are a, b, c
    on_change = (lambda owned: events.append((identity, owned))) if events is not None else (lambda owned: None)
    return ShardElector(Client(api), settings, on_change=on_change, drain=drain or (lambda shard: None), clock=clock,
                        wall=lambda: 1_800_000_000.0 + clock.now)


def test_alone_a_replica_takes_every_shard_and_owns_every_sync(world):
    api, clock = world
    events = []
    a = elector(world, "a", events)
    a.step()
    assert a.owned() == frozenset(range(SHARDS)) and a.is_leader()
    assert all(a.owns(f"sync-{i}") for i in range(20))
    assert a.shard_of("shop") == shard_of("shop", SHARDS)
    assert events == [("a", frozenset(range(SHARDS)))]
    assert api.holders() == {**{f"s-{i}": "a" for i in range(SHARDS)}, member_lease("s", "a"): "a"}


def test_a_second_replica_gets_half_after_the_first_drains_what_it_gives_up(world):
    api, clock = world
    events, drained = [], []
    a = elector(world, "a", events, drain=lambda shard: drained.append((shard, a.owned(), api.holders()[f"s-{shard}"])))
    b = elector(world, "b", events)
    a.step()
    b.step()  # b counts two members but finds nothing free
    assert not b.owned()
    a.step()  # a sees b: gives up two shards, drained (no longer owned, Lease still a's), then released
    assert len(a.owned()) == 2
    assert sorted(s for s, _, _ in drained) == sorted(set(range(SHARDS)) - a.owned())
    assert all(shard not in owned and holder == "a" for shard, owned, holder in drained)
    b.step()
    assert len(b.owned()) == 2 and not a.owned() & b.owned()
    assert [e for e in events if e[0] == "a"][-1] == ("a", a.owned())


def test_an_unreachable_api_stops_the_holder_before_anyone_may_take_over(world):
    api, clock = world
    events = []
    a = elector(world, "a", events)
    a.step()
    api.down = True
    clock.now += 5.0
    a.step()
    assert len(a.owned()) == SHARDS  # within the renew deadline (2/3 of 8 s)
    clock.now += 0.4
    assert a.owned() == frozenset() and not a.is_leader() and not a.owns("shop")  # past it, before a step notices
    a.step()
    assert events[-1] == ("a", frozenset())
    api.down = False
    a.step()  # nobody took them: renewed, owned again
    assert a.owned() == frozenset(range(SHARDS))


def test_a_dead_replicas_shards_are_taken_a_lease_duration_after_their_last_change(world):
    api, clock = world
    a, b = elector(world, "a"), elector(world, "b")
    a.step()
    b.step()
    a.step()
    b.step()
    assert (len(a.owned()), len(b.owned())) == (2, 2)
    orphans = b.owned()  # b dies now
    a.step()  # a sees b's last renewals: the lease duration counts from here, by a's clock
    clock.now += 7.9
    a.step()
    assert len(a.owned()) == 2 and b.owned() == frozenset()  # b stopped itself long before
    clock.now += 0.2
    a.step()
    assert a.owned() == frozenset(range(SHARDS))
    assert {api.holders()[f"s-{i}"] for i in orphans} == {"a"}


def test_a_member_dead_for_three_durations_is_deleted_and_a_live_one_never(world):
    api, clock = world
    a, b, c = elector(world, "a"), elector(world, "b"), elector(world, "c")
    for e in (a, b, c):
        e.step()
    dead = member_lease("s", "b")
    for _ in range(12):  # b is gone; c keeps renewing
        clock.now += 2.0
        a.step()
        c.step()
    assert dead not in api.holders()
    assert member_lease("s", "c") in api.holders() and a.members == 2


def test_release_drains_releases_every_shard_and_leaves_the_group(world):
    api, clock = world
    order = []
    a = elector(world, "a", drain=lambda shard: order.append(("drain", shard, shard in a.owned())))
    b = elector(world, "b")
    a.step()
    b.step()
    a.release(timeout=5)
    assert sorted(s for _, s, _ in order) == list(range(SHARDS)) and not any(owned for _, _, owned in order)
    assert member_lease("s", "a") not in api.holders()
    assert {api.holders()[f"s-{i}"] for i in range(SHARDS)} == {""}
    b.step()
    assert b.owned() == frozenset(range(SHARDS))


def test_a_drain_that_outlasts_the_lease_keeps_the_shard_held_and_is_reported(world, caplog):
    api, clock = world
    gate = threading.Event()
    a = elector(world, "a", drain=lambda shard: gate.wait(10))
    b = elector(world, "b")
    a.step()
    b.step()
    a.step()  # gives up two shards; their drains hang
    given_up = set(range(SHARDS)) - a.owned()
    assert len(given_up) == 2
    for _ in range(6):
        clock.now += 2.0
        a.step()
        b.step()
    assert {api.holders()[f"s-{i}"] for i in given_up} == {"a"}  # renewed all along: b may not start on them
    assert not b.owned() & given_up and not a.owned() & given_up
    assert sum("have not finished" in r.getMessage() for r in caplog.records) == 2
    gate.set()
    a._finish_drains(wait=5)
    b.step()
    assert b.owned() == given_up


def test_readiness_needs_a_round_that_read_the_groups_leases_even_holding_nothing(world):
    api, clock = world
    a, b = elector(world, "a"), elector(world, "b")
    assert not a.settled()
    a.step()
    b.step()
    assert a.settled() and b.settled() and not b.owned()  # a follower holding no shard is ready too
    api.down = True
    b.step()
    assert not b.settled()
    api.down = False
    b.step()
    assert b.settled()
