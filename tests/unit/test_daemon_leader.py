"""Lease election rules, against an in-memory Lease API that enforces resourceVersion like the server.

The real server is exercised by tests/integration/test_daemon_ha.py; here a fake clock makes
expiry and deadlines exact.
"""

from __future__ import annotations

import copy
import re

import pytest

from kubesync import errors
from kubesync.cluster.api import Client
from kubesync.daemon.election.leader import LeaderElector, default_identity, microtime
from kubesync.daemon.settings import LeaseSettings


class FakeLeases:
    """GET / POST / PUT of Lease objects with optimistic concurrency, as the API server does it: a
    connection under the real cluster.api.Client, as cluster.client.Cluster is."""

    def __init__(self):
        self.objects: dict[str, dict] = {}
        self.rv = 0
        self.down = False

    def _check(self):
        if self.down:
            raise errors.ClusterUnreachable("connection refused")

    def get_or_none(self, path):
        self._check()
        obj = self.objects.get(path)
        return copy.deepcopy(obj) if obj else None

    def request(self, method, path, body=None, **kwargs):
        self._check()
        if method == "GET":
            found = self.get_or_none(path)
            if found is None:
                raise errors.ClusterNotFound("not found", status=404)
            return found
        if method == "POST":
            full = f"{path}/{body['metadata']['name']}"
            if full in self.objects:
                raise errors.ClusterConflict("already exists", status=409)
            return self._store(full, body)
        if method == "PUT":
            current = self.objects.get(path)
            if current is None:
                raise errors.ClusterNotFound("not found", status=404)
            if body["metadata"].get("resourceVersion") != current["metadata"]["resourceVersion"]:
                raise errors.ClusterConflict("the object has been modified", status=409)
            return self._store(path, body)
        raise AssertionError(method)

    def _store(self, path, body):
        self.rv += 1
        obj = copy.deepcopy(body)
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self.objects[path] = obj
        return copy.deepcopy(obj)

    def spec(self):
        (obj,) = self.objects.values()
        return obj["spec"]


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def world():
    return FakeLeases(), Clock()


def elector(world, identity, duration=4.0, events=None):
    api, clock = world
    settings = LeaseSettings(enabled=True, name="lead", namespace="ns", duration=duration, identity=identity,
                             holders="[a-z]+")  # the test's replicas
    on_change = (lambda leading: events.append((identity, leading))) if events is not None else (lambda leading: None)
    return LeaderElector(Client(api), settings, on_change=on_change, clock=clock, wall=lambda: 1_800_000_000.0 + clock.now)


def test_microtime_is_the_api_format():
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", microtime(1_800_000_000.5))
    assert microtime(0) == "1970-01-01T00:00:00.000000Z"


def test_identity_is_unique_per_process_and_call():
    assert default_identity() != default_identity()


def test_first_candidate_creates_the_lease_and_the_second_waits(world):
    api, clock = world
    a, b = elector(world, "a"), elector(world, "b")
    a.step()
    b.step()
    assert a.is_leader() and not b.is_leader()
    spec = api.spec()
    assert spec["holderIdentity"] == "a" and spec["leaseDurationSeconds"] == 4 and spec["leaseTransitions"] == 0
    clock.now += 3
    a.step()  # renews
    clock.now += 3
    b.step()  # 6s after a started, but a renewed 3s ago
    assert not b.is_leader()
    assert api.spec()["holderIdentity"] == "a"


def test_follower_takes_over_a_lease_duration_after_the_last_renewal_it_saw(world):
    api, clock = world
    events = []
    a, b = elector(world, "a", events=events), elector(world, "b", events=events)
    a.step()
    b.step()
    acquired = api.spec()["acquireTime"]
    # a dies now; b keeps trying every retry period.
    clock.now += 3.9
    b.step()
    assert not b.is_leader()
    clock.now += 0.2
    b.step()
    assert b.is_leader()
    spec = api.spec()
    assert spec["holderIdentity"] == "b" and spec["leaseTransitions"] == 1 and spec["acquireTime"] != acquired
    assert events == [("a", True), ("b", True)]


def test_a_leader_that_cannot_renew_stops_before_anyone_may_take_over(world):
    api, clock = world
    events = []
    a = elector(world, "a", events=events)
    a.step()
    api.down = True
    clock.now += 2.0
    a.step()
    assert a.is_leader()  # still within the renew deadline (2/3 of the lease)
    clock.now += 0.8
    assert not a.is_leader()  # past the deadline: no writes even before the elector notices
    a.step()
    assert events == [("a", True), ("a", False)]


def test_a_leader_whose_lease_was_taken_steps_down(world):
    api, clock = world
    a, b = elector(world, "a"), elector(world, "b")
    a.step()
    b.step()
    clock.now += 5  # a stalled (e.g. a long GC pause) and b took over
    b.step()
    assert b.is_leader()
    a.step()
    assert not a.is_leader()


def test_release_lets_a_follower_in_at_once(world):
    api, clock = world
    a, b = elector(world, "a", duration=60), elector(world, "b", duration=60)
    a.step()
    b.step()
    a.release()
    spec = api.spec()
    assert spec["holderIdentity"] == "" and spec["leaseDurationSeconds"] == 1
    assert not a.is_leader()
    clock.now += 0.5
    b.step()
    assert b.is_leader()


def test_release_never_touches_someone_elses_lease(world):
    api, clock = world
    a, b = elector(world, "a"), elector(world, "b")
    a.step()
    b.step()
    b.release()  # not the leader: nothing to do
    assert api.spec()["holderIdentity"] == "a"


def test_concurrent_takeover_has_one_winner(world):
    api, clock = world
    a, b, c = elector(world, "a"), elector(world, "b"), elector(world, "c")
    a.step()
    b.step()
    c.step()
    clock.now += 10
    # b and c both read the expired lease; b writes first, so c's PUT carries a stale resourceVersion.
    lease_before = api.get_or_none(next(iter(api.objects)))
    original = api.get_or_none
    api.get_or_none = lambda path: copy.deepcopy(lease_before)
    try:
        assert b.try_acquire_or_renew() is True
        assert c.try_acquire_or_renew() is False
    finally:
        api.get_or_none = original
    assert api.spec()["holderIdentity"] == "b"


def test_owns_is_leadership_for_every_sync(world):
    from kubesync.daemon.election.leader import AlwaysLeader

    a, b = elector(world, "a"), elector(world, "b")
    a.step()
    b.step()
    assert a.owns("shop") and a.owns("web") and not b.owns("shop")
    assert AlwaysLeader().owns("anything")


def test_readiness_needs_a_settled_election_a_leader_or_a_follower_that_read_the_lease(world):
    from kubesync.daemon.election.leader import AlwaysLeader

    api, clock = world
    a, b = elector(world, "a"), elector(world, "b")
    assert not a.settled() and not b.settled()  # no round yet: who leads is not known
    a.step()
    b.step()
    assert a.settled() and b.settled() and not b.is_leader()  # the leader, and a follower that knows it follows
    api.down = True
    b.step()
    assert not b.settled()  # cannot read the Lease: neither leader nor known follower
    clock.now += 2.0
    a.step()
    assert a.settled()  # still holding within its renew deadline
    clock.now += 1.0
    assert not a.settled()
    api.down = False
    b.step()
    assert b.settled()
    assert AlwaysLeader().settled()
