"""Polling instead of sleeping: wait until something is true, or until an object stops changing."""

from __future__ import annotations

import time
from typing import Callable, Iterable, TypeVar

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float = 30.0, interval: float = 0.2, what: str = "condition") -> T:
    """Call `predicate` until it returns something true (returned); AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not met within {timeout}s")
        time.sleep(interval)


def settle(cluster, paths: str | Iterable[str], quiet: float = 1.0, timeout: float = 60.0) -> None:
    """Wait until controllers stop writing these objects: their resourceVersions stay put for `quiet` seconds."""
    paths = [paths] if isinstance(paths, str) else list(paths)
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        now = [((cluster.get_or_none(p) or {}).get("metadata") or {}).get("resourceVersion") for p in paths]
        if now == last:
            return
        last = now
        time.sleep(quiet)
    raise AssertionError(f"objects kept changing for {timeout}s: {paths}")
