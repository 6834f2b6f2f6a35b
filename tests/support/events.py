"""What the API server told a watch, in the server's own order: which object changed how, and when.

A test that asks "was A done before B was created?" reads the answer from the server, not from a
clock on the test machine: every event carries the object's resourceVersion, which etcd takes from one
counter for every kind, so two events of different kinds compare. A Job deleted by its delete policy
is still in the log, with the last state it had.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from kubesync import errors
from kubesync.model import ResourceType

# The kinds the hook tests watch and read back (kubesync's own code gets them from discovery).
JOBS = ResourceType("batch", "v1", "Job", "jobs", True)
DEPLOYMENTS = ResourceType("apps", "v1", "Deployment", "deployments", True)


@dataclass(frozen=True)
class Seen:
    type: str  # ADDED, MODIFIED, DELETED
    kind: str
    name: str
    revision: int  # the object's resourceVersion at that event
    obj: dict


class ServerEvents:
    """Watches of some resource types in one namespace, started from the namespace's current state; read
    `events` (in arrival order per type) or ask `first(...)`. Stop with `close()` (or leave it: the watches
    end at their timeout, the threads are daemons)."""

    def __init__(self, client, namespace: str, *rtypes: ResourceType, timeout: float = 300):
        self.events: list[Seen] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        for rtype in rtypes:
            start = client.list(rtype, namespace).resource_version
            threading.Thread(target=self._watch, args=(client, rtype, namespace, start, timeout), daemon=True).start()

    def _watch(self, client, rtype: ResourceType, namespace: str, start: str, timeout: float) -> None:
        try:
            for kind, obj in client.watch(rtype, namespace, selector=None, resource_version=start, timeout=timeout):
                if self._stop.is_set():
                    return
                if kind in ("ADDED", "MODIFIED", "DELETED"):
                    meta = obj.get("metadata") or {}
                    seen = Seen(kind, rtype.kind, meta.get("name", ""), int(meta.get("resourceVersion") or 0), obj)
                    with self._lock:
                        self.events.append(seen)
        except errors.ClusterError:
            pass  # the watch ended early: the assertions say what is missing

    def close(self) -> None:
        self._stop.set()

    def of(self, kind: str, name: str | None = None) -> list[Seen]:
        with self._lock:
            return [e for e in self.events if e.kind == kind and (name is None or e.name == name)]

    def first(self, kind: str, name: str | None = None, type: str | None = None, when=None) -> Seen | None:
        """The first event of that object (and type) whose object satisfies `when` (None: any)."""
        for e in sorted(self.of(kind, name), key=lambda e: e.revision):
            if (type is None or e.type == type) and (when is None or when(e.obj)):
                return e
        return None
