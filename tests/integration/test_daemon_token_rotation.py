"""A running daemon follows a rotated token file, as kubelet rotates projected service-account tokens:
after the file holds a new token and the old one is revoked, the daemon still applies changes."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import pytest

from tests.integration.daemon_harness import DaemonProcess, configmap_yaml, wait_until
from tests.support.manifests import write

pytestmark = pytest.mark.integration


def service_account_token(cluster, namespace: str, name: str) -> str:
    cluster.request("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts",
                    body={"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}})
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 3600}}
    return cluster.request("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token", body=request)["status"]["token"]


@pytest.fixture
def two_tokens(cluster, namespace):
    """Tokens of two ServiceAccounts that may do anything (a ClusterRoleBinding, removed afterwards)."""
    binding = f"kubesync-rotation-{secrets.token_hex(3)}"
    cluster.request("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", body={
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": binding},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": n, "namespace": namespace} for n in ("old-sa", "new-sa")],
    })
    try:
        yield service_account_token(cluster, namespace, "old-sa"), service_account_token(cluster, namespace, "new-sa")
    finally:
        cluster.request("DELETE", f"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{binding}")


def data(cluster, namespace: str) -> dict | None:
    obj = cluster.get_or_none(f"/api/v1/namespaces/{namespace}/configmaps/rotated")
    return None if obj is None else obj.get("data")


def test_a_rotated_token_file_is_picked_up_by_a_running_daemon(kubeconfig, cluster, namespace, two_tokens, tmp_path):
    old, new = two_tokens
    token_file = tmp_path / "token"
    token_file.write_text(old)
    doc = json.loads(Path(kubeconfig).read_text())
    doc["users"][0]["user"] = {"tokenFile": str(token_file)}
    config = tmp_path / "kubeconfig"
    config.write_text(json.dumps(doc))
    src = write(tmp_path / "src", {"cm.yaml": configmap_yaml("rotated", namespace, a="1")})

    with DaemonProcess([str(src), "--name", f"rot-{secrets.token_hex(3)}", "--interval", "5m"], str(config), tmp_path) as d:
        d.wait_ready(60)
        wait_until(lambda: data(cluster, namespace) == {"a": "1"}, 30, what="first apply with the old token")

        (tmp_path / "token.new").write_text(new)
        os.replace(tmp_path / "token.new", token_file)  # kubelet's way: a new file renamed over the old one
        cluster.request("DELETE", f"/api/v1/namespaces/{namespace}/serviceaccounts/old-sa")  # the old token is now void
        wait_until(lambda: cluster.get_or_none(f"/api/v1/namespaces/{namespace}/serviceaccounts/old-sa") is None, 10,
                   what="old service account gone")

        (src / "cm.yaml").write_text(configmap_yaml("rotated", namespace, a="2"))
        wait_until(lambda: data(cluster, namespace) == {"a": "2"}, 30, what=f"apply with the rotated token; log:\n{d.log()}")
        assert "token file" in d.log() and "changed" in d.log()
        assert d.terminate() == 0
