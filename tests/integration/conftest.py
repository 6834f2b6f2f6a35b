"""Fixtures for fault tests: a control plane of their own, so stopping its apiserver or etcd never
disturbs the session's shared one (nor the other tests running against it)."""

from __future__ import annotations

import os
import shutil

import pytest

from kubesync import localcluster
from kubesync.localnodes import NodeShape
from tests.support.fixtures import fresh_namespace, requested_k8s_version

EMBEDDED_ONLY = (
    "this test stops and restarts control-plane components and needs the embedded control plane; "
    "it cannot run against the external cluster named by KUBESYNC_TEST_KUBECONFIG"
)


def ensure_running(plane: localcluster.LocalCluster, timeout: float = 60.0) -> None:
    """Start again any component a failed test left stopped, and wait until the apiserver serves."""
    for comp in plane.components:
        if not comp.alive():
            comp.start(tie_to_parent=plane.tie_to_parent)
    api = plane.component("kube-apiserver")
    plane._wait(api, lambda: localcluster._http_ok(plane.server + "/readyz", plane.token), timeout, "did not become ready")


@pytest.fixture(scope="module")
def fault_plane(tmp_path_factory):
    """A separate etcd + kube-apiserver + controller-manager for one module of fault tests.

    Never a skip: against an external cluster the test fails and says why.
    """
    if os.environ.get("KUBESYNC_TEST_KUBECONFIG"):
        pytest.fail(EMBEDDED_ONLY)
    # No nodes: the fault tests stop the apiserver and etcd under a sync; running pods add nothing
    # there but load, so kwok is not started and pods stay Pending as before.
    plane = localcluster.LocalCluster.create(
        tmp_path_factory.mktemp("fault-plane"), version=requested_k8s_version(), nodes=NodeShape(count=0)
    )
    try:
        plane.start()
    except localcluster.ControlPlaneError as e:
        pytest.fail(f"the fault tests' own control plane failed to start:\n{e}")
    try:
        yield plane
    finally:
        plane.stop()
        shutil.rmtree(plane.workdir / "etcd", ignore_errors=True)  # ~64 MiB of WAL; the logs stay for a post-mortem


@pytest.fixture
def fault_cluster(fault_plane):
    """A client of the fault control plane; every component is running when the test starts and ends."""
    from kubesync.cluster.client import Cluster

    ensure_running(fault_plane)
    yield Cluster.connect(str(fault_plane.kubeconfig))
    ensure_running(fault_plane)


@pytest.fixture
def fault_plane_running(fault_plane):
    """Call it to wait until every fault-plane component runs again (after a test stopped one)."""
    return lambda: ensure_running(fault_plane)


@pytest.fixture
def fault_namespace(fault_cluster, request) -> str:
    """A fresh namespace on the fault control plane (deleted without retries: a test may have stopped the server)."""
    with fresh_namespace(fault_cluster, request.node.name, wait_for_account=False, retry_delete=False) as name:
        yield name
