"""The client-side token bucket (--kube-api-qps / --kube-api-burst), on a fake clock."""

from __future__ import annotations

import threading
import time

import pytest

from kubesync.cluster import ratelimit
from kubesync.cluster.client import ClientSettings, Cluster
from kubesync.cluster.kubeconfig import Target
from kubesync.cluster.ratelimit import RateLimiter


class FakeClock:
    """Time that moves only when someone sleeps (or the test says so); sleeps are recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.lock = threading.Lock()

    def __call__(self) -> float:
        with self.lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.sleeps.append(seconds)

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


def limiter(qps: float, burst: int) -> tuple[RateLimiter, FakeClock]:
    clock = FakeClock()
    return RateLimiter(qps, burst, clock=clock, sleep=clock.sleep), clock


def test_the_burst_passes_at_once_then_qps_paces_the_rest():
    lim, clock = limiter(qps=10, burst=5)
    assert [lim.wait() for _ in range(5)] == [0.0] * 5 and clock.sleeps == []
    delays = [lim.wait() for _ in range(20)]  # nobody's clock moved: each reserves the next slot
    assert delays == pytest.approx([(i + 1) / 10 for i in range(20)])
    assert clock.sleeps == pytest.approx(delays)


def test_exactly_qps_requests_a_second_once_the_burst_is_spent():
    lim, clock = limiter(qps=4, burst=2)
    start, sent_at = clock(), []
    for _ in range(42):  # one client sending as fast as the limiter lets it; its sleeps move the clock
        d = lim.wait()
        clock.advance(d)
        sent_at.append(clock() - start)
    assert sent_at[:2] == [0.0, 0.0]
    per_second = [sum(1 for t in sent_at if k + 1e-9 < t <= k + 1 + 1e-9) for k in range(10)]
    assert per_second == [4] * 10


def test_an_idle_bucket_refills_up_to_the_burst_only():
    lim, clock = limiter(qps=10, burst=3)
    for _ in range(3):
        lim.wait()
    clock.advance(60)  # a minute idle is worth 600 tokens, but the bucket holds 3
    assert [lim.wait() for _ in range(4)] == pytest.approx([0, 0, 0, 0.1])


@pytest.mark.parametrize("qps", [0, -1])
def test_qps_zero_or_less_never_waits(qps):
    lim, clock = limiter(qps=qps, burst=1)
    assert not lim.enabled
    assert all(lim.wait() == 0.0 for _ in range(10_000)) and clock.sleeps == []


def test_threads_share_one_bucket():
    lim, clock = limiter(qps=10, burst=4)
    delays: list[float] = []
    lock = threading.Lock()

    def worker():
        for _ in range(6):
            d = lim.wait()
            with lock:
                delays.append(d)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 48 requests, one bucket: 4 free, then one slot every 0.1 s, each slot handed out once
    assert sorted(delays) == pytest.approx([0.0] * 4 + [(i + 1) / 10 for i in range(44)])


def test_a_waiting_thread_sleeps_and_does_not_hold_the_lock():
    sleeping = threading.Event()

    def sleep(seconds: float) -> None:
        sleeping.set()
        time.sleep(seconds)

    lim = RateLimiter(qps=2, burst=1, sleep=sleep)
    lim.wait()
    done = threading.Event()
    t = threading.Thread(target=lambda: (lim.wait(), done.set()))
    start = time.monotonic()
    t.start()
    assert sleeping.wait(2)  # the second caller is in its sleep now
    assert lim._lock.acquire(timeout=0.1)  # the sleeper holds no lock meanwhile
    lim._lock.release()
    assert done.wait(2) and time.monotonic() - start >= 0.45


def test_waits_are_counted_on_the_cluster_and_for_the_process():
    cluster = Cluster(Target(host="http://127.0.0.1:1"), ClientSettings(qps=10, burst=1))
    cluster.limiter, clock = limiter(qps=cluster.settings.qps, burst=cluster.settings.burst)
    before = ratelimit.waited()
    for _ in range(5):
        cluster._throttle()
    delayed, seconds = ratelimit.waited()
    assert (cluster.stats.rate_limited, cluster.stats.rate_limited_seconds) == (4, pytest.approx(0.1 + 0.2 + 0.3 + 0.4))
    assert delayed - before[0] >= 4 and seconds - before[1] >= 1.0 - 1e-9  # other limiters of the process may add theirs


def test_a_connection_has_no_client_side_limit_unless_given_one():
    s = ClientSettings()
    assert (s.qps, s.burst) == (0.0, 300)  # the daemon asks for 50 (tests/unit/test_cli_flags.py)


def scraped(metrics, name: str) -> float:
    (line,) = [x for x in metrics.render().decode().splitlines() if x.startswith(name + " ")]
    return float(line.split()[1])


def test_the_daemon_exports_the_seconds_waited():
    from kubesync.daemon.metrics import Metrics

    metrics = Metrics()
    seconds = scraped(metrics, "kubesync_client_rate_limited_seconds_total")
    requests = scraped(metrics, "kubesync_client_rate_limited_requests_total")
    lim = RateLimiter(qps=100, burst=1, sleep=lambda s: None)
    for _ in range(4):
        lim.wait()
    assert scraped(metrics, "kubesync_client_rate_limited_requests_total") == requests + 3
    assert scraped(metrics, "kubesync_client_rate_limited_seconds_total") - seconds == pytest.approx(0.06, abs=0.02)
