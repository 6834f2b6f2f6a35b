"""The request hook: every request any Cluster sends is announced, retries included, without patching."""

from __future__ import annotations

import socket

import pytest

from kubesync import errors
from kubesync.cluster.client import ClientSettings, Cluster, add_request_hook
from kubesync.cluster.kubeconfig import Target


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_hook_sees_each_attempt_and_stops_when_removed():
    cluster = Cluster(Target(host=f"http://127.0.0.1:{closed_port()}"), ClientSettings(retry_backoff=(0.01, 0.01), timeout=2))
    cluster.answered = True  # a server that answered before and is gone now (a restart) is retried; one never seen is not
    seen = []
    remove = add_request_hook(lambda method, path, attempt: seen.append((method, path, attempt)))
    try:
        with pytest.raises(errors.ClusterUnreachable):
            cluster.get("/api/v1/namespaces")
    finally:
        remove()
    assert seen == [("GET", "/api/v1/namespaces", 0), ("GET", "/api/v1/namespaces", 1), ("GET", "/api/v1/namespaces", 2)]
    assert cluster.stats.by_method["GET"] == 3 and cluster.stats.retries == 2
    with pytest.raises(errors.ClusterUnreachable):
        cluster.request("GET", "/version", retry=False)
    assert len(seen) == 3  # removed: no longer called
