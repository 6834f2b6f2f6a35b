"""Logging setup: one line per event, text for people or JSON for machines; a per-object prefix adapter.

Every handler set up here carries `RedactFilter`: no Secret value the process has seen, and no
credential in a URL, reaches a log line, whatever the message or the exception says; and
`RepeatFilter`: a line repeated identically (a failing accept() at the file-descriptor limit, a
client hammering an endpoint) is written at most `REPEATS` times a minute, so a fault cannot fill
the disk or drown the lines that explain it. asyncio's and uvicorn's loggers go through the same
handler (they would otherwise reach Python's last-resort handler: unformatted, unredacted, unlimited).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator

REPEATS = 5
"""Identical lines written per REPEAT_WINDOW; the rest are counted and reported with the next one that passes."""
REPEAT_WINDOW = 60.0
REPEAT_KEYS = 1000
"""Distinct lines remembered (the least recently seen are forgotten first): the filter's memory is bounded."""
LIBRARY_LOGGERS = ("asyncio", "uvicorn")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ("object", "sync"):
            if hasattr(record, key):
                out[key] = getattr(record, key)
        if record.exc_info:
            out["exc"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(out, sort_keys=True)


class RedactFilter(logging.Filter):
    """Scrubs a record before any formatter sees it: its message, arguments, traceback and stack."""

    def filter(self, record: logging.LogRecord) -> bool:
        from kubesync.secrets import redact

        record.msg, record.args = redact(record.getMessage()), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class RepeatFilter(logging.Filter):
    """Rate-limits identical lines (same logger, level and text): `limit` per `window` seconds each.

    A line over the limit is dropped and counted; the first one let through after the window has
    passed says how many were dropped. Runs after RedactFilter, so it compares what would be written."""

    def __init__(self, limit: int = REPEATS, window: float = REPEAT_WINDOW, keys: int = REPEAT_KEYS,
                 clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.limit, self.window, self.keys, self.clock = limit, window, keys, clock
        self._seen: OrderedDict[tuple, list] = OrderedDict()  # key -> [window start, written, dropped]
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, record.getMessage(), record.exc_text and record.exc_text[-200:])
        now = self.clock()
        with self._lock:
            entry = self._seen.pop(key, None)
            if entry is None or now - entry[0] >= self.window:
                dropped = entry[2] if entry is not None else 0
                entry = [now, 0, 0]
            else:
                dropped = 0
            self._seen[key] = entry
            while len(self._seen) > self.keys:
                self._seen.popitem(last=False)
            if entry[1] >= self.limit:
                entry[2] += 1
                return False
            entry[1] += 1
        if dropped:
            record.msg, record.args = f"{record.msg} (the same line {dropped} more time(s) in the last minute, not written)", ()
        elif entry[1] == self.limit:
            record.msg, record.args = f"{record.msg} (repeated {self.limit} times: further identical lines this minute are counted, not written)", ()
        return True


def setup(debug: bool = False, fmt: str = "text", stream=None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-5s %(message)s", "%H:%M:%S"))
    handler.addFilter(RedactFilter())
    handler.addFilter(RepeatFilter())
    root = logging.getLogger("kubesync")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    root.propagate = False
    for name in LIBRARY_LOGGERS:  # their warnings and errors, through the same filters
        library = logging.getLogger(name)
        library.handlers[:] = [handler]
        library.setLevel(logging.WARNING)
        library.propagate = False


class ObjectLogger(logging.LoggerAdapter):
    """Prefixes every message with the object it is about: `[shop/web] ...`."""

    def process(self, msg, kwargs):
        ref = self.extra.get("object", "")
        kwargs.setdefault("extra", {}).update(self.extra)
        return (f"[{ref}] {msg}" if ref else msg), kwargs


class RedactingStream(io.TextIOBase):
    """A text stream that scrubs what is written to it (see kubesync.secrets.redact).

    Whatever prints (a progress line quoting a server's message, a rendered plan), the text passes
    through here on its way out of the process; everything else is the wrapped stream's.
    """

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        from kubesync.secrets import redact

        self._stream.write(redact(text))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    @property
    def encoding(self):  # type: ignore[override]
        return getattr(self._stream, "encoding", "utf-8")

    def __getattr__(self, name):
        return getattr(self._stream, name)


@contextlib.contextmanager
def redacted_output() -> Iterator[None]:
    """sys.stdout and sys.stderr scrubbed for the duration (the CLI's whole run)."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = RedactingStream(sys.stdout), RedactingStream(sys.stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
