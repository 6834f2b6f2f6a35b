"""The daemon's work queue: syncs are keys, a bounded pool of workers runs them.

Like client-go's workqueue: a key is queued at most once (triggers arriving for a queued key only add
their reasons), never run by two workers at once (a trigger during a run queues the key again for
after it), and handed out oldest-due first, so one slow sync holds one worker and never starves the
others. Delays do the rest: `add(key, reason, after)` debounces (each trigger pushes the run back
up to `after` seconds, but never more than `max_delay` past the burst's first trigger), `schedule`
is the timer of the periodic resync or the retry backoff, and `min_interval` keeps a sync whose own
writes keep waking it from running more often than that.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class Entry:
    due: float | None = None  # when the key may run next; None: not queued
    timer: bool = False  # queued by `schedule` only (a trigger replaces the timer)
    timer_reason: str = ""
    first: float | None = None  # when the current burst of triggers began
    reasons: set[str] = field(default_factory=set)
    running: bool = False
    last_start: float = float("-inf")


class WorkQueue:
    def __init__(self, settle: float = 0.2, max_delay: float = 10.0, min_interval: float = 1.0,
                 clock: Callable[[], float] = time.monotonic):
        self.settle = settle
        self.max_delay = max_delay
        self.min_interval = min_interval
        self.clock = clock
        self._cond = threading.Condition()
        self._entries: dict[str, Entry] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        self._closed = False

    def _push(self, key: str, e: Entry, due: float) -> None:
        if e.running:
            e.due = due  # handed out again after `done`
            return
        e.due = due
        heapq.heappush(self._heap, (due, next(self._seq), key))
        self._cond.notify()

    def add(self, key: str, reason: str, after: float | None = None) -> None:
        """A trigger: run `key` after `after` seconds of quiet (default: `settle`), at most `max_delay` late."""
        delay = self.settle if after is None else after
        with self._cond:
            e = self._entries.setdefault(key, Entry())
            now = self.clock()
            if e.timer:
                e.reasons.discard(e.timer_reason)  # the trigger, not the timer, is why it runs
            e.reasons.add(reason)
            if e.first is None or e.timer:
                e.first = now
            due = min(now + delay, e.first + max(self.max_delay, delay))
            if e.due is not None and not e.timer:
                due = max(due, e.due) if delay else min(due, e.due)
            e.timer = False
            self._push(key, e, max(due, e.last_start + self.min_interval))

    def schedule(self, key: str, reason: str, after: float) -> None:
        """A timer (resync, retry): run in `after` seconds unless something queues it sooner."""
        with self._cond:
            e = self._entries.setdefault(key, Entry())
            due = self.clock() + after
            if e.due is not None and e.due <= due:
                return
            e.timer, e.first, e.timer_reason = True, None, reason
            e.reasons.add(reason)
            self._push(key, e, due)

    def get(self, timeout: float | None = None) -> tuple[str, set[str]] | None:
        """The next due key and its reasons (the key is then running); None when closed or timed out."""
        deadline = None if timeout is None else self.clock() + timeout
        with self._cond:
            while not self._closed:
                now = self.clock()
                while self._heap:
                    due, _, key = self._heap[0]
                    e = self._entries[key]
                    if e.due != due or e.running:
                        heapq.heappop(self._heap)  # superseded by a later push
                        continue
                    if due > now:
                        break
                    heapq.heappop(self._heap)
                    e.due, e.first, e.timer, e.running, e.last_start = None, None, False, True, now
                    reasons, e.reasons = e.reasons, set()
                    return key, reasons
                wait = (self._heap[0][0] - now) if self._heap else None
                if deadline is not None:
                    left = deadline - now
                    if left <= 0:
                        return None
                    wait = left if wait is None else min(wait, left)
                self._cond.wait(wait)
            return None

    def done(self, key: str) -> None:
        """The run of `key` ended: triggers that came meanwhile queue it again."""
        with self._cond:
            e = self._entries[key]
            e.running = False
            if e.due is not None:
                due = e.due if e.timer else max(e.due, e.last_start + self.min_interval)
                self._push(key, e, due)

    def pending(self, key: str) -> float | None:
        """When `key` runs next (monotonic clock), None when it is not queued."""
        with self._cond:
            e = self._entries.get(key)
            return None if e is None else e.due

    def depth(self) -> int:
        """Keys due now and waiting for a worker."""
        now = self.clock()
        with self._cond:
            return sum(1 for e in self._entries.values() if e.due is not None and e.due <= now and not e.running)

    def running(self) -> int:
        with self._cond:
            return sum(1 for e in self._entries.values() if e.running)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
