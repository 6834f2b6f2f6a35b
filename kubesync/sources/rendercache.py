"""Renderings kept by the digest of what they were made from, so an unchanged chart or Jsonnet app is
rendered once per process, not once per daemon resync.

The key is a sha256 over everything a rendering depends on that is known before it runs: the chart's
files (or the git commit), the values, the options, and the target (release, namespace, cluster
version and API versions). What is only known afterwards, the files a Jsonnet program imported, is
stored with the entry as (path, sha256) pairs and checked on every hit: a changed import is a miss.

One process-wide cache (`CACHE`): the daemon gets it for free through `sources.load`, a one-shot
command pays one rendering. Bounded by entries and bytes, least recently used out first.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass

MAX_ENTRIES = 256
MAX_BYTES = 256 * 2**20


def digest(*parts: object) -> str:
    """sha256 of JSON-encodable parts (bytes hashed as they are)."""
    h = hashlib.sha256()
    for part in parts:
        data = part if isinstance(part, bytes) else json.dumps(part, sort_keys=True, default=str).encode()
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()


def file_digest(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError:
        return None


@dataclass(frozen=True)
class Entry:
    value: object
    size: int
    deps: tuple[tuple[str, str], ...] = ()


class RenderCache:
    """key -> rendering; `renders` and `hits` count what happened (bench/ prints them)."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES):
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.renders = 0

    def get(self, key: str) -> object | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
        if entry is None:
            return None
        if any(file_digest(path) != sha for path, sha in entry.deps):
            self._drop(key)
            return None
        with self._lock:
            self.hits += 1
        return entry.value

    def put(self, key: str, value: object, size: int, deps: tuple[tuple[str, str], ...] = ()) -> None:
        with self._lock:
            self.renders += 1
            if size > self.max_bytes:
                return
            old = self._entries.pop(key, None)
            self._bytes -= old.size if old else 0
            self._entries[key] = Entry(value, size, deps)
            self._bytes += size
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                _, gone = self._entries.popitem(last=False)
                self._bytes -= gone.size

    def _drop(self, key: str) -> None:
        with self._lock:
            gone = self._entries.pop(key, None)
            self._bytes -= gone.size if gone else 0

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0


CACHE = RenderCache()
