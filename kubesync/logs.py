"""Logging setup: one line per event, text for people or JSON for machines; a per-object prefix adapter.

Every handler set up here carries `RedactFilter`: no Secret value the process has seen, and no
credential in a URL, reaches a log line, whatever the message or the exception says.
"""

from __future__ import annotations

import json
import logging
import sys
import time


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
        from kubesync.render.mask import redact

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
