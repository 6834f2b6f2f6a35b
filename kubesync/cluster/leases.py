"""coordination.k8s.io/v1 Lease calls for leader election (the election itself: daemon/leader.py)."""

from __future__ import annotations

from kubesync.cluster import API
from kubesync.model import KubeObject

API_VERSION = "coordination.k8s.io/v1"


def lease_path(namespace: str, name: str = "") -> str:
    base = f"/apis/{API_VERSION}/namespaces/{namespace}/leases"
    return f"{base}/{name}" if name else base


def get(cluster: API, namespace: str, name: str) -> KubeObject | None:
    """The Lease, or None when it does not exist."""
    return cluster.get_or_none(lease_path(namespace, name))


def create(cluster: API, namespace: str, name: str, spec: dict) -> KubeObject:
    """Create the Lease; ClusterConflict when another replica created it first."""
    body = {"apiVersion": API_VERSION, "kind": "Lease", "metadata": {"name": name, "namespace": namespace}, "spec": spec}
    return cluster.request("POST", lease_path(namespace), body=body)


def replace(cluster: API, lease: KubeObject, *, retry: bool = True) -> KubeObject:
    """Write the Lease back; it carries the resourceVersion read, so ClusterConflict when someone wrote since."""
    meta = lease.get("metadata") or {}
    return cluster.request("PUT", lease_path(meta.get("namespace", ""), meta.get("name", "")), body=lease, retry=retry)
