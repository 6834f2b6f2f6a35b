"""Shared fixtures: the real control plane (once per session), a namespace per test, and guards
that keep tests away from the user's home directory and kubeconfig."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kubesync import localcluster, tools
from tests.support.fixtures import control_plane_version, fresh_namespace, requested_k8s_version
from tests.support.waits import wait_for as wait_for_condition

# Resolve the control-plane binaries from the real cache before any test moves HOME ...
os.environ.setdefault("KUBESYNC_K8S_ROOT", str(localcluster.binaries_root()))
# ... and the pinned tools (kustomize, helm, sops, kwok, registry; see kubesync/tools.py) likewise.
os.environ.setdefault("KUBESYNC_TOOLS_ROOT", str(tools.tools_root()))
REPO_ROOT = Path(__file__).resolve().parent.parent


def pytest_report_header(config):
    if os.environ.get("KUBESYNC_TEST_KUBECONFIG"):
        return f"kubesync: existing cluster from KUBESYNC_TEST_KUBECONFIG={os.environ['KUBESYNC_TEST_KUBECONFIG']}"
    return f"kubesync: embedded control plane, Kubernetes {control_plane_version().full}"


@pytest.fixture(autouse=True)
def _isolate_home(tmp_path_factory, monkeypatch):
    """No test reads ~/.kube/config or writes below the user's home or cache."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBESYNC_CACHE_DIR", raising=False)


@pytest.fixture(autouse=True)
def _forget_secret_values():
    """The redactor is process-wide: values one test loaded must not scrub another test's output."""
    yield
    from kubesync.secrets import REDACTOR

    REDACTOR.forget()


@pytest.fixture(scope="session")
def kubeconfig(tmp_path_factory) -> str:
    """A kubeconfig for the real control plane, or for an existing cluster named by KUBESYNC_TEST_KUBECONFIG."""
    given = os.environ.get("KUBESYNC_TEST_KUBECONFIG")
    if given:
        yield given
        return
    try:
        cluster = localcluster.LocalCluster.create(tmp_path_factory.mktemp("control-plane"), version=requested_k8s_version())
        cluster.start()
    except localcluster.ControlPlaneError as e:
        # Never a skip: a control plane that cannot start fails the whole run, loudly.
        pytest.exit(f"the local control plane failed to start:\n{e}", returncode=1)
    try:
        yield str(cluster.kubeconfig)
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def local_control_plane(kubeconfig):
    """Only for fault tests that restart components; unavailable against an external cluster."""
    if os.environ.get("KUBESYNC_TEST_KUBECONFIG"):
        pytest.fail("this test restarts control-plane components and needs the embedded control plane")
    return kubeconfig


@pytest.fixture(scope="session")
def cluster(kubeconfig):
    from kubesync.cluster.client import Cluster

    return Cluster.connect(kubeconfig)


@pytest.fixture(scope="session")
def client(cluster):
    """The typed verbs (cluster.api.Client) over the session's connection: what kubesync's own code takes."""
    from kubesync.cluster.api import Client

    return Client(cluster)


@pytest.fixture(scope="session")
def server_version(cluster) -> tuple[int, int]:
    """(major, minor) of the API server under test, for expectations that differ between versions."""
    info = cluster.request("GET", "/version")
    return int(info["major"]), int("".join(ch for ch in info["minor"] if ch.isdigit()))


@pytest.fixture
def namespace(cluster, request) -> str:
    """A fresh namespace for one test, deleted afterwards (without waiting)."""
    with fresh_namespace(cluster, request.node.name) as name:
        yield name


@pytest.fixture
def wait_for():
    return wait_for_condition
