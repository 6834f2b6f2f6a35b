"""The daemon's work queue: one run per burst of triggers, never two runs of a sync at once, fairness."""

from __future__ import annotations

import threading
import time

from kubesync.daemon.queue import WorkQueue
from tests.support.waits import wait_for


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def queue(**kw):
    clock = Clock()
    return WorkQueue(clock=clock, **{"settle": 0.2, "max_delay": 10.0, "min_interval": 1.0, **kw}), clock


def test_a_burst_of_triggers_for_one_sync_is_one_run_with_every_reason():
    q, clock = queue()
    for reason in ("file", "git", "watch", "webhook", "watch"):
        q.add("shop", reason)
    assert q.get(timeout=0) is None  # settling
    clock.now += 0.25
    assert q.get(timeout=0) == ("shop", {"file", "git", "watch", "webhook"})
    assert q.get(timeout=0) is None


def test_endless_triggers_delay_a_run_by_max_delay_at_most():
    q, clock = queue()
    for _ in range(200):
        q.add("shop", "file", after=0.5)
        clock.now += 0.1
        if q.get(timeout=0):
            break
    assert 10.0 <= clock.now - 1000.0 <= 10.2


def test_a_sync_never_runs_twice_at_once_and_triggers_during_a_run_queue_it_again():
    q, clock = queue()
    q.add("shop", "startup", after=0)
    assert q.get(timeout=0) == ("shop", {"startup"})
    q.add("shop", "watch")  # its own writes, seen by the watch
    clock.now += 0.5
    assert q.get(timeout=0) is None  # still running
    q.done("shop")
    assert q.get(timeout=0) is None  # and not again within min_interval of its start
    clock.now += 0.6
    assert q.get(timeout=0) == ("shop", {"watch"})


def test_timers_give_way_to_triggers_and_do_not_name_themselves_as_the_reason():
    q, clock = queue()
    q.schedule("shop", "resync", 30)
    clock.now += 5
    q.add("shop", "git")
    clock.now += 0.3
    assert q.get(timeout=0) == ("shop", {"git"})
    q.schedule("shop", "resync", 30)
    q.done("shop")
    clock.now += 29
    assert q.get(timeout=0) is None
    clock.now += 1.1
    assert q.get(timeout=0) == ("shop", {"resync"})


def test_due_keys_are_handed_out_oldest_first():
    q, clock = queue(settle=0)
    for i, name in enumerate(("c", "a", "b")):
        q.schedule(name, "resync", i)
    clock.now += 5
    assert [q.get(timeout=0)[0] for _ in range(3)] == ["c", "a", "b"]
    assert q.depth() == 0 and q.running() == 3


def test_one_slow_sync_does_not_starve_the_others():
    q = WorkQueue(settle=0, min_interval=0)
    ran: list[str] = []
    release = threading.Event()

    def worker():
        while (item := q.get()) is not None:
            name, _ = item
            if name == "slow":
                release.wait(10)
            ran.append(name)
            q.done(name)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(2)]
    for t in threads:
        t.start()
    q.add("slow", "startup")
    wait_for(lambda: q.running() == 1, 5, interval=0.01, what="a worker runs the slow key")
    for i in range(20):
        q.add(f"fast-{i}", "startup")
    wait_for(lambda: len(ran) >= 20, 5, interval=0.01, what="the fast keys ran")
    assert sorted(ran) == sorted(f"fast-{i}" for i in range(20))  # all ran while "slow" held one worker
    release.set()
    q.close()
    for t in threads:
        t.join(5)
    assert ran[-1] == "slow"


def test_close_wakes_every_waiting_worker():
    waiting = threading.Event()

    def clock() -> float:
        # get() reads the clock with the queue's lock held, right before it waits: close() (which
        # takes that lock) can only run once the worker is waiting.
        if threading.current_thread() is not threading.main_thread():
            waiting.set()
        return time.monotonic()

    q = WorkQueue(clock=clock)
    got = []
    t = threading.Thread(target=lambda: got.append(q.get()))
    t.start()
    assert waiting.wait(5)
    q.close()
    t.join(2)
    assert got == [None]
