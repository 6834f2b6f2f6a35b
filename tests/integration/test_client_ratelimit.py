"""The client-side rate limit (--kube-api-qps / --kube-api-burst) against the real control plane."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from kubesync.cluster.client import ClientSettings, Cluster


def timed_gets(cluster: Cluster, namespace: str, n: int, threads: int = 5) -> float:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    start = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        answers = list(pool.map(lambda _: cluster.get(path), range(n)))
    elapsed = time.monotonic() - start
    assert len(answers) == n and all(a["kind"] == "ConfigMapList" for a in answers)
    return elapsed


def test_qps_and_burst_pace_requests_from_every_thread(kubeconfig, namespace):
    cluster = Cluster.connect(kubeconfig, settings=ClientSettings(qps=20, burst=5))
    before = cluster.stats.total
    elapsed = timed_gets(cluster, namespace, 45)
    assert cluster.stats.total - before == 45
    assert elapsed >= (45 - 5) / 20 * 0.9, elapsed  # five at once, then twenty a second: about 2 s
    assert cluster.stats.rate_limited >= 30 and cluster.stats.rate_limited_seconds > 0


def test_qps_zero_never_waits(kubeconfig, namespace):
    cluster = Cluster.connect(kubeconfig, settings=ClientSettings(qps=0, burst=1))
    timed_gets(cluster, namespace, 45)
    assert (cluster.stats.rate_limited, cluster.stats.rate_limited_seconds) == (0, 0.0)


def test_the_start_of_a_watch_takes_a_token(kubeconfig, namespace):
    cluster = Cluster.connect(kubeconfig, settings=ClientSettings(qps=2, burst=1))
    rv = cluster.get(f"/api/v1/namespaces/{namespace}/configmaps")["metadata"]["resourceVersion"]
    start = time.monotonic()
    events = list(cluster.stream(f"/api/v1/namespaces/{namespace}/configmaps", {"resourceVersion": rv, "timeoutSeconds": 1}, 5))
    assert events == [] and cluster.stats.by_method["WATCH"] == 1
    assert cluster.stats.rate_limited == 1 and time.monotonic() - start >= 0.4
