"""deploy/ (kubesync running in a cluster) is itself a source kubesync applies cleanly and then finds in sync,
and its namespaced mode is all the daemon needs: no cluster-wide grant, no Secret outside its namespaces."""

from __future__ import annotations

import subprocess

import pytest

from tests.integration.daemon_harness import REPO_ROOT
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
        "/apis/rbac.authorization.k8s.io/v1/clusterroles/kubesync-sync",
        "/apis/rbac.authorization.k8s.io/v1/namespaces/kubesync-demo/rolebindings/kubesync-sync",
        "/apis/rbac.authorization.k8s.io/v1/namespaces/kubesync-system/roles/kubesync-state",
        "/apis/networking.k8s.io/v1/namespaces/kubesync-system/networkpolicies/kubesync",
        "/api/v1/namespaces/kubesync-system/configmaps/kubesync-config",
        "/api/v1/namespaces/kubesync-system/serviceaccounts/kubesync",
        "/api/v1/namespaces/kubesync-system/services/kubesync-metrics",
    ):
        labels = cluster.get(path)["metadata"]["labels"]
        assert labels["kubesync.io/sync"] == "deploy", path


def service_account_kubeconfig(kubeconfig: str, cluster, path) -> str:
    """The fixture's cluster, but authenticated as deploy/'s ServiceAccount: what the Deployment's pods get.
    The token comes from the TokenRequest API, as a pod's projected token does (Kubernetes 1.24 and
    later no longer create token Secrets)."""
    import yaml

    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 3600}}
    path_ = "/api/v1/namespaces/kubesync-system/serviceaccounts/kubesync/token"
    token = cluster.request("POST", path_, body=request)["status"]["token"]
    cfg = yaml.safe_load(open(kubeconfig))
    cfg["users"] = [{"name": "kubesync-sa", "user": {"token": token}}]
    for ctx in cfg["contexts"]:
        ctx["context"]["user"] = "kubesync-sa"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def tenant_install(ns: str, folder) -> str:
    """deploy/'s namespaced grant for one more target namespace, the one-line way overlays/namespaced
    documents: deploy/target/ included with `namespace:` set (kubesync renders the kustomization)."""
    import shutil

    folder.mkdir()
    shutil.copytree(REPO_ROOT / "deploy" / "target", folder / "target")
    (folder / "kustomization.yaml").write_text(f"{{namespace: {ns}, resources: [target]}}\n")
    return str(folder)


def allowed(sa_cluster, verb: str, resource: str, namespace: str = "", group: str = "") -> bool:
    attributes = {"verb": verb, "group": group, "resource": resource, "namespace": namespace}
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": {"resourceAttributes": attributes}}
    return sa_cluster.request("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body=review)["status"]["allowed"]


def cluster_grants_to(cluster, sa: str, namespace: str) -> list[str]:
    """ClusterRoleBindings naming the ServiceAccount (or every service account) whose role touches Secrets."""
    found = []
    for b in cluster.get("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings")["items"]:
        subjects = b.get("subjects") or []
        if not any((s["kind"] == "ServiceAccount" and s["name"] == sa and s.get("namespace") == namespace)
                   or (s["kind"] == "Group" and s["name"] in ("system:serviceaccounts", f"system:serviceaccounts:{namespace}"))
                   for s in subjects):
            continue
        role = cluster.get(f"/apis/rbac.authorization.k8s.io/v1/clusterroles/{b['roleRef']['name']}")
        if any({"secrets", "*"} & set(r.get("resources") or []) for r in role.get("rules") or []):
            found.append(b["metadata"]["name"])
    return found


def test_the_daemon_needs_no_more_than_the_namespaced_install(kubeconfig, cluster, tmp_path):
    """The daemon, as the kubesync ServiceAccount of the namespaced install, syncs the demo app with
    leader election and self-heal; nothing grants it Secrets cluster-wide."""
    import secrets

    from kubesync.cluster.client import Cluster
    from tests.integration.daemon_harness import DaemonProcess, wait_until

    assert kubesync(kubeconfig, "apply", "deploy/", "--yes").returncode == 0
    # The demo app in a namespace of its own (so no other test's sync of it gets in the way), granted
    # the way overlays/namespaced says to add a target namespace.
    ns = f"ks-demo-{secrets.token_hex(3)}"
    granted = kubesync(kubeconfig, "apply", tenant_install(ns, tmp_path / "tenant"), "--name", f"tenant-{ns}", "--yes")
    assert granted.returncode == 0, granted.stdout + granted.stderr
    sa_config = service_account_kubeconfig(kubeconfig, cluster, tmp_path / "kubeconfig")
    sa_cluster = Cluster.connect(sa_config)
    assert cluster_grants_to(cluster, "kubesync", "kubesync-system") == []
    assert not allowed(sa_cluster, "list", "secrets") and not allowed(sa_cluster, "get", "secrets", "default")
    assert not allowed(sa_cluster, "create", "namespaces") and not allowed(sa_cluster, "list", "namespaces")
    assert allowed(sa_cluster, "get", "secrets", ns) and allowed(sa_cluster, "create", "deployments", ns, "apps")

    # The namespace is the install's, so the synced source holds what lives inside it.
    demo = tmp_path / "demo"
    demo.mkdir()
    for f in (REPO_ROOT / "manifests-example").glob("*.yaml"):
        if f.name != "00-namespace.yaml":
            (demo / f.name).write_text(f.read_text().replace("kubesync-demo", ns))
    name = f"demo-{secrets.token_hex(3)}"
    args = [str(demo), "--name", name, "--prune", "--self-heal", "--interval", "5m",
            "--leader-elect", "--lease-namespace", "kubesync-system", "--lease-name", f"lease-{name}", "--lease-duration", "5s"]
    try:
        with DaemonProcess(args, sa_config, tmp_path) as d:
            wait_until(lambda: (d.sync(name) or {}).get("state") == "Synced", 60,
                       what=f"demo synced as the service account; log:\n{d.log()}")
            for path in (f"/apis/apps/v1/namespaces/{ns}/deployments/web", f"/api/v1/namespaces/{ns}/secrets/web-credentials",
                         f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles/web-config-reader"):
                assert cluster.get(path)["metadata"]["labels"]["kubesync.io/sync"] == name, path
            assert d.http("/readyz")[0] == 200
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
