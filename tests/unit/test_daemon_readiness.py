"""/readyz is about the process (daemon/runner.py `ready`): not stopping, its election settled, its
watch caches listed. A failing sync never makes it unready (that is GET /api/v1/syncs' and /metrics'
job). The real control plane: tests/integration/test_daemon.py; here a connection whose first LIST
answers only when the test says so (a slow LIST a real server does not produce on demand), under a
real cluster.api.Client and a real WatchCache.
"""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from kubesync.cluster.api import Client
from kubesync.cluster.cache import WatchCache
from kubesync.config import SyncConfig
from kubesync.daemon.connections import Connections
from kubesync.daemon.runner import Daemon
from kubesync.daemon.settings import DaemonSettings
from kubesync.model import CONFIGMAPS, SyncState
from kubesync.sources import SourceSpec
from tests.support.waits import wait_for


class SlowFirstList:
    """A connection whose LISTs wait for `answer` and whose watches stay open until `closed`."""

    server, context, namespace, stats = "https://test", "test", "", None

    def __init__(self):
        self.answer = threading.Event()
        self.closed = threading.Event()

    def request(self, method, path, query=None, **kwargs):
        assert method == "GET", (method, path)
        self.answer.wait(30)
        return {"items": [], "metadata": {"resourceVersion": "7"}}

    def stream(self, path, query, timeout=None):
        self.closed.wait(timeout)
        return iter(())


@pytest.fixture
def connection():
    conn = SlowFirstList()
    yield conn
    conn.answer.set()
    conn.closed.set()


def test_a_watch_cache_is_synced_once_every_watch_it_started_has_listed(connection):
    cache = WatchCache(Client(connection))
    try:
        assert cache.synced()  # nothing watched yet
        cache.informer(CONFIGMAPS)
        assert not cache.synced()
        connection.answer.set()
        wait_for(cache.synced, 10, 0.02, "the first LIST")
    finally:
        cache.stop()


@pytest.fixture
def daemon(tmp_path, connection):
    sync = SyncConfig(name="shop", source=SourceSpec(path=str(tmp_path)))
    connections = Connections(None, None, connect=lambda kubeconfig, context: Client(connection))
    d = Daemon(DaemonSettings(syncs=(sync,), listen="127.0.0.1:0"), connections)
    yield d
    d.connections.close()
    d.server.sock.close()


def test_readyz_waits_for_the_watches_and_ignores_how_syncs_fare(daemon, connection):
    ok, doc = daemon.ready()
    assert ok and doc == {"ready": True, "checks": {"running": True, "election": True, "watches": True},
                          "leader": True, "identity": "", "conflicts": [], "cannot_decrypt": 0}
    daemon.connections.cache().informer(CONFIGMAPS)  # a sync's first plan starts a watch
    ok, doc = daemon.ready()
    assert not ok and doc["checks"]["watches"] is False
    connection.answer.set()
    wait_for(lambda: daemon.ready()[0], 10, 0.02, "ready once the watch listed")
    worker = daemon.workers["shop"]
    worker.status = replace(worker.status, state=SyncState.FAILED, error="cm.yaml:1: invalid YAML", runs=3)
    ok, doc = daemon.ready()
    assert ok and "shop" not in str(doc) and "invalid YAML" not in str(doc)  # no sync named, no error quoted
    worker.status = replace(worker.status, cannot_decrypt=("secrets/db.yaml",))
    ok, doc = daemon.ready()
    assert ok and doc["cannot_decrypt"] == 1 and "db.yaml" not in str(doc)  # how many syncs, never which
    daemon.stop.set()
    assert daemon.ready() == (False, {"ready": False, "checks": {"running": False, "election": True, "watches": True},
                                      "leader": True, "identity": "", "conflicts": [], "cannot_decrypt": 1})
