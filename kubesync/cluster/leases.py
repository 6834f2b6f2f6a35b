"""coordination.k8s.io/v1 Lease calls for leader election and shards (the claims: daemon/election/claim.py)."""

from __future__ import annotations

from kubesync import errors
from kubesync.cluster import API
from kubesync.cluster import requests as build
from kubesync.cluster.requests import Preconditions
from kubesync.model import LEASES, KubeObject

API_VERSION = LEASES.api_version


def get(cluster: API, namespace: str, name: str) -> KubeObject | None:
    """The Lease, or None when it does not exist."""
    return cluster.get(LEASES, namespace, name)


def create(cluster: API, namespace: str, name: str, spec: dict, labels: dict[str, str] | None = None) -> KubeObject:
    """Create the Lease; ClusterConflict when another replica created it first."""
    meta = {"name": name, "namespace": namespace, **({"labels": labels} if labels else {})}
    return cluster.create(LEASES, {"apiVersion": API_VERSION, "kind": "Lease", "metadata": meta, "spec": spec})


def replace(cluster: API, lease: KubeObject, *, retry: bool = True) -> KubeObject:
    """Write the Lease back; it carries the resourceVersion read, so ClusterConflict when someone wrote since."""
    return cluster.put(LEASES, lease, retry=retry)


def list_labelled(cluster: API, namespace: str, selector: str, limit: int = 500) -> dict[str, KubeObject]:
    """The Leases matching a label selector, by name (one page: a shard group is small; bounded all the same)."""
    found = cluster.send(build.list_page(LEASES, namespace, selector, limit=limit))
    items = [{"apiVersion": API_VERSION, "kind": "Lease", **item} for item in found.get("items") or []]
    return {(item.get("metadata") or {}).get("name", ""): item for item in items}


def delete(cluster: API, namespace: str, name: str, resource_version: str = "") -> None:
    """Delete the Lease (only at that resourceVersion when given); gone already is fine, ClusterConflict if it moved."""
    try:
        cluster.delete(LEASES, namespace, name, preconditions=Preconditions(resource_version=resource_version), retry=False)
    except errors.ClusterNotFound:
        pass
