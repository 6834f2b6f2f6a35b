"""Plans a reviewer can trust, on the real control plane through the CLI: validated by the server,
replacements shown and confirmed, saved plans bound to their cluster, diffs `git apply` accepts,
status from the inventory, sync names that cannot prune each other."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import textwrap
from pathlib import Path

import git
import pytest
import yaml

from tests.support import cli as support_cli
from tests.support.manifests import configmap, deployment, namespace_object, write, yaml_text


def kubesync(*args, kubeconfig=None, code=None):
    return support_cli.run(*args, kubeconfig=kubeconfig, timeout=180, check_code=code)


def web(app: str = "web", template_app: str | None = None, namespace: str | None = None) -> dict:
    return deployment("web", app=app, template_app=template_app, namespace=namespace, container={"name": "c"})


def get(cluster, path):
    return cluster.get_or_none(path)


# ------------------------------------------------------------------ validated by the server


def test_invalid_objects_fail_the_plan_naming_each_with_file_and_line(tmp_path, kubeconfig, namespace, cluster):
    src = write(tmp_path / "app", {
        # the Deployment begins on line 6
        "a.yaml": f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: fine, namespace: {namespace}}}\ndata: {{k: v}}\n---\n"
                  + yaml_text(web(template_app="other", namespace=namespace)),
        "b.yaml": configmap("lost", {"k": "v"}, namespace="no-such-namespace-here"),
    })
    for command in ("plan", "diff", "apply"):
        proc = kubesync(command, src, "--name", f"inv-{namespace[-6:]}", "--yes" if command == "apply" else "--exit-code",
                        kubeconfig=kubeconfig, code=1)
        err = proc.stderr
        assert "the server rejects 2 object(s) of the plan" in err, err
        assert f"a.yaml:6: apps/v1 Deployment {namespace}/web: the server would reject this create:" in err
        assert "selector" in err and "does not match template" in err
        assert "b.yaml:1: v1 ConfigMap no-such-namespace-here/lost: the server would reject this create:" in err
        assert 'namespaces "no-such-namespace-here" not found' in err
    assert get(cluster, f"/api/v1/namespaces/{namespace}/configmaps/fine") is None  # nothing applied
    assert get(cluster, f"/apis/apps/v1/namespaces/{namespace}/deployments/web") is None


def test_a_plan_whose_first_wave_creates_the_namespace_is_valid(tmp_path, kubeconfig, cluster):
    ns = f"ks-newns-{secrets.token_hex(4)}"
    src = write(tmp_path / "app", {"app.yaml": [namespace_object(ns), configmap("c", {"k": "v"}, namespace=ns)]})
    try:
        proc = kubesync("plan", src, "--name", f"newns-{ns[-6:]}", "--exit-code", kubeconfig=kubeconfig, code=2)
        assert "Plan: 2 to create" in proc.stdout
        assert f"1 object(s) in namespace {ns}, which this plan creates: validated by the server only when applied" in proc.stdout
        kubesync("apply", src, "--name", f"newns-{ns[-6:]}", kubeconfig=kubeconfig, code=0)
        assert get(cluster, f"/api/v1/namespaces/{ns}/configmaps/c") is not None
    finally:
        cluster.request("DELETE", f"/api/v1/namespaces/{ns}") if get(cluster, f"/api/v1/namespaces/{ns}") else None


def read_only_kubeconfig(cluster, kubeconfig: str, namespace: str, tmp_path: Path) -> Path:
    """A ServiceAccount bound to the built-in `view` ClusterRole: it may read, not write (nor dry-run)."""
    cluster.request("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts",
                    body={"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "reader"}})
    binding = f"ks-reader-{namespace}"[:63]
    cluster.request("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", body={
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": binding},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": namespace}]})
    token = cluster.request("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/reader/token",
                            body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}})["status"]["token"]
    config = json.loads(Path(kubeconfig).read_text())
    config["users"] = [{"name": "reader", "user": {"token": token}}]
    config["contexts"][0]["context"]["user"] = "reader"
    path = tmp_path / "reader.kubeconfig"
    path.write_text(json.dumps(config))
    path.chmod(0o600)
    return path


def test_read_only_credentials_plan_and_say_what_was_not_validated(tmp_path, kubeconfig, namespace, cluster):
    reader = read_only_kubeconfig(cluster, kubeconfig, namespace, tmp_path)
    src = write(tmp_path / "app", {"app.yaml": configmap("ro", {"k": "v"})})
    proc = kubesync("plan", src, "-n", namespace, "--name", f"ro-{namespace[-6:]}", "--exit-code", kubeconfig=reader, code=2)
    assert "Plan: 1 to create" in proc.stdout
    assert f"app.yaml:1: v1 ConfigMap {namespace}/ro: not validated by the server: forbidden" in proc.stdout
    kubesync("plan", src, "-n", namespace, "--name", f"ro-{namespace[-6:]}", "--validate=none", kubeconfig=reader, code=0)


# ------------------------------------------------------------------ replacements


def test_an_immutable_change_plans_a_replace_that_needs_confirmation(tmp_path, kubeconfig, namespace, cluster):
    sync = ["-n", namespace, "--name", f"rep-{namespace[-6:]}"]
    src = write(tmp_path / "app", {"app.yaml": web()})
    kubesync("apply", src, *sync, kubeconfig=kubeconfig, code=0)
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments/web"
    old_uid = get(cluster, path)["metadata"]["uid"]
    write(src, {"app.yaml": web(app="web2")})  # a new selector: immutable in apps/v1

    plan = kubesync("plan", src, *sync, kubeconfig=kubeconfig, code=0).stdout
    assert "Plan: 0 to create, 0 to update, 0 to scale, 1 to replace, 0 to delete (0 unchanged)." in plan
    assert f"replace  apps/v1 Deployment {namespace}/web" in plan and "immutable" in plan
    refused = kubesync("apply", src, *sync, kubeconfig=kubeconfig, code=1)
    assert "the plan replaces 1 object(s) (deleted, then created again); pass --yes to confirm" in refused.stderr
    assert get(cluster, path)["metadata"]["uid"] == old_uid

    done = kubesync("apply", src, *sync, "--yes", kubeconfig=kubeconfig, code=0)
    assert f"replaced  apps/v1 Deployment {namespace}/web" in done.stdout
    live = get(cluster, path)
    assert live["metadata"]["uid"] != old_uid and live["spec"]["selector"]["matchLabels"] == {"app": "web2"}
    names = [d["metadata"]["name"] for d in cluster.get(f"/apis/apps/v1/namespaces/{namespace}/deployments")["items"]]
    assert names == ["web"]  # no duplicate
    kubesync("plan", src, *sync, "--exit-code", kubeconfig=kubeconfig, code=0)


# ------------------------------------------------------------------ saved plans and their cluster


@pytest.fixture(scope="module")
def second_control_plane(tmp_path_factory, kubeconfig):
    if os.environ.get("KUBESYNC_TEST_KUBECONFIG"):
        pytest.fail("this test starts a second control plane and needs the embedded one")
    from kubesync import localcluster

    other = localcluster.LocalCluster.create(tmp_path_factory.mktemp("second-control-plane"))
    other.start()
    try:
        yield str(other.kubeconfig)
    finally:
        other.stop()


def test_a_plan_saved_against_one_cluster_is_refused_on_another(tmp_path, kubeconfig, namespace, second_control_plane):
    from kubesync.cluster.client import Cluster

    src = write(tmp_path / "app", {"app.yaml": configmap("bound", {"k": "v"})})
    saved = tmp_path / "plan.json"
    kubesync("plan", src, "-n", "default", "--name", f"bound-{namespace[-6:]}", "--out", saved, kubeconfig=kubeconfig, code=0)
    assert json.loads(saved.read_text())["cluster"]["uid"]
    proc = kubesync("apply", "--plan", saved, "--yes", kubeconfig=second_control_plane, code=1)
    first, second = Cluster.connect(kubeconfig).server, Cluster.connect(second_control_plane).server
    assert f"the saved plan was made against cluster {first} (kube-system uid " in proc.stderr
    assert f"but the current context points at cluster {second} (kube-system uid " in proc.stderr
    assert Cluster.connect(second_control_plane).get_or_none("/api/v1/namespaces/default/configmaps/bound") is None
    kubesync("apply", saved, "--yes", kubeconfig=second_control_plane, code=1)  # `apply PLAN.json` reads it as a plan too


def test_apply_plan_json_applies_the_saved_plan(tmp_path, kubeconfig, namespace, cluster):
    src = write(tmp_path / "app", {"app.yaml": configmap("saved", {"k": "v"})})
    saved = tmp_path / "plan.json"
    kubesync("plan", src, "-n", namespace, "--name", f"sv-{namespace[-6:]}", "--out", saved, kubeconfig=kubeconfig, code=0)
    kubesync("apply", "--dry-run", src, "-n", namespace, "--name", f"sv-{namespace[-6:]}", kubeconfig=kubeconfig, code=0)
    assert get(cluster, f"/api/v1/namespaces/{namespace}/configmaps/saved") is None  # a bare --dry-run is client
    out = kubesync("apply", saved, kubeconfig=kubeconfig, code=0).stdout
    assert "Apply complete: 1 created" in out
    assert get(cluster, f"/api/v1/namespaces/{namespace}/configmaps/saved") is not None


# ------------------------------------------------------------------ diffs, status, names


def test_a_saved_diff_passes_git_apply_check_against_the_live_yaml(tmp_path, kubeconfig, namespace, cluster, wait_for):
    from kubesync.render.text import for_display, to_yaml

    sync = ["-n", namespace, "--name", f"ga-{namespace[-6:]}"]
    src = write(tmp_path / "app", {"app.yaml": [configmap("cfg", {"a": "1", "b": "2"}), web()]})
    kubesync("apply", src, *sync, kubeconfig=kubeconfig, code=0)
    deployment_path = f"/apis/apps/v1/namespaces/{namespace}/deployments/web"
    wait_for(lambda: (get(cluster, deployment_path)["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision"), 30)
    text = (src / "app.yaml").read_text().replace("b: '2'", "b: '3'").replace("nginx:1.25", "nginx:1.26").replace("replicas: 1", "replicas: 2")
    write(src, {"app.yaml": text, "more.yaml": configmap("added", {"k": "v"})})
    diff = kubesync("diff", src, *sync, "--exit-code", kubeconfig=kubeconfig, code=2).stdout
    lines = diff.splitlines()
    assert not [b for a, b in zip(lines, lines[1:]) if a.startswith("+++ ") and not b.startswith("@@")]  # hunks follow headers
    live_dir = tmp_path / "tree"
    live_dir.mkdir()
    for path, name in ((f"/api/v1/namespaces/{namespace}/configmaps/cfg", f"v1.ConfigMap.{namespace}.cfg"),
                       (f"/apis/apps/v1/namespaces/{namespace}/deployments/web", f"apps.v1.Deployment.{namespace}.web")):
        obj = cluster.get(path)
        obj.setdefault("apiVersion", "apps/v1" if "Deployment" in name else "v1")
        obj.setdefault("kind", "Deployment" if "Deployment" in name else "ConfigMap")
        (live_dir / name).write_text(to_yaml(for_display(obj)))
    (tmp_path / "saved.diff").write_text(diff)
    subprocess.run(["git", "init", "-q", str(live_dir)], check=True)
    check = subprocess.run(["git", "apply", "--check", "-v", str(tmp_path / "saved.diff")], cwd=live_dir, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr + "\n" + diff
    assert check.stderr.count("Checking patch") == 3


def test_status_without_a_source_lists_the_inventory_with_health(tmp_path, kubeconfig, namespace):
    name = f"st-{namespace[-6:]}"
    src = write(tmp_path / "app", {"app.yaml": [configmap("s", {"k": "v"}), web()]})
    kubesync("apply", src, "-n", namespace, "--name", name, kubeconfig=kubeconfig, code=0)
    out = kubesync("status", "--name", name, kubeconfig=kubeconfig, code=0).stdout
    assert out.startswith("Sync state is unknown without the source")
    assert f"v1 ConfigMap {namespace}/s" in out and f"apps/v1 Deployment {namespace}/web" in out
    assert "Healthy" in out and "Unknown" in out
    doc = json.loads(kubesync("status", "--name", name, "-o", "json", kubeconfig=kubeconfig, code=0).stdout)
    rows = {r["object"]: r for r in doc["objects"]}
    assert rows[f"v1 ConfigMap {namespace}/s"]["health"] == "Healthy" and rows[f"v1 ConfigMap {namespace}/s"]["sync"] == "Unknown"
    with_source = json.loads(kubesync("status", src, "-n", namespace, "--name", name, "-o", "json", kubeconfig=kubeconfig, code=0).stdout)
    assert {r["sync"] for r in with_source["objects"]} == {"Synced"}
    kubesync("status", "--name", "never-applied-here", kubeconfig=kubeconfig, code=1)


def test_prune_without_a_name_is_refused(tmp_path, kubeconfig, namespace):
    src = write(tmp_path / "manifests", {"app.yaml": configmap("x", {"k": "v"})})
    proc = kubesync("apply", src, "-n", namespace, "--prune", "--yes", kubeconfig=kubeconfig, code=1)
    assert "needs the sync's name: pass --name SYNC" in proc.stderr


def test_two_repositories_with_the_same_folder_name_cannot_prune_each_other(tmp_path, kubeconfig, namespace, cluster):
    name = f"shared-{namespace[-6:]}"
    sources = []
    for repo_name, cm in (("repo-a", "from-a"), ("repo-b", "from-b")):
        repo = git.Repo.init(tmp_path / repo_name)
        write(tmp_path / repo_name / "manifests", {"app.yaml": configmap(cm, {"k": "v"})})
        repo.index.add(["manifests/app.yaml"])
        repo.index.commit("init")
        sources.append(["--repo", tmp_path / repo_name, "--path", "manifests"])
    a, b = sources
    kubesync("apply", *a, "-n", namespace, "--name", name, "--prune", "--yes", kubeconfig=kubeconfig, code=0)
    proc = kubesync("apply", *b, "-n", namespace, "--name", name, "--prune", "--yes", kubeconfig=kubeconfig, code=1)
    assert f"sync {name!r} was applied from {tmp_path / 'repo-a'}//manifests, not from this source ({tmp_path / 'repo-b'}//manifests)" in proc.stderr
    assert get(cluster, f"/api/v1/namespaces/{namespace}/configmaps/from-a") is not None
    assert get(cluster, f"/api/v1/namespaces/{namespace}/configmaps/from-b") is None
    warned = kubesync("plan", *b, "-n", namespace, "--name", name, kubeconfig=kubeconfig, code=0)
    assert "a prune from here will be refused" in warned.stdout


def test_selector_limits_the_run_and_never_prunes_what_it_does_not_select(tmp_path, kubeconfig, namespace, cluster):
    name = ["-n", namespace, "--name", f"sel-{namespace[-6:]}"]
    src = write(tmp_path / "app", {"app.yaml": [configmap(tier, {"k": "v"}, labels={"tier": tier}) for tier in ("front", "back")]})
    kubesync("apply", src, *name, "-l", "tier=front", kubeconfig=kubeconfig, code=0)
    assert get(cluster, f"/api/v1/namespaces/{namespace}/configmaps/front") is not None
    assert get(cluster, f"/api/v1/namespaces/{namespace}/configmaps/back") is None
    kubesync("apply", src, *name, kubeconfig=kubeconfig, code=0)
    write(src, {"app.yaml": configmap("other", {"k": "v"}, labels={"tier": "back"})})
    out = kubesync("apply", src, *name, "-l", "tier=back", "--prune", "--yes", "--force", kubeconfig=kubeconfig, code=0).stdout
    assert get(cluster, f"/api/v1/namespaces/{namespace}/configmaps/front") is not None  # not selected: never pruned
    assert get(cluster, f"/api/v1/namespaces/{namespace}/configmaps/back") is None and "deleted" in out


def test_a_namespace_flag_contradicting_an_object_is_an_error(tmp_path, kubeconfig, namespace):
    src = write(tmp_path / "app", {"app.yaml": configmap("x", {"k": "v"}, namespace="elsewhere")})
    proc = kubesync("plan", src, "-n", namespace, "--name", f"nsx-{namespace[-6:]}", kubeconfig=kubeconfig, code=1)
    assert f"app.yaml:1: v1 ConfigMap elsewhere/x: its namespace 'elsewhere' contradicts -n '{namespace}'" in proc.stderr


def test_cluster_scoped_objects_carrying_a_namespace_apply_under_any_namespace_flag(tmp_path, kubeconfig, namespace, cluster):
    """Upstream manifests (Kubernetes' own addons) put `namespace: kube-system` on ClusterRoles: the server
    ignores it, so -n cannot contradict it; each object gets one warning, in every command."""
    suffix = namespace[-6:]
    src = write(tmp_path / "addon", {"rbac.yaml": textwrap.dedent(f"""\
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRole
        metadata: {{name: calico-{suffix}, namespace: kube-system}}
        rules:
          - {{apiGroups: [""], resources: [pods], verbs: [get]}}
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRoleBinding
        metadata: {{name: calico-{suffix}, namespace: kube-system}}
        roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: calico-{suffix}}}
        subjects:
          - {{kind: ServiceAccount, name: calico, namespace: kube-system}}
        """)})
    name = ("--name", f"addon-{suffix}")
    warning = "is cluster-scoped; metadata.namespace 'kube-system' is ignored"
    role = f"/apis/rbac.authorization.k8s.io/v1/clusterroles/calico-{suffix}"
    binding = f"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/calico-{suffix}"
    try:
        applied = kubesync("apply", src, *name, "-n", namespace, "--yes", kubeconfig=kubeconfig, code=0)
        assert (applied.stdout + applied.stderr).count(warning) == 2
        assert get(cluster, role)["rules"][0]["resources"] == ["pods"]
        assert get(cluster, binding)["roleRef"]["name"] == f"calico-{suffix}"
        for flags in (("-n", namespace), ("-n", "other"), ()):
            again = kubesync("plan", src, *name, *flags, "--exit-code", kubeconfig=kubeconfig)
            assert again.returncode == 0, f"{flags}: exit {again.returncode}\n{again.stdout}\n{again.stderr}"
            assert again.stdout.count(warning) == 2, again.stdout
        # a namespaced object that contradicts -n is still refused, beside them
        write(src, {"cm.yaml": configmap("x", {"k": "v"}, namespace="elsewhere")})
        refused = kubesync("plan", src, *name, "-n", namespace, kubeconfig=kubeconfig, code=1)
        assert "cm.yaml:1: v1 ConfigMap elsewhere/x: its namespace 'elsewhere' contradicts" in refused.stderr
        assert "ClusterRole" not in refused.stderr
    finally:
        for path in (binding, role):
            if get(cluster, path) is not None:
                cluster.request("DELETE", path)


def test_global_flags_before_the_subcommand_and_version(tmp_path, kubeconfig):
    src = write(tmp_path / "app", {"app.yaml": configmap("g", {"k": "v"})})
    kubesync("--kubeconfig", kubeconfig, "--color=never", "plan", "-f", src, "-o", "yaml", code=0)
    doc = yaml.safe_load(kubesync("--kubeconfig", kubeconfig, "plan", "-f", src, "-o", "yaml", code=0).stdout)
    assert doc["schema"] == "kubesync.io/plan/v1" and doc["summary"]["create"] == 1
    out = kubesync("version", "--kubeconfig", kubeconfig, code=0).stdout
    assert "Client Version: kubesync" in out and "Server Version: v1." in out and "Tested on Kubernetes: 1.37, 1.20" in out
