"""What wakes a sync worker: file changes (debounced), a git ref that moved, a webhook, a timer.

Every trigger ends in `Wakeup.wake(reason)`; the worker sleeps in `Wakeup.wait(timeout)`, whose
timeout is the periodic resync (or the retry backoff after a failure). The cluster watch is in
`watch.py`.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from kubesync.sources import redact

log = logging.getLogger(__name__)


class Wakeup:
    """A doorbell with a memory: the reasons rung since the worker last looked."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._cond = threading.Condition()
        self._reasons: set[str] = set()
        self.clock = clock

    def wake(self, reason: str) -> None:
        with self._cond:
            self._reasons.add(reason)
            self._cond.notify_all()

    def wait(self, timeout: float | None) -> set[str]:
        """The reasons rung (at once if some are pending); an empty set when the timeout passed."""
        with self._cond:
            if not self._reasons:
                self._cond.wait(timeout)
            reasons, self._reasons = self._reasons, set()
            return reasons

    def gather(self, seconds: float) -> set[str]:
        """Reasons rung within the next `seconds` (a burst of triggers makes one run)."""
        deadline = self.clock() + seconds
        out: set[str] = set()
        with self._cond:
            while True:
                out |= self._reasons
                self._reasons = set()
                left = deadline - self.clock()
                if left <= 0:
                    return out
                self._cond.wait(left)


class Debouncer:
    """Calls `fire` once things have been quiet for `delay` seconds (at the latest after `max_delay`)."""

    def __init__(self, fire: Callable[[], None], delay: float, max_delay: float | None = None, name: str = "debounce",
                 clock: Callable[[], float] = time.monotonic):
        self.fire = fire
        self.clock = clock  # tests pass a fake one and call remaining() instead of sleeping
        self.delay = delay
        self.max_delay = max_delay if max_delay is not None else max(delay * 10, 5.0)
        self._cond = threading.Condition()
        self._first: float | None = None
        self._last = 0.0
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> "Debouncer":
        self._thread.start()
        return self

    def poke(self) -> None:
        with self._cond:
            now = self.clock()
            if self._first is None:
                self._first = now
            self._last = now
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def remaining(self) -> float | None:
        """Seconds until `fire` is due: None when nothing is pending, 0 when it is due now."""
        if self._first is None:
            return None
        due = min(self._last + self.delay, self._first + self.max_delay)
        return max(0.0, due - self.clock())

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._first is None and not self._stopped:
                    self._cond.wait()
                if self._stopped:
                    return
                left = self.remaining()
                if left:
                    self._cond.wait(left)
                    continue
                self._first = None
            try:
                self.fire()
            except Exception:  # a trigger must never die
                log.exception("debounced trigger failed")


class DirectoryWatcher:
    """watchdog on a source folder: a burst of writes (an editor, `git checkout`) wakes the worker once."""

    def __init__(self, path: str, wakeup: Wakeup, debounce: float, sync: str):
        self.path = path
        self.sync = sync
        self._debouncer = Debouncer(lambda: wakeup.wake("file"), debounce, name=f"debounce-{sync}")
        self._observer = None

    def start(self) -> "DirectoryWatcher":
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer

        poke = self._debouncer.poke

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event) -> None:
                if event.event_type in ("opened", "closed_no_write"):
                    return  # reads do not change anything
                poke()

        import os

        # A single-file source: watch its folder (other files there only cause a run that changes nothing).
        folder, recursive = (os.path.dirname(self.path), False) if os.path.isfile(self.path) else (self.path, True)
        observer = Observer()
        observer.daemon = True
        observer.schedule(Handler(), folder, recursive=recursive)  # raises OSError for a missing folder
        self._debouncer.start()
        self._observer = observer
        self._observer.start()
        log.debug("watching %s for sync %s", self.path, self.sync)
        return self

    def stop(self) -> None:
        self._debouncer.stop()
        if self._observer is not None:
            self._observer.stop()


class GitPoller:
    """Polls a git source's ref every `interval` (or at once after `poke()`, e.g. from a webhook).

    It fetches (for a URL) and resolves the ref with the git source's own rules, and wakes the worker
    when the commit differs from what the worker last loaded. Fetching here lets the worker read the
    cache without fetching again.
    """

    def __init__(self, spec, interval: float, wakeup: Wakeup, stop: threading.Event, sync: str,
                 loaded: Callable[[], str | None] = lambda: None):
        self.spec = spec
        self.interval = interval
        self.wakeup = wakeup
        self.stop_event = stop
        self.sync = sync
        self.loaded = loaded
        self._poke = threading.Event()
        self._seen: str | None = None
        self.error: str | None = None
        """Why the last poll failed (None when it worked): the worker reports it as a source error."""
        self._thread = threading.Thread(target=self._run, name=f"git-poll-{sync}", daemon=True)

    def start(self) -> "GitPoller":
        self._thread.start()
        return self

    def poke(self) -> None:
        self._poke.set()

    def stop(self) -> None:
        self._poke.set()

    def current(self) -> str:
        from kubesync.sources import current_revision

        return current_revision(self.spec, fetch=True)

    def poll_once(self) -> bool:
        """One poll; True when the worker was woken."""
        sha = self.current()
        first = self._seen is None
        moved = sha != self._seen
        self._seen = sha
        if moved and (not first or sha != self.loaded()):
            log.info("[%s] %s %s %s", self.sync, self.spec.describe(), "is at" if first else "moved to", sha[:12])
            self.wakeup.wake("git")
            return True
        return False

    def _run(self) -> None:
        failures = 0
        while not self.stop_event.is_set():
            poked = self._poke.wait(self.interval if not failures else min(self.interval, 2.0 ** failures))
            self._poke.clear()
            if self.stop_event.is_set():
                return
            try:
                woke = self.poll_once()
                failures = 0
                if self.error is not None:
                    self.error = None
                    log.info("[%s] polling %s works again", self.sync, self.spec.describe())
                    if not woke:
                        self.wakeup.wake("git")
                        woke = True
                if poked and not woke:
                    self.wakeup.wake("webhook")  # asked to look: a run confirms the state even when nothing moved
            except Exception as e:
                failures = min(failures + 1, 6)
                first = self.error is None
                self.error = f"cannot poll {self.spec.describe()}: {redact(str(e))}"
                log.warning("[%s] %s", self.sync, self.error)
                if first:
                    self.wakeup.wake("git")  # the worker reports it (metrics, alert) and keeps the last good state
