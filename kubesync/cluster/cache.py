"""One LIST + WATCH per resource type for a whole daemon: the objects kubesync manages, in memory.

Every sync reads its live state here instead of LISTing it, so a steady-state resync of every sync
sends no request, and the open watches are one per resource type however many syncs there are.
Only objects carrying kubesync's managed-by label are kept (the inventory ConfigMaps among them);
each is indexed by its sync label. Events go to the handler registered for that sync, with
`changed`: whether anything but status and bookkeeping moved (a controller writing status is not
drift; a person editing spec or labels is).

A watch is LISTed (paginated) once, then WATCHed from the list's resourceVersion with bookmarks,
renewed when the server closes it and re-LISTed on `410 Gone` or after an error (backing off).
Where RBAC refuses a cluster-wide LIST of a namespaced type, that type is watched per namespace,
in the namespaces the syncs asked for.

Reads after a write: a sync that just wrote an object notes the resourceVersion the server gave
it (`SyncView.wrote`); its next read of that type waits, briefly, until the watch has caught up.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import threading
import time
from typing import Callable, Iterable, Iterator

from kubesync import errors
from kubesync.cluster import API, live
from kubesync.cluster import requests as build
from kubesync.inventory import INVENTORY_FOR_LABEL
from kubesync.model import MANAGED_BY_LABEL, MANAGED_BY_VALUE, SYNC_LABEL, KubeObject, ObjectRef, ResourceType
from kubesync.vocab import VOLATILE_METADATA, without_metadata

log = logging.getLogger(__name__)

SELECTOR = f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}"
BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0)

# (event type: ADDED, MODIFIED, DELETED, or LISTED for objects seen when (re)listing; object; changed)
EventHandler = Callable[[str, KubeObject, bool], None]
TypeKey = tuple[str, str]  # (apiVersion, kind)


MAX_OBJECT_BYTES = 256 * 1024  # a cached object over this (as JSON) is dropped with a warning and read on demand
LIST_PAGE = 50  # objects per page of the cache's LISTs: a page of hostile 1 MiB objects stays tens of MiB


def fingerprint(obj: KubeObject) -> str:
    """A hash of what a person (or kubesync) sets: everything but status and bookkeeping."""
    return _measured(obj)[0]


def _measured(obj: KubeObject) -> tuple[str, int]:
    """(fingerprint, size of the object as JSON), from one serialisation."""
    body = without_metadata(obj, VOLATILE_METADATA, drop_status=True)
    text = json.dumps(body, sort_keys=True, default=str).encode()
    return hashlib.sha256(text).hexdigest(), len(text)


def version_number(rv: str | None) -> int | None:
    """A resourceVersion as a number where the server uses numbers (etcd does), else None."""
    try:
        return int(str(rv))
    except (TypeError, ValueError):
        return None


def sync_of(obj: KubeObject) -> str:
    return str(((obj.get("metadata") or {}).get("labels") or {}).get(SYNC_LABEL) or "")


def owner_of(obj: KubeObject) -> str:
    """The sync an object (or an inventory ConfigMap) is labelled for."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return str(labels.get(SYNC_LABEL) or labels.get(INVENTORY_FOR_LABEL) or "")


class Store:
    """The objects of one type: by key, with their fingerprints, indexed by sync label. With `syncs`, only
    the objects of those syncs (a label anyone can set must not fill the daemon's memory); objects over
    `max_bytes` are dropped and noted in `oversized` (their readers LIST them)."""

    def __init__(self, syncs: frozenset[str] | None = None, max_bytes: int = MAX_OBJECT_BYTES) -> None:
        self.objects: dict[tuple, tuple[KubeObject, str]] = {}
        self.by_sync: dict[str, set[tuple]] = {}
        self.syncs = syncs
        self.max_bytes = max_bytes
        self.oversized: dict[str, set[tuple]] = {}  # sync -> keys of its objects too big to hold

    def put(self, event: str, obj: KubeObject) -> bool:
        """Keep (or drop) the object; True when the event changes it as we knew it."""
        key = ObjectRef.of(obj).key
        before = self.objects.pop(key, None)
        if before is not None:
            self.by_sync.get(sync_of(before[0]), set()).discard(key)
        owner = owner_of(obj)
        self.oversized.get(owner, set()).discard(key)
        if event == "DELETED" or (self.syncs is not None and owner not in self.syncs):
            return event == "DELETED"
        fp, size = _measured(obj)
        if size > self.max_bytes:
            if key not in self.oversized.setdefault(owner, set()):
                log.warning("%s: %d bytes, over the watch cache's %d; not cached, read when needed", ObjectRef.of(obj),
                            size, self.max_bytes)
            self.oversized[owner].add(key)
            return before is not None
        self.objects[key] = (obj, fp)
        self.by_sync.setdefault(sync_of(obj), set()).add(key)
        if event == "ADDED":
            return False  # new objects carrying our label are ours being created; nothing to revert
        return before is not None and before[1] != fp

    def keys_in(self, namespace: str) -> list[tuple]:
        return [k for k in self.objects if not namespace or k[2] == namespace]


class Informer:
    """The watch of one resource type: a loop per scope ("" cluster-wide, or one per namespace)."""

    def __init__(self, cache: "WatchCache", rtype: ResourceType):
        self.cache = cache
        self.rtype = rtype
        self.store = Store(cache.syncs, cache.max_object_bytes)
        self.lock = threading.Condition()
        self.rv = 0  # the newest resourceVersion the watch has shown (numeric servers)
        self.namespaced_only = False
        self.scopes: dict[str, threading.Event] = {}  # scope -> set after its first LIST, whether it worked
        self.listed: set[str] = set()  # scopes LISTed successfully at least once
        self.denied = ""  # why this type cannot be watched at all (RBAC); readers then LIST directly

    def ensure(self, namespaces: Iterable[str]) -> None:
        """Start the cluster-wide loop (or, per namespace, the ones missing)."""
        wanted = sorted(set(namespaces)) if self.namespaced_only else [""]
        for scope in wanted:
            with self.lock:
                if scope in self.scopes or self.cache.stopped.is_set():
                    continue
                self.scopes[scope] = threading.Event()
            name = f"watch-{self.rtype.plural}" + (f"-{scope}" if scope else "")
            threading.Thread(target=self._run, args=(scope,), name=name, daemon=True).start()

    def ready(self, namespaces: Iterable[str], timeout: float) -> bool:
        """Wait until every scope covering these namespaces was LISTed; False when a first LIST failed
        (the reader then asks the server itself, and meets the error there)."""
        deadline = time.monotonic() + timeout
        scopes = sorted(set(namespaces)) if self.namespaced_only else [""]
        for scope in scopes:
            with self.lock:
                done = self.scopes.get(scope)
            if done is None or not done.wait(max(0.0, deadline - time.monotonic())):
                return False
        with self.lock:
            return not self.denied and all(scope in self.listed for scope in scopes)

    def first_listed(self) -> bool:
        """Every scope's first LIST has answered (or failed, and readers ask the server instead)."""
        with self.lock:
            return all(done.is_set() for done in self.scopes.values())

    def caught_up(self, rv: int, timeout: float) -> bool:
        with self.lock:
            return self.lock.wait_for(lambda: self.rv >= rv, timeout)

    def _advance(self, rv: str | None) -> None:
        n = version_number(rv)
        if n is not None and n > self.rv:
            self.rv = n
            self.lock.notify_all()

    # -- one scope's loop -------------------------------------------------------------------------

    def _pages(self, scope: str) -> Iterator[tuple[list[KubeObject], str]]:
        """The LIST in small pages (each page's objects are dropped or kept before the next is read)."""
        token = None
        while True:
            doc = self.cache.cluster.send(build.list_page(self.rtype, scope, SELECTOR, token, limit=LIST_PAGE))
            meta = doc.get("metadata") or {}
            items = [{**item, "apiVersion": self.rtype.api_version, "kind": self.rtype.kind} for item in doc.get("items") or ()]
            token = meta.get("continue")
            yield items, str(meta.get("resourceVersion") or "")
            if not token:
                return

    def _list(self, scope: str) -> str:
        events = []
        present: set[tuple] = set()
        rv = ""
        for items, rv in self._pages(scope):
            with self.lock:
                for obj in items:
                    present.add(ObjectRef.of(obj).key)
                    changed = self.store.put("LISTED", obj)
                    if ObjectRef.of(obj).key in self.store.objects:
                        events.append(("LISTED", obj, changed))
        with self.lock:
            for key in [k for k in self.store.keys_in(scope) if k not in present]:
                gone, _ = self.store.objects[key]
                self.store.put("DELETED", gone)
                events.append(("DELETED", gone, True))
            self._advance(rv)
            self.listed.add(scope)
            self.scopes[scope].set()
        for kind, obj, changed in events:
            self.cache.dispatch(kind, obj, changed)
        return rv

    def _watch(self, scope: str, rv: str) -> str | None:
        """Events from rv until the server closes the watch; the last resourceVersion, None to re-LIST."""
        try:
            for kind, obj in self.cache.cluster.watch(self.rtype, scope, selector=SELECTOR, resource_version=rv, timeout=self.cache.timeout):
                if self.cache.stopped.is_set():
                    return rv
                rv = str((obj.get("metadata") or {}).get("resourceVersion") or rv)
                with self.lock:
                    changed = self.store.put(kind, obj) if kind != "BOOKMARK" else False
                    self._advance(rv)
                if kind != "BOOKMARK":
                    self.cache.dispatch(kind, obj, changed)
        except errors.WatchExpired:
            return None
        return rv

    def _denied(self, scope: str, e: errors.KubesyncError) -> bool:
        """RBAC refused: fall back to namespaces (True: this loop ends) or give up on the type."""
        if not scope and self.rtype.namespaced:
            log.info("cannot watch %s cluster-wide (%s); watching per namespace", self.rtype.plural, errors.cut(str(e)))
            with self.lock:
                self.namespaced_only = True
                self.scopes.pop("", threading.Event()).set()
            self.cache.refresh_namespaces(self)
            return True
        log.warning("cannot watch %s%s: %s", self.rtype.plural, f" in {scope}" if scope else "", errors.cut(str(e)))
        with self.lock:
            self.denied = errors.cut(str(e))
            self.scopes[scope].set()  # readers stop waiting and LIST directly
        return False

    def _run(self, scope: str) -> None:
        failures, rv = 0, None
        stopped = self.cache.stopped
        while not stopped.is_set():
            try:
                if rv is None:
                    rv = self._list(scope)
                    with self.lock:
                        self.denied = ""
                rv = self._watch(scope, rv)
                failures = 0
            except errors.ClusterUnauthorized as e:
                if self._denied(scope, e):
                    return
                failures, rv = failures + 1, None
            except Exception as e:  # network trouble, a restarted server: back off and re-LIST
                log.warning("watch of %s failed: %s", self.rtype.plural, errors.cut(str(e)))
                failures, rv = failures + 1, None
                with self.lock:
                    self.scopes[scope].set()  # tried: readers waiting for the first LIST go to the server
            if failures:
                stopped.wait(BACKOFF[min(failures, len(BACKOFF)) - 1])


class WatchCache:
    """The informers of one cluster connection, shared by every sync of the daemon."""

    def __init__(self, cluster: API, timeout: float = 60.0, wait: float = 30.0, syncs: Iterable[str] | None = None,
                 max_object_bytes: int = MAX_OBJECT_BYTES):
        """`syncs`: the daemon's configured syncs, the only ones whose objects are held (None: every one)."""
        self.cluster = cluster
        self.timeout = timeout  # seconds one watch request stays open
        self.wait = wait  # seconds a reader waits for a type's first LIST before LISTing itself
        self.syncs = frozenset(syncs) if syncs is not None else None
        self.max_object_bytes = max_object_bytes
        self.stopped = threading.Event()
        self._informers: dict[TypeKey, Informer] = {}
        self._handlers: dict[str, EventHandler] = {}
        self._namespaces: dict[TypeKey, set[str]] = {}
        self._lock = threading.Lock()

    def subscribe(self, sync: str, handler: EventHandler) -> None:
        with self._lock:
            self._handlers[sync] = handler

    def dispatch(self, kind: str, obj: KubeObject, changed: bool) -> None:
        handler = self._handlers.get(sync_of(obj))
        if handler is not None:
            try:
                handler(kind, obj, changed)
            except Exception:  # one sync's bug must not stop the watch every sync shares
                log.exception("event handler of sync %s failed", sync_of(obj))

    def informer(self, rtype: ResourceType, namespaces: Iterable[str] = ()) -> Informer:
        """The informer of a type, started if need be (in these namespaces too, when RBAC wants that)."""
        key = (rtype.api_version, rtype.kind)
        namespaces = set(namespaces)
        with self._lock:
            inf = self._informers.get(key)
            if inf is None:
                inf = self._informers[key] = Informer(self, rtype)
            self._namespaces.setdefault(key, set()).update(namespaces)
            wanted = set(self._namespaces[key])
        inf.ensure(wanted)
        return inf

    def refresh_namespaces(self, inf: Informer) -> None:
        with self._lock:
            wanted = set(self._namespaces.get((inf.rtype.api_version, inf.rtype.kind), ()))
        inf.ensure(wanted)

    def watches(self) -> dict[str, int]:
        """Open watch loops per resource type (plural): what /metrics reports."""
        with self._lock:
            informers = list(self._informers.values())
        return {inf.rtype.plural: len(inf.scopes) for inf in informers}

    def synced(self) -> bool:
        """Every watch started so far has done its first LIST: /readyz of the daemon."""
        with self._lock:
            informers = list(self._informers.values())
        return all(inf.first_listed() for inf in informers)

    def objects(self) -> int:
        with self._lock:
            informers = list(self._informers.values())
        return sum(len(inf.store.objects) for inf in informers)

    def stop(self) -> None:
        self.stopped.set()


class SyncView:
    """One sync's reads of the shared cache (the `reader` of sync.Pipeline), with read-your-writes."""

    def __init__(self, cache: WatchCache, sync: str, cluster: API | None = None, catch_up: float = 5.0):
        self.cache = cache
        self.sync = sync
        self.cluster = cluster or cache.cluster  # for reads the cache cannot serve: the sync's own view
        self.catch_up = catch_up
        self._written: dict[TypeKey, int] = {}
        self._mine: dict[tuple, str] = {}  # object key -> the resourceVersion our last write of it got
        self._lock = threading.Lock()

    def wrote(self, obj: KubeObject | None) -> None:
        """A write's answer: later reads of its type wait for the watch to show this version."""
        if not isinstance(obj, dict) or not obj.get("kind"):
            return
        rv = (obj.get("metadata") or {}).get("resourceVersion")
        n = version_number(rv)
        with self._lock:
            self._mine[ObjectRef.of(obj).key] = str(rv or "")
            if n is not None:
                key = (str(obj.get("apiVersion") or ""), str(obj["kind"]))
                self._written[key] = max(n, self._written.get(key, 0))

    def is_mine(self, obj: KubeObject) -> bool:
        """The event shows exactly the version our own last write of the object produced (no need to
        run again for it: the run that wrote it already planned that state)."""
        rv = str((obj.get("metadata") or {}).get("resourceVersion") or "")
        with self._lock:
            return bool(rv) and self._mine.get(ObjectRef.of(obj).key) == rv

    def _informer(self, rtype: ResourceType, namespaces: Iterable[str]) -> Informer | None:
        """The type's informer once it can serve these namespaces, caught up with our writes; else None."""
        inf = self.cache.informer(rtype, namespaces)
        if not inf.ready(namespaces, self.cache.wait):
            return None
        rv = self._written.get((rtype.api_version, rtype.kind))
        if rv is not None and not inf.caught_up(rv, self.catch_up):
            log.debug("[%s] watch of %s behind our write %d; listing directly", self.sync, rtype.plural, rv)
            return None
        return inf

    def managed(self, rtype: ResourceType, namespaces: Iterable[str], selector: str) -> dict[tuple, KubeObject]:
        """This sync's objects of one type (copies: callers may change them)."""
        namespaces = sorted(set(namespaces))
        inf = self._informer(rtype, namespaces)
        if inf is None or inf.store.oversized.get(self.sync):  # some of its objects are too big to cache
            return live.list_managed(self.cluster, rtype, namespaces, selector)
        with inf.lock:
            found = {k: inf.store.objects[k][0] for k in inf.store.by_sync.get(self.sync, ()) if k in inf.store.objects}
        if inf.namespaced_only:
            found = {k: o for k, o in found.items() if k[2] in namespaces}
        return copy.deepcopy(found)

    def get(self, rtype: ResourceType, namespace: str, name: str) -> KubeObject | None:
        """One labelled object by name (the inventory ConfigMap), from the cache."""
        inf = self._informer(rtype, [namespace] if namespace else [])
        if inf is None:
            return self.cluster.get(rtype, namespace, name)
        key = (rtype.group, rtype.kind, namespace, name)
        if any(key in keys for keys in inf.store.oversized.values()):
            return self.cluster.get(rtype, namespace, name)
        with inf.lock:
            entry = inf.store.objects.get(key)
        return copy.deepcopy(entry[0]) if entry is not None else None
