"""An admission webhook that cannot be reached rejects every write with the same 500: an apply of 200
objects stops after a few, names the webhook once and does not grind through the rest."""

from __future__ import annotations

import secrets
import time

import pytest

from kubesync import errors
from kubesync.localcluster import free_port
from tests.support import cli as support_cli
from tests.support.manifests import configmap, write

N = 200


@pytest.fixture
def unreachable_webhook(cluster, namespace, wait_for):
    """A ValidatingWebhookConfiguration for ConfigMaps in `namespace` only, pointing at a closed loopback port."""
    tag = secrets.token_hex(3)
    cluster.request("PATCH", f"/api/v1/namespaces/{namespace}", body={"metadata": {"labels": {"kubesync-test-webhook": tag}}},
                    content_type="application/merge-patch+json")
    name = f"deny-{tag}.kubesync.test"
    config = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": f"kubesync-test-{tag}"},
        "webhooks": [{
            "name": name,
            "clientConfig": {"url": f"https://127.0.0.1:{free_port()}/validate"},
            "rules": [{"operations": ["CREATE", "UPDATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"]}],
            "namespaceSelector": {"matchLabels": {"kubesync-test-webhook": tag}},
            "failurePolicy": "Fail",
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "timeoutSeconds": 5,
        }],
    }
    path = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
    cluster.request("POST", path, body=config)

    def active():  # the apiserver picks up webhook configurations asynchronously
        probe = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "probe"}}
        try:
            cluster.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", body=probe, query={"dryRun": "All"}, retry=False)
        except errors.ClusterError as e:
            return name in str(e)
        return False

    try:
        wait_for(active, 30)
        yield name
    finally:
        cluster.request("DELETE", f"{path}/kubesync-test-{tag}")


def test_unreachable_webhook_stops_an_apply_of_200_objects_quickly_naming_it_once(kubeconfig, cluster, namespace, unreachable_webhook, tmp_path):
    folder = write(tmp_path / "src", {"configmaps.yaml": [configmap(f"c{i:03d}", {"k": "v"}) for i in range(N)]})
    start = time.monotonic()
    done = support_cli.run("apply", folder, "--yes", "-n", namespace, "--name", f"hook-{namespace[-6:]}", "--kubeconfig", kubeconfig)
    elapsed = time.monotonic() - start
    print(f"apply of {N} ConfigMaps behind an unreachable webhook: exit {done.returncode} after {elapsed:.2f}s")
    print(done.stderr)
    assert done.returncode == 1, done.stdout + done.stderr
    assert elapsed < 10
    assert done.stderr.count(unreachable_webhook) == 1, done.stderr
    # stdout: once in the plan's dry-run warning (grouped for the 200 objects), once on the first failure's progress line
    assert done.stdout.count(unreachable_webhook) <= 2, done.stdout
    assert "objects failed the same way" in done.stderr and "of this wave were not started" in done.stderr
    assert not cluster.get(f"/api/v1/namespaces/{namespace}/configmaps", labelSelector="app.kubernetes.io/managed-by=kubesync")["items"]
