"""coordination.k8s.io/v1 Lease calls for leader election and shards (the claims: daemon/claim.py)."""

from __future__ import annotations

from kubesync import errors
from kubesync.cluster import API
from kubesync.model import KubeObject

API_VERSION = "coordination.k8s.io/v1"


def lease_path(namespace: str, name: str = "") -> str:
    base = f"/apis/{API_VERSION}/namespaces/{namespace}/leases"
    return f"{base}/{name}" if name else base


def get(cluster: API, namespace: str, name: str) -> KubeObject | None:
    """The Lease, or None when it does not exist."""
    return cluster.get_or_none(lease_path(namespace, name))


def create(cluster: API, namespace: str, name: str, spec: dict, labels: dict[str, str] | None = None) -> KubeObject:
    """Create the Lease; ClusterConflict when another replica created it first."""
    meta = {"name": name, "namespace": namespace, **({"labels": labels} if labels else {})}
    body = {"apiVersion": API_VERSION, "kind": "Lease", "metadata": meta, "spec": spec}
    return cluster.request("POST", lease_path(namespace), body=body)


def replace(cluster: API, lease: KubeObject, *, retry: bool = True) -> KubeObject:
    """Write the Lease back; it carries the resourceVersion read, so ClusterConflict when someone wrote since."""
    meta = lease.get("metadata") or {}
    return cluster.request("PUT", lease_path(meta.get("namespace", ""), meta.get("name", "")), body=lease, retry=retry)


def list_labelled(cluster: API, namespace: str, selector: str, limit: int = 500) -> dict[str, KubeObject]:
    """The Leases matching a label selector, by name (one page: a shard group is small; bounded all the same)."""
    found = cluster.request("GET", lease_path(namespace), query={"labelSelector": selector, "limit": limit})
    items = [{"apiVersion": API_VERSION, "kind": "Lease", **item} for item in found.get("items") or []]
    return {(item.get("metadata") or {}).get("name", ""): item for item in items}


def delete(cluster: API, namespace: str, name: str, resource_version: str = "") -> None:
    """Delete the Lease (only at that resourceVersion when given); gone already is fine, ClusterConflict if it moved."""
    body = {"kind": "DeleteOptions", "apiVersion": "v1"}
    if resource_version:
        body["preconditions"] = {"resourceVersion": resource_version}
    try:
        cluster.request("DELETE", lease_path(namespace, name), body=body, retry=False)
    except errors.ClusterNotFound:
        pass
