"""deploy/ (kubesync running in a cluster) is itself a source kubesync applies cleanly and then finds in sync."""

from __future__ import annotations

import subprocess

import pytest

from tests.integration.daemon_harness import PYTHON, REPO_ROOT, kubesync_env
from tests.support import cli as support_cli

pytestmark = pytest.mark.integration


def kubesync(kubeconfig: str, *args: str) -> subprocess.CompletedProcess:
    return support_cli.run(*args, kubeconfig=kubeconfig, env_extra={"PYTHONUNBUFFERED": "1"})


def test_deploy_folder_applies_cleanly_and_then_plans_empty(kubeconfig, cluster):
    applied = kubesync(kubeconfig, "apply", "deploy/", "--yes")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "failed" not in applied.stdout.split("Apply complete")[-1]

    planned = kubesync(kubeconfig, "plan", "deploy/", "--exit-code")
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert "No changes" in planned.stdout

    deployment = cluster.get("/apis/apps/v1/namespaces/kubesync-system/deployments/kubesync")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "kubesync"
    for path in (
        "/apis/rbac.authorization.k8s.io/v1/clusterroles/kubesync-managed-kinds",
        "/apis/rbac.authorization.k8s.io/v1/namespaces/kubesync-system/roles/kubesync-state",
        "/api/v1/namespaces/kubesync-system/configmaps/kubesync-config",
        "/api/v1/namespaces/kubesync-system/serviceaccounts/kubesync",
        "/api/v1/namespaces/kubesync-system/services/kubesync-metrics",
    ):
        labels = cluster.get(path)["metadata"]["labels"]
        assert labels["kubesync.io/sync"] == "deploy", path


def service_account_kubeconfig(kubeconfig: str, cluster, path) -> str:
    """The fixture's cluster, but authenticated as deploy/'s ServiceAccount: what the Deployment's pods get."""
    import base64

    import yaml

    from tests.integration.daemon_harness import wait_until

    sa = wait_until(lambda: (cluster.get("/api/v1/namespaces/kubesync-system/serviceaccounts/kubesync").get("secrets") or None),
                    30, what="service account token")
    secret = cluster.get(f"/api/v1/namespaces/kubesync-system/secrets/{sa[0]['name']}")
    token = base64.b64decode(secret["data"]["token"]).decode()
    cfg = yaml.safe_load(open(kubeconfig))
    cfg["users"] = [{"name": "kubesync-sa", "user": {"token": token}}]
    for ctx in cfg["contexts"]:
        ctx["context"]["user"] = "kubesync-sa"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def test_the_daemon_needs_no_more_than_deploys_rbac(kubeconfig, cluster, tmp_path):
    """The daemon, as the kubesync ServiceAccount, syncs the demo app with leader election and self-heal."""
    import secrets

    from tests.integration.daemon_harness import DaemonProcess, wait_until

    assert kubesync(kubeconfig, "apply", "deploy/", "--yes").returncode == 0
    sa_config = service_account_kubeconfig(kubeconfig, cluster, tmp_path / "kubeconfig")
    # The demo app, moved to a namespace of its own so no other test's sync of it gets in the way.
    ns = f"ks-demo-{secrets.token_hex(3)}"
    demo = tmp_path / "demo"
    demo.mkdir()
    for f in (REPO_ROOT / "manifests-example").glob("*.yaml"):
        (demo / f.name).write_text(f.read_text().replace("kubesync-demo", ns))
    name = f"demo-{secrets.token_hex(3)}"
    args = [str(demo), "--name", name, "--prune", "--self-heal", "--interval", "5m",
            "--leader-elect", "--lease-namespace", "kubesync-system", "--lease-name", f"lease-{name}", "--lease-duration", "5s"]
    try:
        with DaemonProcess(args, sa_config, tmp_path) as d:
            wait_until(lambda: d.json("/readyz") and d.json("/readyz")["syncs"][name]["state"] == "synced", 60,
                       what=f"demo synced as the service account; log:\n{d.log()}")
            assert cluster.get_or_none(f"/apis/apps/v1/namespaces/{ns}/deployments/web") is not None
            errors_seen = {k: v for k, v in d.metrics().items() if k[0] == "kubesync_api_errors_total" and v}
            assert not errors_seen, errors_seen
            # Drift on a managed object is reverted with the same privileges.
            path = f"/api/v1/namespaces/{ns}/configmaps/web-config"
            cluster.request("PATCH", path, body={"data": {"LOG_LEVEL": "debug"}}, content_type="application/merge-patch+json")
            wait_until(lambda: cluster.get(path)["data"]["LOG_LEVEL"] == "info", 15, what="drift reverted")
            assert d.terminate() == 0
    finally:
        try:
            cluster.request("DELETE", f"/api/v1/namespaces/{ns}")
        except Exception:
            pass
