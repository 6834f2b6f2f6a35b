"""A progress line for long applies and waits: `[12/40] wave 3 ...`, redrawn in place on stderr.

Only on a terminal, and only once the run has taken `delay` seconds: a short run or a CI log gets
nothing extra. Outcome lines printed meanwhile clear it first, so the two never mix.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time


class ProgressLine:
    def __init__(self, total: int, stream=None, delay: float = 2.0, clock=time.monotonic):
        self.stream = stream or sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)()) and total > 0
        self.total, self.done, self.delay, self.clock = total, 0, delay, clock
        self.start = clock()
        self.shown = False
        self.lock = threading.RLock()

    def clear(self) -> None:
        with self.lock:
            if self.shown:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
                self.shown = False

    def show(self, text: str) -> None:
        with self.lock:
            if not self.enabled or self.clock() - self.start < self.delay:
                return
            width = shutil.get_terminal_size((80, 20)).columns - 1
            self.stream.write("\r\x1b[K" + f"[{self.done}/{self.total}] {text}"[:width])
            self.stream.flush()
            self.shown = True

    def step(self, text: str) -> None:
        with self.lock:
            self.done += 1
            self.show(text)
