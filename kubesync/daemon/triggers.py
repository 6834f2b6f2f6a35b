"""What queues a sync: file changes, a git ref that moved, a webhook, a timer (the queue's own).

Shared, however many syncs there are: one watchdog observer for every folder source (syncs whose
folders are siblings share one recursive watch of their parent) and one poller per git repository
and ref, whatever sub-folders the syncs read of it. Every trigger ends in `Wake(reason)`, which
queues the sync (daemon/queue.py debounces bursts). The cluster's watches are cluster/cache.py.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, replace
from typing import Callable

from kubesync.sources import redact

log = logging.getLogger(__name__)

Wake = Callable[[str], None]

# Sibling folders watched through their parent from this many on (one watch, not one per sync).
SHARE_PARENT_FROM = 2


def watch_roots(paths: dict[str, str]) -> dict[str, bool]:
    """Sync -> folder (or file) to the folders to watch -> recursive.

    A file is watched through its folder (not recursively); a folder inside another watched one needs
    no watch of its own; folders sharing a parent are watched through it, except the filesystem root
    and the user's home (too much else changes there)."""
    roots: dict[str, bool] = {}
    folders = []
    for path in paths.values():
        if os.path.isfile(path):
            roots.setdefault(os.path.dirname(path), False)
        else:
            folders.append(os.path.abspath(path))
    parents: dict[str, int] = {}
    for f in folders:
        parents[os.path.dirname(f)] = parents.get(os.path.dirname(f), 0) + 1
    never = {os.path.abspath(os.sep), os.path.abspath(os.path.expanduser("~"))}
    for f in folders:
        parent = os.path.dirname(f)
        shared = parents[parent] >= SHARE_PARENT_FROM and parent not in never
        roots[parent if shared else f] = True
    recursive = sorted(r for r, rec in roots.items() if rec)
    return {r: rec for r, rec in roots.items() if not any(r != o and r.startswith(o.rstrip(os.sep) + os.sep) for o in recursive)}


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


class FileWatch:
    """One watchdog observer for every folder source; an event wakes the syncs whose folder holds it."""

    def __init__(self) -> None:
        self._syncs: dict[str, tuple[str, Wake]] = {}  # sync -> (absolute path, wake)
        self._observer = None
        self._scheduled: dict[str, bool] = {}
        self._lock = threading.Lock()

    def add(self, sync: str, path: str, wake: Wake) -> None:
        with self._lock:
            self._syncs[sync] = (os.path.abspath(path), wake)

    def _on_event(self, path: str, dest: str = "") -> None:
        with self._lock:
            targets = list(self._syncs.values())
        for folder, wake in targets:
            if _inside(path, folder) or (dest and _inside(dest, folder)) or _inside(folder, path):
                wake("file")

    def start(self) -> list[str]:
        """Schedule the watches not scheduled yet; the syncs whose folder does not exist (yet)."""
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer

        notify = self._on_event

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event) -> None:
                if event.event_type not in ("opened", "closed_no_write"):  # reads change nothing
                    notify(os.fsdecode(event.src_path), os.fsdecode(getattr(event, "dest_path", "") or ""))

        with self._lock:
            present = {s: p for s, (p, _) in self._syncs.items() if os.path.exists(p)}
            missing = sorted(set(self._syncs) - set(present))
            if self._observer is None and present:
                self._observer = Observer()
                self._observer.daemon = True
                self._observer.start()
            for root, recursive in watch_roots(present).items():
                if self._scheduled.get(root) is None:
                    try:
                        self._observer.schedule(Handler(), root, recursive=recursive)
                        self._scheduled[root] = recursive
                        log.debug("watching %s for file changes", root)
                    except OSError as e:  # vanished meanwhile: the sync's run reports it; retried later
                        log.debug("cannot watch %s yet: %s", root, e)
        return missing

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()


@dataclass
class Reader:
    """A sync reading a polled repository."""

    wake: Wake
    loaded: Callable[[], str | None]  # the revision the sync last loaded


class GitPoller:
    """Polls one repository's ref every `interval` (or at once after `poke()`, e.g. from a webhook),
    for every sync reading a path of it: one fetch serves them all.

    It fetches (for a URL) and resolves the ref with the git source's own rules, and wakes each sync
    whose last loaded commit differs. Fetching here lets the syncs read the cache without fetching.
    """

    def __init__(self, spec, interval: float, stop: threading.Event):
        self.spec = replace(spec, subpath=None)
        self.interval = interval
        self.stop_event = stop
        self.readers: dict[str, Reader] = {}
        self._poke = threading.Event()
        self._poked: set[str] = set()
        self._seen: str | None = None
        self.error: str | None = None
        """Why the last poll failed (None when it worked): every reader reports it as a source error."""
        self._thread = threading.Thread(target=self._run, name=f"git-poll-{self.spec.describe()[:40]}", daemon=True)

    @property
    def seen(self) -> str | None:
        """The commit the last poll found (None before the first, or while polls fail)."""
        return None if self.error is not None else self._seen

    def add(self, sync: str, wake: Wake, loaded: Callable[[], str | None] = lambda: None, interval: float | None = None) -> None:
        self.readers[sync] = Reader(wake, loaded)
        if interval is not None:
            self.interval = min(self.interval, interval)

    def start(self) -> "GitPoller":
        self._thread.start()
        return self

    def poke(self, sync: str = "") -> None:
        if sync:
            self._poked.add(sync)
        self._poke.set()

    def stop(self) -> None:
        self._poke.set()

    def current(self) -> str:
        from kubesync.sources import current_revision

        return current_revision(self.spec, fetch=True)

    def poll_once(self) -> set[str]:
        """One poll; the syncs woken."""
        sha = self.current()
        first = self._seen is None
        if sha != self._seen:
            log.info("%s %s %s", self.spec.describe(), "is at" if first else "moved to", sha[:12])
        self._seen = sha
        woken = set()
        for sync, r in list(self.readers.items()):
            if sha != r.loaded():
                r.wake("git")
                woken.add(sync)
        return woken

    def _failed(self, e: Exception) -> None:
        first = self.error is None
        self.error = f"cannot poll {self.spec.describe()}: {redact(str(e))}"
        log.warning("%s", self.error)
        if first:
            for r in list(self.readers.values()):
                r.wake("git")  # each sync reports it (metrics, alert) and keeps the last good state

    def _run(self) -> None:
        failures = 0
        while not self.stop_event.is_set():
            self._poke.wait(self.interval if not failures else min(self.interval, 2.0 ** failures))
            self._poke.clear()
            poked, self._poked = self._poked, set()
            if self.stop_event.is_set():
                return
            try:
                woken = self.poll_once()
                failures = 0
                if self.error is not None:
                    self.error = None
                    log.info("polling %s works again", self.spec.describe())
                    for sync, r in list(self.readers.items()):
                        if sync not in woken:
                            r.wake("git")
                            woken.add(sync)
                for sync in poked - woken:  # asked to look: a run confirms the state even when nothing moved
                    if sync in self.readers:
                        self.readers[sync].wake("webhook")
            except Exception as e:
                failures = min(failures + 1, 6)
                self._failed(e)


class Triggers:
    """Every sync's file and git triggers, shared: one FileWatch, one GitPoller per (repository, ref)."""

    def __init__(self, stop: threading.Event):
        self.stop = stop
        self.files = FileWatch()
        self.pollers: dict[tuple, GitPoller] = {}

    def add(self, sync: str, spec, interval: float, wake: Wake, loaded: Callable[[], str | None]) -> GitPoller | None:
        """Register a sync's source; its GitPoller for a git source (shared), None for a folder."""
        if spec.repo:
            key = (spec.repo, spec.ref or "", spec.max_bytes, spec.allow_remote)
            poller = self.pollers.get(key)
            if poller is None:
                poller = self.pollers[key] = GitPoller(spec, interval, self.stop)
            poller.add(sync, wake, loaded, interval)
            return poller
        if spec.path:
            self.files.add(sync, spec.path, wake)
        return None

    def start(self) -> None:
        for poller in self.pollers.values():
            poller.start()
        self.watch_files()

    def watch_files(self) -> None:
        """(Again:) watch folders that exist now; a missing one is retried at the sync's next run."""
        self.files.start()

    def close(self) -> None:
        self.files.stop()
        for poller in self.pollers.values():
            poller.stop()
