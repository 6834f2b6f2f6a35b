"""The Pods of a sync's workloads, for the sync page (folded under their Deployment, StatefulSet...).

Pods are not managed objects, so nothing watches them: the page asks for one LIST per namespace
that holds a workload, cached for a few seconds so the page's 2 s refresh does not turn into a
stream of LISTs. A workload's pods are those its `spec.selector.matchLabels` selects. A namespace
where pods may not be listed (RBAC) shows that instead of pods.
"""

from __future__ import annotations

import logging
import threading
import time


from kubesync import errors
from kubesync.model import PODS

log = logging.getLogger(__name__)

WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}
TTL = 5.0
MAX_PODS = 20  # per workload on the page


def summary(pod: dict) -> dict:
    """name, phase, ready containers, restarts and the first waiting reason of one Pod."""
    status = pod.get("status") or {}
    containers = status.get("containerStatuses") or []
    waiting = next((c["state"]["waiting"].get("reason", "") for c in containers if (c.get("state") or {}).get("waiting")), "")
    return {
        "name": pod["metadata"]["name"],
        "phase": status.get("phase") or "Unknown",
        "ready": f"{sum(1 for c in containers if c.get('ready'))}/{len(containers) or len((pod.get('spec') or {}).get('containers') or [])}",
        "restarts": sum(int(c.get("restartCount") or 0) for c in containers),
        "reason": waiting or status.get("reason") or "",
    }


def selects(selector: dict, labels: dict) -> bool:
    wanted = selector.get("matchLabels") or {}
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())


class PodCache:
    def __init__(self, ttl: float = TTL):
        self.ttl = ttl
        self._lock = threading.Lock()
        self._lists: dict[tuple[str | None, str], tuple[float, list[dict] | None]] = {}

    def _pods(self, cluster, context: str | None, namespace: str) -> list[dict] | None:
        """The namespace's pods (None when they may not be listed), at most `ttl` seconds old."""
        key = (context, namespace)
        with self._lock:
            cached = self._lists.get(key)
        if cached is not None and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        try:
            pods = cluster.list(PODS, namespace).items
        except errors.ClusterUnauthorized:
            pods = None
        with self._lock:
            self._lists[key] = (time.monotonic(), pods)
        return pods

    def for_worker(self, worker) -> dict[str, dict]:
        """object (as in the status rows) -> {"pods": [summary...], "more": n} or {"error": why}."""
        planned = worker.history.planned
        if planned is None or getattr(worker, "connections", None) is None:
            return {}
        out: dict[str, dict] = {}
        try:
            cluster = worker.connections.get(worker.sync.context)
        except errors.KubesyncError as e:
            log.debug("pods for %s: %s", worker.sync.name, e)
            return {}
        for action in planned.plan.actions:
            live = action.live
            if action.ref.kind not in WORKLOADS or not live or not action.ref.namespace:
                continue
            try:
                pods = self._pods(cluster, worker.sync.context, action.ref.namespace)
            except errors.KubesyncError as e:
                out[str(action.ref)] = {"error": f"pods could not be read: {type(e).__name__}"}
                continue
            if pods is None:
                out[str(action.ref)] = {"error": "pods may not be listed in this namespace"}
                continue
            selector = (live.get("spec") or {}).get("selector") or {}
            mine = sorted((summary(p) for p in pods if selects(selector, p["metadata"].get("labels") or {})), key=lambda p: p["name"])
            out[str(action.ref)] = {"pods": mine[:MAX_PODS], "more": max(0, len(mine) - MAX_PODS)}
        return out
