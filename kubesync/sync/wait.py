"""Health read fresh from the cluster, and waiting until every object is Healthy.

One labelled LIST per resource type per poll (the objects a sync applies all carry its labels), not a
GET per object: a 1,000-object wait costs as many requests a second as it has kinds. An object the
LIST does not show (not ours, or not there) is read with a GET, so it is reported truly. A workload
that is not Healthy is explained by its pods (health/pods.py): one LIST of pods per namespace that
has one, so `--wait` names the crash-looping container or the scheduler's reason.
"""

from __future__ import annotations

import time
from typing import Callable, Iterable

from kubesync import errors
from kubesync.cluster import API
from kubesync.cluster.live import list_managed, list_objects
from kubesync.health import Health, HealthStatus, assess
from kubesync.health.pods import explain, needs_pods
from kubesync.model import PODS, KubeObject, ObjectRef, ResourceType
from kubesync.sync.plan import selector


def health(cluster: API, discovery, refs: Iterable[ObjectRef], sync: str) -> dict[ObjectRef, Health]:
    """The health of each object (a missing object or kind is Missing)."""
    refs = list(refs)
    by_type: dict[tuple[str, str], tuple[ResourceType, list[ObjectRef]]] = {}
    out: dict[ObjectRef, Health] = {}
    for ref in refs:
        rtype = discovery.resource_for(ref.api_version, ref.kind)
        if rtype is None:
            out[ref] = assess(None)
        else:
            by_type.setdefault((rtype.api_version, rtype.kind), (rtype, []))[1].append(ref)
    unhealthy: dict[str, list[tuple[ObjectRef, KubeObject]]] = {}
    for rtype, wanted in by_type.values():
        namespaces = {r.namespace for r in wanted if r.namespace}
        found = list_managed(cluster, rtype, namespaces, selector(sync))
        for ref in wanted:
            live = found.get(ref.key)
            if live is None:
                live = cluster.get(rtype, ref.namespace, ref.name)
            out[ref] = assess(live)
            if needs_pods(live, out[ref]):
                unhealthy.setdefault(ref.namespace, []).append((ref, live))
    for namespace, workloads in unhealthy.items():  # one LIST of pods per namespace explains them all
        pods = list_objects(cluster, PODS, namespace)
        for ref, live in workloads:
            out[ref] = explain(out[ref], live, pods)
    return {ref: out[ref] for ref in refs}


def wait(cluster: API, discovery, refs: list[ObjectRef], sync: str, timeout: float, *, label: str = "",
         on_waiting: Callable[[tuple], None] | None = None, interval: float = 1.0,
         clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> int:
    """Until every object is Healthy: returns how many; raises WaitTimeout naming the rest.

    `on_waiting` gets ((object, health), ...) each time the set of objects still waiting changes."""
    deadline = clock() + timeout
    last: tuple = ()
    while True:
        found = health(cluster, discovery, refs, sync)
        waiting = tuple(sorted((str(ref), str(h)) for ref, h in found.items() if h.status is not HealthStatus.HEALTHY))
        if not waiting:
            return len(refs)
        if waiting != last and on_waiting is not None:
            on_waiting(waiting)
        last = waiting
        if clock() >= deadline:
            raise errors.WaitTimeout(
                f"timed out after {label or f'{timeout:g}s'} waiting for {len(waiting)} object(s) to become Healthy:\n"
                + "\n".join(f"  {ref}: {h}" for ref, h in waiting)
            )
        sleep(interval)
