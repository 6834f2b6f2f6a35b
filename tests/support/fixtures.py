"""Fixture bodies shared by the control planes under test (the session one and the fault plane)."""

from __future__ import annotations

import contextlib
import os
import secrets
from typing import Iterator

from kubesync import localcluster
from tests.support.waits import wait_for


def requested_k8s_version() -> str | None:
    """The control-plane version this run asked for (`make test` sets KUBESYNC_TEST_K8S_VERSION per leg)."""
    return os.environ.get("KUBESYNC_TEST_K8S_VERSION") or None


def control_plane_version() -> localcluster.KubernetesVersion:
    """The version the embedded control planes of this run start (the newest built one by default)."""
    return localcluster.get_version(requested_k8s_version())


def require_simulated_nodes() -> None:
    """Tests of kwok's simulated failures (kubesync.io/simulate) need the embedded control plane: a
    real kubelet pulls real images and runs real probes. Never a skip: against another cluster they fail."""
    if os.environ.get("KUBESYNC_TEST_KUBECONFIG"):
        import pytest

        pytest.fail("this test needs the embedded control plane's kwok nodes (kubesync.io/simulate); "
                    "it cannot run against the cluster named by KUBESYNC_TEST_KUBECONFIG")


def namespace_name(test_name: str) -> str:
    """`ks-<test name>-<random>`, a valid namespace name: the test is readable in `kubectl get ns`."""
    base = "ks-" + test_name.lower().replace("_", "-")[:40].strip("-")
    return f"{base}-{secrets.token_hex(3)}"[:63].strip("-")


@contextlib.contextmanager
def fresh_namespace(cluster, test_name: str, *, wait_for_account: bool = True, retry_delete: bool = True) -> Iterator[str]:
    """A namespace for one test, deleted afterwards without waiting. `wait_for_account`: until its
    default ServiceAccount exists (Pods and the daemon's RBAC need it); `retry_delete` False where the
    server may be down on purpose (the fault plane)."""
    name = namespace_name(test_name)
    cluster.request("POST", "/api/v1/namespaces", body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    if wait_for_account:
        wait_for(lambda: cluster.get_or_none(f"/api/v1/namespaces/{name}/serviceaccounts/default"), 30,
                 what=f"the default ServiceAccount of {name}")
    try:
        yield name
    finally:
        try:
            cluster.request("DELETE", f"/api/v1/namespaces/{name}", retry=retry_delete)
        except Exception:
            pass
