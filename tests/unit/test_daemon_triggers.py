"""Triggers: the doorbell, debouncing, the directory watcher and the git poller."""

from __future__ import annotations

import threading
import time

import git
import pytest

from kubesync.daemon.triggers import Debouncer, DirectoryWatcher, GitPoller, Wakeup
from kubesync.sources import SourceSpec
from tests.support.git import init_repo


def test_wakeup_returns_pending_reasons_at_once_and_nothing_on_timeout():
    w = Wakeup()
    w.wake("file")
    w.wake("watch")
    assert w.wait(5) == {"file", "watch"}
    started = time.monotonic()
    assert w.wait(0.05) == set()
    assert time.monotonic() - started < 1


def test_wakeup_gather_collects_a_burst():
    w = Wakeup()
    threading.Timer(0.05, w.wake, args=("git",)).start()
    assert w.gather(0.3) == {"git"}


class Clock:
    """A clock the test moves: no sleeping, no flakiness on a loaded machine."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_debouncer_fires_once_for_a_burst():
    clock = Clock()
    d = Debouncer(lambda: None, delay=0.2, clock=clock)
    assert d.remaining() is None  # nothing pending
    for _ in range(10):  # a burst of writes 20 ms apart: each one pushes the deadline back
        d.poke()
        clock.now += 0.02
    assert d.remaining() == pytest.approx(0.18)  # 0.2 after the last write
    clock.now += 0.2
    assert d.remaining() == 0  # due: one fire for the whole burst


def test_debouncer_fires_during_endless_writes_after_max_delay():
    clock = Clock()
    d = Debouncer(lambda: None, delay=0.2, max_delay=0.5, clock=clock)
    d.poke()
    for _ in range(9):  # writes every 50 ms never leave 0.2 s of quiet...
        clock.now += 0.05
        d.poke()
        assert d.remaining() > 0
    clock.now = 100.5
    assert d.remaining() == 0  # ...but 0.5 s after the first one it is due anyway


def test_a_started_debouncer_calls_fire_once_when_due():
    fired = threading.Event()
    d = Debouncer(fired.set, delay=0.05).start()
    try:
        d.poke()
        assert fired.wait(5)
    finally:
        d.stop()


def test_directory_watcher_wakes_once_for_many_writes(tmp_path):
    w = Wakeup()
    watcher = DirectoryWatcher(str(tmp_path), w, debounce=0.3, sync="s").start()
    try:
        time.sleep(0.2)
        for i in range(15):
            (tmp_path / f"f{i}.yaml").write_text("a: 1\n")
        assert w.wait(5) == {"file"}
        assert w.wait(0.8) == set()  # the burst made one wake-up only
        (tmp_path / "sub").mkdir()
        (tmp_path / "sub" / "x.yaml").write_text("b: 2\n")
        assert w.wait(5) == {"file"}  # sub-folders too
    finally:
        watcher.stop()


@pytest.fixture
def repo(tmp_path):
    return init_repo(tmp_path / "repo")


def commit(repo, text: str) -> str:
    path = repo.working_tree_dir + "/cm.yaml"
    with open(path, "w") as f:
        f.write(text)
    repo.index.add(["cm.yaml"])
    return repo.index.commit(text).hexsha


def test_git_poller_wakes_when_the_ref_moves(repo):
    first = commit(repo, "one")
    w = Wakeup()
    spec = SourceSpec(repo=repo.working_tree_dir, ref="main")
    poller = GitPoller(spec, 60, w, threading.Event(), "s", loaded=lambda: first)
    assert poller.poll_once() is False  # the worker already loaded this commit
    assert poller.poll_once() is False
    commit(repo, "two")
    assert poller.poll_once() is True
    assert w.wait(0) == {"git"}
    assert poller.poll_once() is False


def test_git_poller_wakes_on_first_poll_when_the_worker_has_an_older_commit(repo):
    commit(repo, "one")
    w = Wakeup()
    poller = GitPoller(SourceSpec(repo=repo.working_tree_dir, ref="main"), 60, w, threading.Event(), "s", loaded=lambda: None)
    assert poller.poll_once() is True


def test_git_poller_reports_failures_once_and_recovery(tmp_path, repo):
    commit(repo, "one")
    w = Wakeup()
    stop = threading.Event()
    spec = SourceSpec(repo=repo.working_tree_dir, ref="no-such-branch")
    poller = GitPoller(spec, 0.05, w, stop, "s", loaded=lambda: None).start()
    try:
        assert w.wait(5) == {"git"}
        assert "no-such-branch" in poller.error
        assert w.wait(0.3) == set()  # still failing: no new wake-up
        poller.spec = SourceSpec(repo=repo.working_tree_dir, ref="main")
        poller.poke()
        assert w.wait(5) == {"git"}
        assert poller.error is None
    finally:
        stop.set()
        poller.stop()


def test_git_poller_poke_runs_the_worker_even_when_nothing_moved(repo):
    sha = commit(repo, "one")
    w = Wakeup()
    stop = threading.Event()
    poller = GitPoller(SourceSpec(repo=repo.working_tree_dir, ref="main"), 60, w, stop, "s", loaded=lambda: sha).start()
    try:
        poller.poke()
        assert w.wait(5) == {"webhook"}
    finally:
        stop.set()
        poller.stop()
