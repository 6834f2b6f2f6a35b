"""Kubernetes watches on the types a sync manages, filtered by the sync's labels.

One thread per (resource type, namespace): LIST (paginated) to learn the objects and a
resourceVersion, then WATCH from there (both calls: kubesync.cluster.live), renewed when the server closes it and re-LISTed on `410 Gone`. Every event is
passed on with `changed`: whether anything but status and bookkeeping moved (a controller writing
status is not drift; a person editing spec or labels is). One cluster-wide watch per type, or one
per namespace when RBAC allows only namespaced reads.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from typing import Callable

from kubesync import errors
from kubesync.cluster import API
from kubesync.cluster import live
from kubesync.model import KubeObject, ObjectRef, ResourceType
from kubesync.vocab import VOLATILE_METADATA, without_metadata

log = logging.getLogger(__name__)

# (event type: ADDED, MODIFIED, DELETED, or LISTED for objects seen when (re)listing; object; changed)
EventHandler = Callable[[str, KubeObject, bool], None]

BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0)


def fingerprint(obj: KubeObject) -> str:
    """A hash of what a person (or kubesync) sets: everything but status and bookkeeping."""
    body = without_metadata(obj, VOLATILE_METADATA, drop_status=True)
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


class Fingerprints:
    """What each watched object looked like when last seen, to tell a real change from status noise."""

    def __init__(self) -> None:
        self._seen: dict[tuple, str] = {}
        self._lock = threading.Lock()

    def observe(self, event: str, obj: KubeObject) -> bool:
        """True when the event changes the object as we knew it (or deletes it)."""
        key = ObjectRef.of(obj).key
        with self._lock:
            if event == "DELETED":
                self._seen.pop(key, None)
                return True
            fp = fingerprint(obj)
            before = self._seen.get(key)
            self._seen[key] = fp
        if event == "ADDED":
            return False  # new objects carrying our label are ours being created; nothing to revert
        return before is not None and before != fp

    def forget_missing(self, present: set[tuple], scope: Callable[[tuple], bool]) -> list[tuple]:
        """After a re-LIST: keys in scope that are gone (deleted while we were not watching)."""
        with self._lock:
            gone = [k for k in self._seen if scope(k) and k not in present]
            for k in gone:
                del self._seen[k]
        return gone


class WatchLoop:
    """LIST + WATCH of one resource type (in one namespace, or cluster-wide when namespace is "")."""

    def __init__(self, cluster: API, rtype: ResourceType, namespace: str, selector: str, handler: EventHandler,
                 fingerprints: Fingerprints, timeout: float, sync: str, on_forbidden: Callable[[], None]):
        self.cluster = cluster
        self.rtype = rtype
        self.namespace = namespace
        self.selector = selector
        self.handler = handler
        self.fingerprints = fingerprints
        self.timeout = timeout
        self.sync = sync
        self.on_forbidden = on_forbidden
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"watch-{sync}-{rtype.plural}", daemon=True)

    def start(self) -> "WatchLoop":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()  # the thread notices at the next event or when the request times out

    def _in_scope(self, key: tuple) -> bool:
        group, kind, ns, _ = key
        return group == self.rtype.group and kind == self.rtype.kind and (not self.namespace or ns == self.namespace)

    def _list(self) -> str:
        items, rv = live.list_with_version(self.cluster, self.rtype, self.namespace, self.selector)
        present: set[tuple] = set()
        for obj in items:
            present.add(ObjectRef.of(obj).key)
            self.handler("LISTED", obj, self.fingerprints.observe("LISTED", obj))
        for key in self.fingerprints.forget_missing(present, self._in_scope):
            group, kind, ns, name = key
            gone = {"apiVersion": self.rtype.api_version, "kind": kind, "metadata": {"namespace": ns, "name": name}}
            self.handler("DELETED", gone, True)
        return rv

    def _watch(self, rv: str) -> str | None:
        """Stream events from rv; the last resourceVersion seen, or None when a re-LIST is needed."""
        try:
            for kind, obj in live.watch(self.cluster, self.rtype, self.namespace, self.selector, rv, self.timeout):
                if self.stopped.is_set():
                    return rv
                rv = str((obj.get("metadata") or {}).get("resourceVersion") or rv)
                if kind != "BOOKMARK":
                    self.handler(kind, obj, self.fingerprints.observe(kind, obj))
        except errors.WatchExpired:
            return None  # our resourceVersion is too old: re-LIST
        return rv

    def _run(self) -> None:
        failures = 0
        rv: str | None = None
        while not self.stopped.is_set():
            try:
                if rv is None:
                    rv = self._list()
                rv = self._watch(rv)
                failures = 0
            except errors.ClusterUnauthorized as e:
                if not self.namespace and self.rtype.namespaced:
                    log.info("[%s] cannot watch %s cluster-wide (%s); watching per namespace", self.sync, self.rtype.plural, e)
                    self.on_forbidden()
                    return
                log.warning("[%s] cannot watch %s: %s", self.sync, self.rtype.plural, e)
                failures += 1
                rv = None
            except Exception as e:  # network trouble, a restarted server: back off and re-LIST
                log.warning("[%s] watch of %s failed: %s", self.sync, self.rtype.plural, errors.cut(str(e)))
                failures += 1
                rv = None
            if failures:
                self.stopped.wait(BACKOFF[min(failures, len(BACKOFF)) - 1])


class ClusterWatcher:
    """The set of watches of one sync, reconciled with the types each run found it manages."""

    def __init__(self, sync: str, selector: str, handler: EventHandler, timeout: float = 60.0):
        self.sync = sync
        self.selector = selector
        self.handler = handler
        self.timeout = timeout
        self.fingerprints = Fingerprints()
        self._loops: dict[tuple, WatchLoop] = {}
        self._namespaced_only: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._last: tuple = (None, {}, set())

    def ensure(self, cluster: API, rtypes: dict[tuple[str, str], ResourceType], namespaces: set[str]) -> None:
        """Watch exactly these types (cluster-wide, or in these namespaces where that is all RBAC allows)."""
        with self._lock:
            self._last = (cluster, dict(rtypes), set(namespaces))
            wanted: dict[tuple, tuple[ResourceType, str]] = {}
            for key, rtype in rtypes.items():
                if rtype.namespaced and key in self._namespaced_only:
                    for ns in namespaces:
                        wanted[(key, ns)] = (rtype, ns)
                else:
                    wanted[(key, "")] = (rtype, "")
            for k in [k for k, loop in self._loops.items() if k not in wanted or loop.cluster is not cluster]:
                self._loops.pop(k).stop()
            for k, (rtype, ns) in wanted.items():
                if k in self._loops:
                    continue
                type_key = k[0]
                self._loops[k] = WatchLoop(
                    cluster, rtype, ns, self.selector, self.handler, self.fingerprints, self.timeout, self.sync,
                    on_forbidden=lambda tk=type_key: self._fall_back(tk),
                ).start()

    def _fall_back(self, type_key: tuple[str, str]) -> None:
        with self._lock:
            self._namespaced_only.add(type_key)
            self._loops.pop((type_key, ""), None)
            cluster, rtypes, namespaces = self._last
        if cluster is not None:
            self.ensure(cluster, rtypes, namespaces)

    def stop(self) -> None:
        with self._lock:
            for loop in self._loops.values():
                loop.stop()
            self._loops.clear()
