"""Syncs failed by an unreachable API server run again as soon as it answers (issue 31), not when their
backoff ends: the daemon's main loop probes, at most once a second, while any such sync waits."""

from __future__ import annotations

from types import SimpleNamespace

from kubesync.daemon.runner import Daemon
from kubesync.daemon.state import SyncStatus
from kubesync.model import SyncState


class Worker:
    def __init__(self, name, state, api_down, context=None):
        self.sync = SimpleNamespace(name=name, context=context)
        self.status = SyncStatus(state=state, api_down=api_down)
        self.woken = []

    def wake(self, reason):
        self.woken.append(reason)


class Connections:
    def __init__(self, answers):
        self.answers_now = answers
        self.probes = 0

    def get(self, context=None):
        return self

    def answers(self):
        self.probes += 1
        return self.answers_now


def daemon(workers, connections):
    return SimpleNamespace(_probed=0.0, workers={w.sync.name: w for w in workers}, connections=connections)


def test_syncs_failed_by_an_outage_are_woken_when_the_server_answers():
    down, broken, fine = Worker("down", SyncState.FAILED, True), Worker("broken", SyncState.FAILED, False), Worker("ok", SyncState.SYNCED, False)
    conn = Connections(answers=False)
    d = daemon([down, broken, fine], conn)
    Daemon._retry_when_the_api_is_back(d)
    assert conn.probes == 1 and down.woken == []  # still down: nobody woken
    Daemon._retry_when_the_api_is_back(d)
    assert conn.probes == 1  # at most one probe a second
    d._probed -= 1.0
    conn.answers_now = True
    Daemon._retry_when_the_api_is_back(d)
    assert (down.woken, broken.woken, fine.woken) == (["recovered"], [], [])  # a broken source is not the server's


def test_nothing_is_probed_while_no_sync_waits_for_the_server():
    conn = Connections(answers=True)
    Daemon._retry_when_the_api_is_back(daemon([Worker("ok", SyncState.SYNCED, False)], conn))
    assert conn.probes == 0
