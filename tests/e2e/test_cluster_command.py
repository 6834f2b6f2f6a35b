"""`kubesync cluster up|env|down`: the embedded control plane in the background, its simulated nodes
Ready when `up` returns, and nothing left behind."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from kubesync import localcluster
from kubesync.cluster.client import Cluster
from tests.support import cli as support_cli
from tests.support.fixtures import control_plane_version

ROOT = Path(__file__).resolve().parents[2]


def kubesync(*args):
    return support_cli.run(*args, no_color=False, cwd=ROOT, timeout=240)


def component_pids(workdir: Path) -> list[int]:
    out = subprocess.run(["pgrep", "-f", str(workdir)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out if int(p) != os.getpid()]


def test_cluster_up_env_down(tmp_path):
    if os.environ.get("KUBESYNC_TEST_KUBECONFIG"):
        pytest.fail("this test starts the embedded control plane; run it without KUBESYNC_TEST_KUBECONFIG")
    version = control_plane_version()
    workdir = tmp_path / "cp"
    up = kubesync("cluster", "up", "--dir", str(workdir), "--kubernetes-version", version.minor,
                  "--nodes", "2", "--node-cpu", "2", "--node-memory", "8Gi")
    try:
        assert up.returncode == 0, up.stderr
        assert f"(Kubernetes {version.full}, 2 node(s) Ready, 2 CPU and 8Gi each)" in up.stdout
        assert up.stdout.splitlines()[-1] == f"export KUBECONFIG={workdir / 'kubeconfig'}"
        other = next(v for v in localcluster.VERSIONS if v != version.minor)
        clash = kubesync("cluster", "up", "--dir", str(workdir), "--kubernetes-version", other)
        if localcluster.get_version(other) in localcluster.built_versions():
            assert clash.returncode == 1
            assert f"a control plane of Kubernetes {version.full} is already running" in clash.stderr
        env = kubesync("cluster", "env", "--dir", str(workdir))
        assert env.returncode == 0 and env.stdout.strip() == f"export KUBECONFIG={workdir / 'kubeconfig'}"
        api = Cluster.connect(str(workdir / "kubeconfig"))
        assert api.get("/version")["gitVersion"] == f"v{version.full}"
        names = {ns["metadata"]["name"] for ns in api.get("/api/v1/namespaces")["items"]}
        assert {"default", "kube-system"} <= names
        nodes = api.get("/api/v1/nodes")["items"]  # Ready when `up` returns: no waiting here
        assert [n["metadata"]["name"] for n in nodes] == ["kwok-node-0", "kwok-node-1"]
        assert all({c["type"]: c["status"] for c in n["status"]["conditions"]}["Ready"] == "True" for n in nodes)
        assert {n["status"]["allocatable"]["cpu"] for n in nodes} == {"2"}
        assert component_pids(workdir)
    finally:
        down = kubesync("cluster", "down", "--dir", str(workdir))
    assert down.returncode == 0 and down.stdout.strip() == "local control plane stopped"
    assert component_pids(workdir) == []
    gone = kubesync("cluster", "env", "--dir", str(workdir))
    assert gone.returncode == 1 and gone.stderr.startswith("error: no local control plane is running in")
