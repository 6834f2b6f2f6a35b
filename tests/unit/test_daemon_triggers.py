"""File and git triggers, shared by every sync: one observer, one poller per repository and ref."""

from __future__ import annotations

import os
import threading
import time

import pytest

from kubesync.daemon.triggers import FileWatch, GitPoller, Triggers, watch_roots
from kubesync.sources import SourceSpec
from tests.support.git import init_repo


class Bell:
    """Collects the reasons a trigger rang with (a sync's `wake`)."""

    def __init__(self):
        self._cond = threading.Condition()
        self.reasons: list[str] = []

    def __call__(self, reason: str) -> None:
        with self._cond:
            self.reasons.append(reason)
            self._cond.notify_all()

    def wait(self, timeout: float) -> list[str]:
        """The reasons rung so far (waiting up to `timeout` for the first), then forgets them."""
        with self._cond:
            self._cond.wait_for(lambda: self.reasons, timeout)
            out, self.reasons = self.reasons, []
            return out


def test_sibling_folders_share_one_recursive_watch_of_their_parent(tmp_path):
    for name in ("apps/a", "apps/b", "apps/c", "lone/x/nested", "files"):
        (tmp_path / name).mkdir(parents=True, exist_ok=True)
    (tmp_path / "files/single.yaml").write_text("a: 1\n")
    paths = {"a": "apps/a", "b": "apps/b", "c": "apps/c", "x": "lone/x", "nested": "lone/x/nested", "file": "files/single.yaml"}
    roots = watch_roots({sync: str(tmp_path / p) for sync, p in paths.items()})
    # a, b and c share apps/; x's nested folder is inside x; a file is watched through its folder alone.
    assert roots == {str(tmp_path / "apps"): True, str(tmp_path / "lone/x"): True, str(tmp_path / "files"): False}


def test_the_home_folder_and_the_root_are_never_watched_for_siblings(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert watch_roots({"a": str(tmp_path / "a"), "b": str(tmp_path / "b")}) == {str(tmp_path / "a"): True, str(tmp_path / "b"): True}


def rung(bell: Bell, path, timeout: float = 5.0) -> list[str]:
    """Write `path` until `bell` rings (the observer's watch starts on its own thread, a moment after
    start() returns); the reasons it rang with."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        path.write_text(f"at: {time.monotonic()}\n")
        if got := bell.wait(0.2):
            return got
    raise AssertionError(f"no trigger for {path} within {timeout}s")


def test_one_observer_wakes_only_the_sync_whose_folder_changed(tmp_path):
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
    bells = {"a": Bell(), "b": Bell(), "c": Bell()}
    files = FileWatch()
    for name, bell in bells.items():
        files.add(name, str(tmp_path / name), bell)
    files.add("later", str(tmp_path / "later"), Bell())
    try:
        assert files.start() == ["later"]  # its folder does not exist yet: retried at its next run
        assert "file" in rung(bells["a"], tmp_path / "a" / "cm.yaml")
        # One observer hands its events out in order: once c has heard of a change made after a's,
        # b would have heard of a's by now if it were told of it.
        assert "file" in rung(bells["c"], tmp_path / "c" / "cm.yaml")
        assert bells["b"].wait(0) == []  # a sibling's change is not b's
        (tmp_path / "b" / "sub").mkdir()
        (tmp_path / "b" / "sub" / "x.yaml").write_text("b: 2\n")
        assert "file" in bells["b"].wait(5)  # sub-folders too
        assert threading.active_count() < 10  # one observer and one emitter, not one per sync
    finally:
        files.stop()


@pytest.fixture
def repo(tmp_path):
    return init_repo(tmp_path / "repo")


def commit(repo, text: str) -> str:
    path = os.path.join(repo.working_tree_dir, "cm.yaml")
    with open(path, "w") as f:
        f.write(text)
    repo.index.add(["cm.yaml"])
    return repo.index.commit(text).hexsha


def test_git_poller_wakes_the_syncs_whose_commit_is_older(repo):
    first = commit(repo, "one")
    loaded = {"s": first, "t": None}
    bells = {"s": Bell(), "t": Bell()}
    poller = GitPoller(SourceSpec(repo=repo.working_tree_dir, ref="main", subpath="s"), 60, threading.Event())
    for name in bells:
        poller.add(name, bells[name], lambda name=name: loaded[name])
    assert poller.poll_once() == {"t"}  # s already loaded this commit; t loaded nothing yet
    loaded["t"] = first
    assert poller.poll_once() == set()
    second = commit(repo, "two")
    assert poller.poll_once() == {"s", "t"}
    assert bells["s"].wait(0) == ["git"]
    loaded.update(s=second, t=second)
    assert poller.poll_once() == set()


def test_syncs_reading_paths_of_one_repository_share_one_poller(repo):
    commit(repo, "one")
    triggers = Triggers(threading.Event())
    polls = {triggers.add(f"s{i}", SourceSpec(repo=repo.working_tree_dir, ref="main", subpath=f"p{i}"), 30, Bell(), lambda: None)
             for i in range(5)}
    other = triggers.add("x", SourceSpec(repo=repo.working_tree_dir, ref="other"), 30, Bell(), lambda: None)
    assert len(polls) == 1 and other not in polls
    assert len(triggers.pollers) == 2 and sorted(next(iter(polls)).readers) == ["s0", "s1", "s2", "s3", "s4"]


def test_git_poller_reports_failures_once_and_recovery(repo):
    commit(repo, "one")
    bell = Bell()
    stop = threading.Event()
    poller = GitPoller(SourceSpec(repo=repo.working_tree_dir, ref="no-such-branch"), 0.05, stop)
    poller.add("s", bell)
    poller.start()
    try:
        assert bell.wait(5) == ["git"]
        assert "no-such-branch" in poller.error
        assert bell.wait(0.3) == []  # still failing: no new wake-up
        poller.spec = SourceSpec(repo=repo.working_tree_dir, ref="main")
        poller.poke()
        assert bell.wait(5) == ["git"]
        assert poller.error is None
    finally:
        stop.set()
        poller.stop()


def test_git_poller_poke_runs_the_poking_sync_even_when_nothing_moved(repo):
    sha = commit(repo, "one")
    bells = {"s": Bell(), "t": Bell()}
    stop = threading.Event()
    poller = GitPoller(SourceSpec(repo=repo.working_tree_dir, ref="main"), 60, stop)
    for name, bell in bells.items():
        poller.add(name, bell, lambda: sha)
    poller.start()
    try:
        poller.poke("s")
        assert bells["s"].wait(5) == ["webhook"]
        assert bells["t"].wait(0.3) == []
    finally:
        stop.set()
        poller.stop()
