"""Pure: whether a hook is done, as Argo CD judges it (gitops-engine's getOperationPhase), and the words
that explain a failed or stuck one.

    Healthy                      -> succeeded (a Job completed, a Pod succeeded, a kind without rules exists)
    Degraded, Unknown, Missing   -> failed (a Job's Failed condition, a Pod that failed)
    Progressing, Suspended       -> running

A hook object is read while it may be terminating (its finalizer holds it until its outcome is read,
a Job's ttlSecondsAfterFinished may delete it at once): the deletion does not change the verdict.
The explanation is the newest of its pods and that pod's last container: an exit code and message, or
what it waits for (ErrImagePull, unschedulable), so a person sees why without `kubectl logs`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kubesync.health import DEGRADED, HEALTHY, MISSING, UNKNOWN, assess
from kubesync.health.workloads import pod_health
from kubesync.model import KubeObject

RUNNING, SUCCEEDED, FAILED = "running", "succeeded", "failed"


def hook_state(live: KubeObject | None) -> tuple[str, str]:
    """(running | succeeded | failed, reason) of a hook object as the server returned it."""
    if live is None:
        return FAILED, "deleted before it finished"
    meta = {k: v for k, v in (live.get("metadata") or {}).items() if k != "deletionTimestamp"}
    health = assess({**live, "metadata": meta})
    if health.status is HEALTHY:
        return SUCCEEDED, health.reason or "created"
    if health.status in (DEGRADED, UNKNOWN, MISSING):
        return FAILED, health.reason
    return RUNNING, health.reason


def pod_selector(live: KubeObject | None) -> str | None:
    """The label selector of a Job's pods (its controller-uid label: its own pods, none of an older run's)."""
    labels = (((live or {}).get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or None


def _created(pod: Mapping[str, Any]) -> str:
    return str((pod.get("metadata") or {}).get("creationTimestamp") or "")


def last_words(pods: Iterable[KubeObject]) -> str:
    """`pod NAME: <its last container's state>` of the newest pod ('' when there is none)."""
    pods = [p for p in pods if isinstance(p, Mapping)]
    if not pods:
        return ""
    pod = max(pods, key=lambda p: (_created(p), str((p.get("metadata") or {}).get("name") or "")))
    return f"pod {(pod.get('metadata') or {}).get('name')}: {pod_health(pod).reason}"


def explain(reason: str, words: str) -> str:
    """The hook's own reason and its pod's last words, once each."""
    return f"{reason}; {words}" if words and words not in reason else reason
