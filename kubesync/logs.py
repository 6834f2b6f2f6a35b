"""Logging setup: one line per event, text for people or JSON for machines; a per-object prefix adapter.

Every handler set up here carries `RedactFilter`: no Secret value the process has seen, and no
credential in a URL, reaches a log line, whatever the message or the exception says.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import sys
import time
from collections.abc import Iterator


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


def setup(debug: bool = False, fmt: str = "text", stream=None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-5s %(message)s", "%H:%M:%S"))
    handler.addFilter(RedactFilter())
    root = logging.getLogger("kubesync")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    root.propagate = False


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
